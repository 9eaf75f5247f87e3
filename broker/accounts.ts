import { createHash } from 'node:crypto';
import {
  deviceUsername,
  hashPassword,
  SERVICE_USERNAMES,
  type Secrets,
  type ServiceName,
  verifyPassword,
} from '../site/credentials.ts';
import type { SiteConfig } from '../site/site.ts';
import type { AccountRole } from './acl.ts';

/**
 * The broker's account table: one MQTT account per device of the site file and one per building service.
 * Only scrypt hashes are held; plaintext passwords from DATA_DIR/secrets.json are hashed at start.
 */
export interface Account {
  username: string;
  role: Exclude<AccountRole, { kind: 'anonymous' }>;
  /** `scrypt$N$r$p$salt$hash` — never logged. */
  passwordHash: string;
}

export class AccountTable {
  readonly #accounts: Map<string, Account>;
  /** username + sha256(password) of verifications that succeeded: a reconnect storm costs no scrypt. */
  readonly #verified = new Set<string>();

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
    if (!(await verifyPassword(plain, account.passwordHash))) return undefined;
    this.#verified.add(key);
    return account;
  }
}

/** Builds the account table from the site file and the secrets; the site file's pinned hashes win. */
export async function loadAccounts(site: SiteConfig, secrets: Secrets): Promise<AccountTable> {
  const pending: Promise<Account>[] = [];
  for (const device of site.devices) {
    const username = deviceUsername(device);
    const role = { kind: 'device', deviceId: device.id } as const;
    if (device.password_hash) {
      pending.push(Promise.resolve({ username, role, passwordHash: device.password_hash }));
      continue;
    }
    const password = secrets.devices[device.id];
    if (!password)
      throw new Error(
        `device "${device.id}" has neither a password_hash in the site file nor a password in secrets.json`,
      );
    pending.push(hashPassword(password).then((passwordHash) => ({ username, role, passwordHash })));
  }
  for (const service of Object.keys(SERVICE_USERNAMES) as ServiceName[]) {
    const password = secrets.services[service];
    if (!password) throw new Error(`secrets.json has no password for the ${service} service`);
    const username = SERVICE_USERNAMES[service];
    const role = { kind: 'service', service } as const;
    pending.push(hashPassword(password).then((passwordHash) => ({ username, role, passwordHash })));
  }
  return new AccountTable(await Promise.all(pending));
}
