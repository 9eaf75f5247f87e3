import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import t, { type Test } from 'tap';
import { JOURNAL_FEED_TOPIC } from '../journal/forwarded-entry.ts';
import { generatePassword, SERVICE_USERNAMES, type Secrets } from '../site/credentials.ts';
import { connect, inbox, refusedCode, subscribe } from '../test-support/broker.ts';
import { testRedis } from '../test-support/redis.ts';
import { startWesprint, type WesprintService } from '../test-support/wesprint-process.ts';

/**
 * Two `wesprint broker` nodes serving one building through Redis (issue 10, "when one broker is not
 * enough"): separate processes, each with its own DATA_DIR and MQTT port, the same site file, secrets and
 * REDIS_URL (a key prefix of this run's own). A device on node A reaches the gateway's persistent session on
 * node B; A is killed with SIGKILL while the device publishes and the device goes on through B; retained
 * status and the ACLs hold on both nodes.
 */

t.setTimeout(10 * 60_000);

const SITE = {
  site: { id: 'werkhof', name: 'Werkhof' },
  floors: [{ id: 'eg', name: 'Erdgeschoss', level: 0, area_m2: 100 }],
  spaces: [{ id: 'halle', name: 'Halle', floor: 'eg', kind: 'cafe', area_m2: 100 }],
  devices: [
    { id: 'co2-halle', profile: 'zigbee2mqtt-air-quality', topic: 'zigbee2mqtt/co2-halle', space: 'halle' },
    { id: 'co2-buero', profile: 'zigbee2mqtt-air-quality', topic: 'zigbee2mqtt/co2-buero', space: 'halle' },
    { id: 'plug-halle', profile: 'shelly-gen2', topic: 'shellyplus1pm-a8032ab12345', space: 'halle' },
  ],
};
const HALLE = 'zigbee2mqtt/co2-halle';
const BUERO = 'zigbee2mqtt/co2-buero';
const STATUS = `${HALLE}/availability`;
const GATEWAY_CLIENT_ID = 'wesprint-gateway-1';
const DEVICE_CLIENT_ID = 'co2-halle';

interface Node {
  service: WesprintService;
  url: string;
  port: number;
}

async function startNode(t: Test, env: Record<string, string>): Promise<Node> {
  const service = startWesprint(t, ['broker'], env);
  const [, port] = await service.waitFor(/MQTT broker\s+mqtt:\/\/127\.0\.0\.1:(\d+)/, 120_000);
  return { service, url: `mqtt://127.0.0.1:${port}`, port: Number(port) };
}

/** Until `done()` holds, looked at on every message the client receives; rejects after `ms` (a hang guard). */
function until(client: MqttClient, done: () => boolean, what: () => string, ms = 120_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (!done()) return;
      clearTimeout(timer);
      client.off('message', check);
      resolve();
    };
    const timer = setTimeout(() => {
      client.off('message', check);
      reject(new Error(`gave up waiting: ${what()}`));
    }, ms);
    client.on('message', check);
    check();
  });
}

