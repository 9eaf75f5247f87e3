import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { SERVICE_USERNAMES, type Secrets, type ServiceName, verifyPassword } from '../site/credentials.ts';
import { asNetwork, deviceAccountName, deviceKey, type SiteNetwork } from '../site/network.ts';
import type { SiteConfig } from '../site/site.ts';
import type { AccountRole } from './acl.ts';

/**
 * The broker's account table: one MQTT account per device of the site file and one per building service.
 * Only hashes are held, never plaintext.
 *
 * Hashes pinned in the site file are scrypt (an operator may choose a weak password, so guessing must be
 * slow). Passwords generated into DATA_DIR/secrets.json are 18 random bytes: no hash speed makes them
 * guessable, so they are held as salted SHA-256. Hashing them with scrypt at start was measured at 23 s for
 * the 160 accounts of the demo building on this 2-core machine, for no gain in security.
 */
export interface Account {
  username: string;
  role: Exclude<AccountRole, { kind: 'anonymous' }>;
  /** `scrypt$N$r$p$salt$hash` (site file) or `sha256$salt$hash` (generated secret) — never logged. */
  passwordHash: string;
}

/** Salted SHA-256 for generated, high-entropy passwords only (see above). */
export function hashGeneratedPassword(password: string): string {
  const salt = randomBytes(16);
  const hash = createHash('sha256').update(salt).update(password).digest();
  return `sha256$${salt.toString('base64')}$${hash.toString('base64')}`;
}

async function verifyAgainst(password: string, encoded: string): Promise<boolean> {
  if (!encoded.startsWith('sha256$')) return verifyPassword(password, encoded);
  const [, salt = '', hash = ''] = encoded.split('$');
  const expected = Buffer.from(hash, 'base64');
  const actual = createHash('sha256').update(Buffer.from(salt, 'base64')).update(password).digest();
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

export class AccountTable {
  readonly #accounts: Map<string, Account>;
  /** username + sha256(password) of verifications that succeeded: a reconnect storm costs no scrypt. */
  readonly #verified = new Set<string>();
  /** How many verifications needed a hash computation (the rest came from the cache). */
  hashChecks = 0;

  constructor(accounts: Iterable<Account>) {
    this.#accounts = new Map();
    for (const account of accounts) {
      if (this.#accounts.has(account.username))
        throw new Error(`MQTT user name "${account.username}" is used by two accounts`);
      this.#accounts.set(account.username, account);
    }
  }

  get size(): number {
    return this.#accounts.size;
  }

  get(username: string): Account | undefined {
    return this.#accounts.get(username);
  }

  usernames(): string[] {
    return [...this.#accounts.keys()];
  }

  /** The account when the password is right, else undefined. */
  async verify(username: string, password: string | Buffer): Promise<Account | undefined> {
    const account = this.#accounts.get(username);
    if (!account) return undefined;
    const key = `${username}\u0000${createHash('sha256').update(password).digest('base64')}`;
    if (this.#verified.has(key)) return account;
    const plain = typeof password === 'string' ? password : password.toString('utf8');
    this.hashChecks++;
    if (!(await verifyAgainst(plain, account.passwordHash))) return undefined;
    this.#verified.add(key);
    return account;
  }
}

/**
 * Builds the account table from the site file (or the network's site files) and the secrets; the site file's
 * pinned hashes win. In a network a device's account is `<site>/<device>` and its role names its site
 * (site/network.ts), so two sites' devices of one id are two accounts with two grants.
 */
export function loadAccounts(sites: SiteConfig | SiteNetwork, secrets: Secrets): AccountTable {
  const network = asNetwork(sites);
  const accounts: Account[] = [];
  for (const site of network.sites) {
    const siteId = site.site.id;
    for (const device of site.devices) {
      const username = deviceAccountName(network, siteId, device);
      const key = deviceKey(network, siteId, device.id);
      const role = network.qualified
        ? ({ kind: 'device', deviceId: device.id, siteId } as const)
        : ({ kind: 'device', deviceId: device.id } as const);
      if (device.password_hash) {
        if (!device.password_hash.startsWith('scrypt$'))
          throw new Error(`device "${key}": password_hash must be a scrypt hash (scrypt$N$r$p$salt$hash)`);
        accounts.push({ username, role, passwordHash: device.password_hash });
        continue;
      }
      const password = secrets.devices[key];
      if (!password)
        throw new Error(
          `device "${key}" has neither a password_hash in the site file nor a password in secrets.json`,
        );
      accounts.push({ username, role, passwordHash: hashGeneratedPassword(password) });
    }
  }
  for (const service of Object.keys(SERVICE_USERNAMES) as ServiceName[]) {
    const password = secrets.services[service];
    if (!password) throw new Error(`secrets.json has no password for the ${service} service`);
    const username = SERVICE_USERNAMES[service];
    const role = { kind: 'service', service } as const;
    accounts.push({ username, role, passwordHash: hashGeneratedPassword(password) });
  }
  return new AccountTable(accounts);
}
