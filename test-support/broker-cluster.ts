import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Test } from 'tap';
import { DEMO_SITE_FILE } from '../simulations/demo-site.ts';
import { loadOrCreateSecrets, SERVICE_USERNAMES } from '../site/credentials.ts';
import type { SiteConfig } from '../site/site.ts';
import { closedPort } from './ports.ts';
import { type TestRedis, testRedis } from './redis.ts';
import { startWesprint, type WesprintService } from './wesprint-process.ts';

/**
 * Two `wesprint broker` nodes of the demo building on this machine's Redis (a key prefix of the test's own)
 * and a `wesprint gateway` on node B, as real processes in temp dirs: what the cluster tests kill and count.
 * Undefined when Redis is not there (skipped loudly, a failure under CI=true).
 */
export interface BrokerCluster {
  redis: TestRedis;
  dirs: { a: string; b: string; gateway: string };
  ports: { a: number; b: number };
  /** A device's MQTT password (secrets.json, the same in every node's DATA_DIR). */
  password(device: SiteConfig['devices'][number]): string;
  /** The gateway's embedded store. */
  readings: string;
  /** Starts the node (again, on the same port and data dir), resolving once it listens. */
  startNode(which: 'a' | 'b'): Promise<WesprintService>;
  /**
   * Starts the gateway against node B, resolving once its intake subscribed. `movedDevicesInRedis: false`
   * leaves it without REDIS_URL: it keeps what the nodes forwarded in its memory.
   */
  startGateway(options?: { movedDevicesInRedis?: boolean }): Promise<WesprintService>;
  /** The gateway's heartbeat file (its intake's and journal's counts), {} while there is none. */
  beat(): {
    intake?: { received: number; duplicates: number; movedRepeats?: number };
    journal?: { committed: number; stored: number };
  };
}

export async function brokerCluster(t: Test, site: SiteConfig): Promise<BrokerCluster | undefined> {
  const redis = await testRedis(t);
  if (!redis) return undefined;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-cluster-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const dirs = {
    a: path.join(dir, 'node-a'),
    b: path.join(dir, 'node-b'),
    gateway: path.join(dir, 'gateway'),
  };
  for (const d of Object.values(dirs)) fs.mkdirSync(d, { recursive: true, mode: 0o700 });
  // One building's secrets in each node's DATA_DIR, as an operator copies secrets.json.
  const secrets = loadOrCreateSecrets(dirs.a, site);
  fs.copyFileSync(path.join(dirs.a, 'secrets.json'), path.join(dirs.b, 'secrets.json'));
  const ports = { a: await closedPort(), b: await closedPort() };
  const common = {
    SITE_FILE: DEMO_SITE_FILE,
    MQTT_HOST: '127.0.0.1',
    MQTT_WS_PORT: '0',
    INFLUX_URL: '',
    BACKFILL_DAYS: '0',
    LOG_LEVEL: 'info',
    LOG_FORMAT: 'json',
    REDIS_URL: redis.url,
    REDIS_KEY_PREFIX: redis.prefix,
  };
  return {
    redis,
    dirs,
    ports,
    password: (d) => secrets.devices[d.id] as string,
    readings: path.join(dirs.gateway, 'readings.db'),
    async startNode(which) {
      const node = startWesprint(t, ['broker'], {
        ...common,
        DATA_DIR: dirs[which],
        MQTT_PORT: String(ports[which]),
        MQTT_URL: '',
      });
      await node.waitFor(/MQTT broker listening/, 120_000);
      return node;
    },
    async startGateway(options = {}) {
      const gateway = startWesprint(t, ['gateway'], {
        ...common,
        ...(options.movedDevicesInRedis === false ? { REDIS_URL: '' } : {}),
        DATA_DIR: dirs.gateway,
        MQTT_URL: `mqtt://127.0.0.1:${ports.b}`,
        MQTT_USERNAME: SERVICE_USERNAMES.gateway,
        MQTT_PASSWORD: secrets.services.gateway,
      });
      await gateway.waitFor(/mqtt intake: subscribed/, 120_000);
      return gateway;
    },
    beat() {
      try {
        return JSON.parse(fs.readFileSync(path.join(dirs.gateway, 'gateway.heartbeat.json'), 'utf8'));
      } catch {
        return {};
      }
    },
  };
}