t.test('two broker nodes share one building through Redis', async (t) => {
  const redis = await testRedis(t);
  if (!redis) return;

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-cluster-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const siteFile = path.join(dir, 'werkhof.site.json');
  fs.writeFileSync(siteFile, JSON.stringify(SITE));
  // One set of secrets for the building, in each node's DATA_DIR (as an operator copies secrets.json).
  const secrets: Secrets = {
    services: { gateway: generatePassword(), api: generatePassword() },
    devices: {
      'co2-halle': generatePassword(),
      'co2-buero': generatePassword(),
      'plug-halle': generatePassword(),
    },
  };
  const nodeEnv = (name: string) => {
    const dataDir = path.join(dir, name);
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    fs.writeFileSync(path.join(dataDir, 'secrets.json'), JSON.stringify(secrets), { mode: 0o600 });
    return {
      DATA_DIR: dataDir,
      SITE_FILE: siteFile,
      MQTT_HOST: '127.0.0.1',
      MQTT_PORT: '0',
      MQTT_WS_PORT: '0',
      LOG_LEVEL: 'info',
      LOG_FORMAT: 'json',
      BACKFILL_DAYS: '0',
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: redis.prefix,
      // Lab mode, for the watchers below: the gateway's account reads device messages from the feed only.
      BROKER_ALLOW_ANONYMOUS: 'true',
    };
  };
  const [a, b] = await Promise.all([startNode(t, nodeEnv('node-a')), startNode(t, nodeEnv('node-b'))]);
  const gateway = { username: SERVICE_USERNAMES.gateway, password: secrets.services.gateway };
  const halle = { username: 'co2-halle', password: secrets.devices['co2-halle'] as string };
  const buero = { username: 'co2-buero', password: secrets.devices['co2-buero'] as string };

  // A wrong password is refused on both nodes (CONNACK 4), a right one accepted.
  for (const node of [a, b]) {
    t.equal(
      await refusedCode(node.url, { ...halle, password: 'wrong' }),
      4,
      `wrong password refused (${node.url})`,
    );
  }

  // The gateway's service account: a persistent session on node B, QoS 1, on the nodes' journal feed (each
  // node forwards the device messages it journaled there, broker/journal-feed.ts; inbox unwraps them).
  const gw = await connect(t, b.url, { ...gateway, clientId: GATEWAY_CLIENT_ID, clean: false });
  t.same(
    await subscribe(gw, 'zigbee2mqtt/#', 1),
    [0x80],
    "the gateway's account reads devices on the feed only",
  );
  // As the gateway does: several filters in one SUBSCRIBE.
  const granted = await Promise.race([
    subscribe(gw, [JOURNAL_FEED_TOPIC, 'wesprint/werkhof/#'], 1),
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error('no SUBACK for two filters')), 60_000).unref(),
    ),
  ]);
  t.same(granted, [1, 1], 'the gateway subscribes on node B, two filters in one SUBSCRIBE');
  const got = inbox(gw);

  // The device, on node A first; node B is its second server (MQTT.js moves on to it when A is gone). As a
  // Zigbee2MQTT bridge does, it leaves a retained "offline" as its will and says "online" on every connect.
  const device = mqtt.connect({
    servers: [
      { host: '127.0.0.1', port: a.port },
      { host: '127.0.0.1', port: b.port },
    ],
    protocolVersion: 4,
    ...halle,
    clientId: DEVICE_CLIENT_ID,
    clean: true,
    reconnectPeriod: 200,
    connectTimeout: 30_000,
    will: { topic: STATUS, payload: Buffer.from('offline'), qos: 1, retain: true },
  });
  t.teardown(() => device.endAsync(true));
  let connects = 0;
  device.on('connect', () => {
    connects++;
    device.publish(STATUS, 'online', { qos: 1, retain: true });
  });
  await new Promise<void>((resolve, reject) => {
    device.once('connect', () => resolve());
    device.once('error', reject);
  });

  await t.test('a device on node A reaches the gateway on node B', async (t) => {
    await device.publishAsync(HALLE, JSON.stringify({ seq: -1, co2: 420 }), { qos: 1 });
    await until(
      gw,
      () => got.messages.some((m) => m.topic === HALLE),
      () => 'the first reading',
    );
    t.pass('received on B');
  });

  await t.test(
    'a filter that starts with a wildcard (Shelly Gen2: +/online) matches across nodes',
    async (t) => {
      const watcher = await connect(t, b.url, { clientId: 'online-watch', clean: true });
      const box = inbox(watcher);
      t.same(await subscribe(watcher, '+/online', 1), [1]);
      const plug = await connect(t, a.url, {
        username: 'plug-halle',
        password: secrets.devices['plug-halle'] as string,
        clientId: 'shellyplus1pm-a8032ab12345',
      });
      await plug.publishAsync('shellyplus1pm-a8032ab12345/online', 'true', { qos: 1, retain: true });
      const topic = 'shellyplus1pm-a8032ab12345/online';
      await until(
        watcher,
        () => box.messages.some((m) => m.topic === topic),
        () => `a message on ${topic}`,
        60_000,
      );
      t.same(
        box.messages.map((m) => [m.topic, m.payload]),
        [[topic, 'true']],
      );
    },
  );

  await t.test('a retained status published through A is seen by a new subscriber on B', async (t) => {
    const fresh = await connect(t, b.url, { clientId: 'retained-check-1', clean: true });
    const box = inbox(fresh);
    await subscribe(fresh, STATUS, 1);
    const status = await box.waitFor((m) => m.topic === STATUS);
    t.same([status.payload, status.retain], ['online', true]);
  });

  await t.test('ACLs hold on both nodes: a device cannot publish on another device topic', async (t) => {
    // On A: the halle device on the buero topic; on B: the buero device on the halle topic. Each is followed
    // by a message the device may send: routing keeps a node's messages in order, so once the marker
    // arrived, a forged message would have arrived before it.
    await device.publishAsync(BUERO, 'forged-on-a', { qos: 1 });
    await device.publishAsync(HALLE, 'marker-a', { qos: 1 });
    const other = await connect(t, b.url, { ...buero, clientId: 'co2-buero' });
    await other.publishAsync(HALLE, 'forged-on-b', { qos: 1 });
    await other.publishAsync(BUERO, 'marker-b', { qos: 1 });
    await until(
      gw,
      () => ['marker-a', 'marker-b'].every((p) => got.messages.some((m) => m.payload === p)),
      () => 'both markers',
    );
    t.same(
      got.messages.filter((m) => m.payload.startsWith('forged')),
      [],
      'no forged message reached the gateway',
    );
    t.same(await subscribe(other, 'zigbee2mqtt/#', 1), [0x80], 'a device may not read everything (on B)');
  });

  await t.test(
    'node A killed with SIGKILL mid-stream: every acknowledged message reaches the gateway',
    async (t) => {
      const total = 3000;
      const window = 100;
      const killAt = 1000;
      const acked = new Set<number>();
      let sent = 0;
      let killed = false;
      const statusBeforeKill = got.messages.filter((m) => m.topic === STATUS).length;
      const connectsBeforeKill = connects;
      await new Promise<void>((resolve, reject) => {
        const guard = setTimeout(
          () => reject(new Error(`only ${acked.size} of ${total} acknowledged`)),
          300_000,
        );
        const next = () => {
          while (sent < total && sent - acked.size < window) {
            const seq = sent++;
            device.publish(HALLE, JSON.stringify({ seq, co2: 400 + (seq % 600) }), { qos: 1 }, (err) => {
              if (err) return;
              acked.add(seq);
              if (!killed && acked.size >= killAt) {
                killed = true;
                a.service.child.kill('SIGKILL');
              }
              if (acked.size === total) {
                clearTimeout(guard);
                resolve();
              } else next();
            });
          }
        };
        next();
      });
      t.ok(killed, 'node A was killed while the device published');
      t.ok(connects > connectsBeforeKill, 'the device reconnected (to node B)');

      const seqs = () => got.messages.filter((m) => m.topic === HALLE && m.payload.startsWith('{'));
      const received = () => new Set(seqs().map((m) => (JSON.parse(m.payload) as { seq: number }).seq));
      await until(
        gw,
        () => [...acked].every((s) => received().has(s)),
        () => `${[...acked].filter((s) => !received().has(s)).length} acknowledged messages missing`,
      );
      const counts = new Map<number, number>();
      for (const m of seqs()) {
        const { seq } = JSON.parse(m.payload) as { seq: number };
        if (seq >= 0) counts.set(seq, (counts.get(seq) ?? 0) + 1);
      }
      const missing = [...acked].filter((s) => !counts.has(s));
      const duplicates = [...counts.values()].reduce((n, c) => n + c - 1, 0);
      t.comment(`acknowledged ${acked.size}, received ${counts.size} distinct, ${duplicates} duplicates`);
      t.same(missing, [], 'every acknowledged message reached the gateway');
      // Only a message the device sent again can come twice: one of those in flight when A died.
      t.ok(
        duplicates <= window,
        `duplicates (${duplicates}) at most the ${window} messages in flight at the kill`,
      );

      // The device's will, left on node A, published once as it came back (before its own "online"), and no
      // will of it left in Redis for a surviving node to publish later, after its "online".
      const statuses = got.messages
        .filter((m) => m.topic === STATUS)
        .slice(statusBeforeKill)
        .map((m) => m.payload);
      t.same(statuses.slice(-2), ['offline', 'online'], 'the will of A, then the device on B');
      t.equal(statuses.filter((s) => s === 'offline').length, 1, 'the will was published once');
      const wills = (await redis.conn.lrange(`${redis.prefix}will`, 0, -1)).filter((k) =>
        k.endsWith(`:${DEVICE_CLIENT_ID}`),
      );
      t.equal(wills.length, 1, 'one will of the device in Redis: the one of its connection to B');

      const fresh = await connect(t, b.url, { clientId: 'retained-check-2', clean: true });
      const box = inbox(fresh);
      await subscribe(fresh, STATUS, 1);
      t.equal(
        (await box.waitFor((m) => m.topic === STATUS)).payload,
        'online',
        'retained status on B: online',
      );
    },
  );

  await t.test("the gateway's queue is shared: offline on B, back on a restarted node A", async (t) => {
    await gw.endAsync();
    const queued = Array.from({ length: 200 }, (_, i) => `queued-${i}`);
    for (const payload of queued) await device.publishAsync(HALLE, payload, { qos: 1 });
    const a2 = await startNode(t, nodeEnv('node-a'));
    const back = await connect(t, a2.url, { ...gateway, clientId: GATEWAY_CLIENT_ID, clean: false });
    const box = inbox(back);
    await until(
      back,
      () => queued.every((p) => box.messages.some((m) => m.payload === p)),
      () => `${queued.filter((p) => !box.messages.some((m) => m.payload === p)).length} queued missing`,
    );
    const order = box.messages.filter((m) => m.payload.startsWith('queued-')).map((m) => m.payload);
    t.same(order, queued, 'all 200 queued in Redis while the gateway was away, in order, once each');
  });
});
