import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import pino from 'pino';
import type { Test } from 'tap';
import { type BrokerOptions, type RunningBroker, startBroker } from '../broker/broker.ts';
import type { DeviceProfile } from '../device-profiles/profile.ts';
import { decodeForwardedEntry, JOURNAL_FEED_TOPIC } from '../journal/forwarded-entry.ts';
import type { Secrets } from '../site/credentials.ts';
import type { SiteConfig } from '../site/site.ts';

/**
 * A small building for the broker's tests: one Nuki lock, two Zigbee2MQTT desk sensors (one with its hash
 * pinned in the site file). The profiles are minimal stand-ins with the real families' topic layout, so the
 * broker's tests do not depend on the profile registry.
 */

function stubProfile(id: string, acl: DeviceProfile['acl'], subscriptions: string[]): DeviceProfile {
  return {
    id,
    vendor: 'test',
    description: `${id} (broker test stand-in)`,
    sources: [],
    quantities: [],
    reportingIntervalS: 60,
    subscriptions,
    match: () => undefined,
    decode: () => ({ readings: [] }),
    acl,
  };
}

export const testProfiles = new Map<string, DeviceProfile>([
  [
    'nuki-mqtt',
    stubProfile(
      'nuki-mqtt',
      (t) => ({
        publish: [`${t}/state`, `${t}/connected`, `${t}/commandResponse`, `${t}/batteryCritical`],
        subscribe: [`${t}/lockAction`],
      }),
      ['nuki/+/state', 'nuki/+/connected', 'nuki/+/commandResponse', 'nuki/+/batteryCritical'],
    ),
  ],
  [
    'zigbee2mqtt-occupancy',
    stubProfile(
      'zigbee2mqtt-occupancy',
      (t) => ({ publish: [t, `${t}/availability`], subscribe: [`${t}/set`] }),
      ['zigbee2mqtt/+', 'zigbee2mqtt/+/availability'],
    ),
  ],
]);

/** Password of desk-2, whose scrypt hash tests pin in the site file as an operator would. */
export const DESK2_PASSWORD = 'desk-2-password';

export function testSite(desk2Hash: string): SiteConfig {
  return {
    site: { id: 'kaufhaus', name: 'Kaufhaus (test)', timezone: 'Europe/Berlin' },
    floors: [{ id: 'eg', name: 'Erdgeschoss', level: 0, area_m2: 1000 }],
    spaces: [
      { id: 'protel-101', name: 'Protel 101', floor: 'eg', kind: 'protel', area_m2: 20, lock: 'lock-101' },
      { id: 'desk-1', name: 'Desk 1', floor: 'eg', kind: 'desk', area_m2: 4 },
      { id: 'desk-2', name: 'Desk 2', floor: 'eg', kind: 'desk', area_m2: 4 },
    ],
    devices: [
      { id: 'lock-101', profile: 'nuki-mqtt', topic: 'nuki/3A4B5C6D', space: 'protel-101' },
      {
        id: 'desk-1-occupancy',
        profile: 'zigbee2mqtt-occupancy',
        topic: 'zigbee2mqtt/desk-1',
        space: 'desk-1',
      },
      {
        id: 'desk-2-occupancy',
        profile: 'zigbee2mqtt-occupancy',
        topic: 'zigbee2mqtt/desk-2',
        space: 'desk-2',
        username: 'sensor-desk-2',
        password_hash: desk2Hash,
      },
    ],
  };
}

export const testSecrets: Secrets = {
  services: { gateway: 'gateway-secret', api: 'api-secret' },
  devices: { 'lock-101': 'lock-secret', 'desk-1-occupancy': 'desk-1-secret' },
};

export function tempDir(t: Test): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-broker-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Starts a broker on ephemeral loopback ports, stopped at the end of the test. */
export async function startTestBroker(
  t: Test,
  overrides: Partial<BrokerOptions> & { desk2Hash?: string } = {},
): Promise<RunningBroker> {
  const { desk2Hash = 'scrypt$16384$8$1$AAAA$AAAA', ...rest } = overrides;
  const broker = await startBroker({
    site: testSite(desk2Hash),
    secrets: testSecrets,
    profiles: testProfiles,
    dataDir: rest.dataDir ?? tempDir(t),
    host: '127.0.0.1',
    port: 0,
    wsPort: null,
    allowAnonymous: false,
    logger: pino({ level: process.env.LOG_LEVEL ?? 'silent' }),
    ...rest,
  });
  t.teardown(() => broker.close());
  return broker;
}

/** Reads the broker's audit log as parsed JSON lines. */
export function readAudit(dataDir: string): Array<Record<string, unknown>> {
  const file = path.join(dataDir, 'broker-audit.log');
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

// MQTT.js helpers for the broker's tests

export async function connect(t: Test, url: string, opts: IClientOptions = {}): Promise<MqttClient> {
  const client = await mqtt.connectAsync(url, {
    reconnectPeriod: 0,
    connectTimeout: 30_000,
    protocolVersion: 4,
    ...opts,
  });
  t.teardown(() => client.endAsync(true));
  return client;
}

/** Resolves with the CONNACK return code of a refused connection. */
export async function refusedCode(url: string, opts: IClientOptions = {}): Promise<number> {
  try {
    const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, protocolVersion: 4, ...opts });
    await client.endAsync(true);
  } catch (err) {
    return (err as { code: number }).code;
  }
  throw new Error('connection was accepted');
}

/** Granted QoS per filter; mqtt.js rejects a SUBACK 0x80, the granted codes travel on its error. */
export async function subscribe(
  client: MqttClient,
  filter: string | string[],
  qos: 0 | 1 | 2 = 0,
): Promise<number[]> {
  try {
    return (await client.subscribeAsync(filter, { qos })).map((g) => g.qos);
  } catch (err) {
    const granted = (err as { packet?: { granted?: number[] } }).packet?.granted;
    if (!granted) throw err;
    return granted;
  }
}

export interface Received {
  topic: string;
  payload: string;
  qos: number;
  retain: boolean;
}

/**
 * Messages a client receives, in order, and a way to wait for the one that matters. A device message a
 * `wesprint broker` forwarded from its journal (journal/forwarded-entry.ts: the gateway's account reads them
 * there) is listed as the device sent it.
 */
export function inbox(client: MqttClient) {
  const messages: Received[] = [];
  const waiters: Array<() => void> = [];
  client.on('message', (topic, payload, packet) => {
    const forwarded = topic === JOURNAL_FEED_TOPIC ? decodeForwardedEntry(payload) : undefined;
    if (forwarded && !('error' in forwarded))
      messages.push({
        topic: forwarded.topic,
        payload: forwarded.payload.toString(),
        qos: packet.qos,
        retain: forwarded.retainedReplay,
      });
    else messages.push({ topic, payload: payload.toString(), qos: packet.qos, retain: packet.retain });
    for (const w of waiters.splice(0)) w();
  });
  const waitFor = (predicate: (m: Received) => boolean) =>
    new Promise<Received>((resolve) => {
      const check = () => {
        const found = messages.find(predicate);
        if (found) resolve(found);
        else waiters.push(check);
      };
      check();
    });
  return { messages, waitFor };
}
