import { randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { asNetwork, deviceKey, type SiteNetwork } from './network.ts';
import type { SiteConfig } from './site.ts';

/**
 * MQTT credentials of devices and of the building's own services. No default passwords: whatever the
 * site file does not pin with a hash is generated on first start and kept in DATA_DIR/secrets.json
 * (mode 0600), which the simulator and the services on the same machine (or sharing the volume) read.
 */

const scrypt = promisify(scryptCb) as (
  pw: string,
  salt: Buffer,
  len: number,
  opts: object,
) => Promise<Buffer>;
const N = 16384;
const R = 8;
const P = 1;
const KEYLEN = 32;

/** `n` is scrypt's cost (a power of two); members' passwords use a higher one than device accounts. */
export async function hashPassword(password: string, n: number = N): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scrypt(password, salt, KEYLEN, { N: n, r: R, p: P, maxmem: 256 * n * R });
  return `scrypt$${n}$${R}$${P}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const parts = encoded.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [, n, r, p, salt, hash] = parts as [string, string, string, string, string, string];
  const expected = Buffer.from(hash, 'base64');
  const actual = await scrypt(password, Buffer.from(salt, 'base64'), expected.length, {
    N: Number(n),
    r: Number(r),
    p: Number(p),
    maxmem: 256 * Number(n) * Number(r),
  });
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

export function generatePassword(): string {
  return randomBytes(18).toString('base64url');
}

export type ServiceName = 'gateway' | 'api';
export const SERVICE_USERNAMES: Record<ServiceName, string> = {
  gateway: 'wesprint-gateway',
  api: 'wesprint-api',
};

/** What DATA_DIR/secrets.json holds: plaintext, readable only by the owner. */
export interface Secrets {
  services: Record<ServiceName, string>;
  /**
   * Generated device passwords, by device id, or by `<site>/<device>` in a network (site/network.ts); devices
   * whose hash is pinned in the site file are absent.
   */
  devices: Record<string, string>;
}

export function secretsFile(dataDir: string): string {
  return path.join(dataDir, 'secrets.json');
}

/**
 * Reads DATA_DIR/secrets.json, adding passwords for services and devices that have none yet.
 * Written atomically with mode 0600.
 */
export function loadOrCreateSecrets(dataDir: string, sites: SiteConfig | SiteNetwork): Secrets {
  const network = asNetwork(sites);
  const file = secretsFile(dataDir);
  let secrets: Secrets = { services: { gateway: '', api: '' }, devices: {} };
  if (fs.existsSync(file)) secrets = JSON.parse(fs.readFileSync(file, 'utf8')) as Secrets;
  let changed = false;
  for (const name of Object.keys(SERVICE_USERNAMES) as ServiceName[]) {
    if (!secrets.services[name]) {
      secrets.services[name] = generatePassword();
      changed = true;
    }
  }
  for (const site of network.sites) {
    for (const device of site.devices) {
      const key = deviceKey(network, site.site.id, device.id);
      if (!device.password_hash && !secrets.devices[key]) {
        secrets.devices[key] = generatePassword();
        changed = true;
      }
    }
  }
  if (changed) {
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600 });
    fs.renameSync(tmp, file);
  }
  return secrets;
}

export function deviceUsername(device: SiteConfig['devices'][number]): string {
  return device.username ?? device.id;
}
