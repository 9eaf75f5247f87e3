import t, { type Test } from 'tap';
import { DEMO_SITE_FILE } from '../simulations/demo-site.ts';
import { loadSite } from '../site/load.ts';
import { type BrokerCluster, brokerCluster } from '../test-support/broker-cluster.ts';
import { movingDevice } from '../test-support/moving-device.ts';
import { rawDeviceConnection } from '../test-support/raw-mqtt-device.ts';
import { countStored, storedPower, until } from '../test-support/stored-readings.ts';
import { killWesprint } from '../test-support/wesprint-process.ts';

/**
 * Faults in a broker cluster (issue 10): two `wesprint broker` nodes on this machine's Redis and the real
 * `wesprint gateway` (on node B, with REDIS_URL: it keeps what the nodes forwarded of each device in Redis,
 * gateway/moved-device-repeats.ts), parts killed with SIGKILL mid-stream. What is counted is the store: every
 * message a device got a PUBACK for is there exactly once, and nothing is there twice (a device's DUP
 * retransmission is the same message). No durations are judged; every wait is for a condition.
 */

t.setTimeout(10 * 60_000);

const site = loadSite(DEMO_SITE_FILE);
const plugs = site.devices.filter((d) => d.profile === 'shelly-gen1');

type Cluster = BrokerCluster;

const cluster = (t: Test) => brokerCluster(t, site);

/** Waits until the store has every one of `values` and has caught up with the gateway's journal. */
async function storedAll(c: Cluster, values: Iterable<number>): Promise<void> {
  const wanted = [...values];
  await until(`${wanted.length} messages stored`, () => {
    const stored = new Set(storedPower(c.readings).map((r) => r.num));
    return wanted.every((v) => stored.has(v));
  });
  await until('the store at the end of the journal', () => {
    const j = c.beat().journal;
    return j !== undefined && j.stored === j.committed;
  });
}

t.test(
  "a device's node killed mid-stream: the device (MQTT.js) moves to the other node and resends with DUP; every acknowledged message stored once",
  async (t) => {
    const c = await cluster(t);
    if (!c) return;
    const a = await c.startNode('a');
    const b = await c.startNode('b');
    const gateway = await c.startGateway();

    const plug = plugs[0] as (typeof plugs)[number];
    // On A first; when its connection is lost, to B.
    const device = await movingDevice([c.ports.a, c.ports.b], 'moving-plug', plug, c.password(plug));
    t.teardown(() => device.close());
    const values = Array.from({ length: 600 }, (_, k) => k + 1);
    const streaming = device.publishAll(values, 100);
    await until('a third of the messages acknowledged by A', () => device.acknowledged.size >= 200);
    await killWesprint(a);
    await streaming;
    await until('every message acknowledged (after the move, by B)', () => device.acknowledged.size === 600);
    t.ok(device.connections() >= 2, `the device moved to B (${device.connections()} connections)`);
    await until("the gateway's heartbeat counting every message", () => {
      return (c.beat().intake?.received ?? 0) >= values.length;
    });
    t.comment(
      `sent again with DUP after the move: ${device.resent()}; recognised by the gateway as a moved device's repeat: ${c.beat().intake?.movedRepeats ?? '?'}`,
    );

    await storedAll(c, device.acknowledged);
    const counted = countStored(storedPower(c.readings), values);
    t.same(counted.missing, [], 'every acknowledged message stored');
    t.same(counted.twice, [], 'none stored twice');
    t.equal(counted.rows, values.length, 'one row per message');

    await device.close();
    t.equal((await gateway.stop('SIGTERM')).code, 0, 'the gateway stops cleanly');
    t.equal((await b.stop('SIGTERM')).code, 0, 'node B stops cleanly');
  },
);

t.test(
  'the gateway killed while the cluster runs: a device streaming on B loses nothing; a device moved while the gateway was dead is recognised from Redis',
  async (t) => {
    const c = await cluster(t);
    if (!c) return;
    const a = await c.startNode('a');
    const b = await c.startNode('b');
    let gateway = await c.startGateway();

    // A device on A sends 40 messages and reads no PUBACK; the gateway takes all of them (forwarded by A).
    const moved = plugs[1] as (typeof plugs)[number];
    const PER_DEVICE = 40;
    const movedValues = Array.from({ length: PER_DEVICE }, (_, k) => 10_000 + k);
    const onA = await rawDeviceConnection(c.ports.a, 'moved-plug', moved, c.password(moved));
    await onA.publishAll(movedValues, false);
    // And a device on B streaming with MQTT.js all along.
    const plug = plugs[0] as (typeof plugs)[number];
    const streamer = await movingDevice([c.ports.b], 'streaming-plug', plug, c.password(plug));
    t.teardown(() => streamer.close());
    const values = Array.from({ length: 600 }, (_, k) => k + 1);
    const streaming = streamer.publishAll(values, 100);
    await storedAll(c, movedValues);

    // The gateway dies mid-stream, with everything it remembered in its memory.
    await until('a third of the stream acknowledged', () => streamer.acknowledged.size >= 200);
    await killWesprint(gateway);
    t.ok(streamer.acknowledged.size < values.length, 'killed mid-stream');
    // While it is dead, A dies too before any PUBACK reached the device, which moves to B and resends (DUP).
    await killWesprint(a);
    onA.close();
    const onB = await rawDeviceConnection(c.ports.b, 'moved-plug', moved, c.password(moved));
    await onB.publishAll(movedValues, true);
    await until('the resent messages acknowledged by B', () => onB.acked.size === PER_DEVICE);

    // The gateway back: B's copies wait in its session; the stream goes on.
    gateway = await c.startGateway();
    await streaming;
    await until('every streamed message acknowledged', () => streamer.acknowledged.size === values.length);
    await storedAll(c, [...values, ...movedValues]);
    // B's copies decided, recognised or (were they not) stored a second time.
    await until("B's copies taken by the gateway", () => {
      const again = countStored(storedPower(c.readings), movedValues).twice.length;
      return (c.beat().intake?.movedRepeats ?? 0) + again >= PER_DEVICE;
    });
    t.comment(`the intake's counts after the restart: ${JSON.stringify(c.beat().intake)}`);

    const counted = countStored(storedPower(c.readings), [...values, ...movedValues]);
    t.same(counted.missing, [], 'every acknowledged message stored');
    t.same(
      counted.twice,
      [],
      "none stored twice: B's copies recognised by what the dead gateway left in Redis",
    );
    t.equal(counted.rows, values.length + movedValues.length, 'one row per message');
    t.equal(
      c.beat().intake?.movedRepeats,
      PER_DEVICE,
      "each of B's copies recognised as a moved device's repeat",
    );
    const kept = (await c.redis.keys()).filter((k) => k.includes('moved-device:'));
    t.ok(kept.length > 0, 'the gateway keeps the moved devices in Redis');
    t.equal(
      await c.redis.conn.pttl(kept[0] as string),
      -1,
      "by count per device, not by time: a device's record has no expiry",
    );

    onB.close();
    await streamer.close();
    t.equal((await gateway.stop('SIGTERM')).code, 0, 'the gateway stops cleanly');
    t.equal((await b.stop('SIGTERM')).code, 0, 'node B stops cleanly');
  },
);
