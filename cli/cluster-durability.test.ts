import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { DEMO_SITE_FILE } from '../simulations/demo-site.ts';
import { loadSite } from '../site/load.ts';
import { brokerCluster } from '../test-support/broker-cluster.ts';
import { rawDeviceConnection } from '../test-support/raw-mqtt-device.ts';
import { countStored, storedPower, until } from '../test-support/stored-readings.ts';
import { killWesprint, runWesprint } from '../test-support/wesprint-process.ts';

/**
 * Two `wesprint broker` nodes on this machine's Redis and a real `wesprint gateway` on node B (issue 10: a
 * device moved between broker nodes, nothing lost, nothing stored twice). The devices publish on node A; A
 * journals and forwards every message into the gateway's queue in Redis, and the gateway, on B, stores them.
 * A is then killed with SIGKILL before any of its PUBACKs reached the devices (the devices are raw MQTT
 * sockets: they read none). Each device reconnects, to B, and sends every message again with DUP set, as
 * MQTT has it [MQTT-4.4.0-1]: B's journal never saw them, so B journals and forwards them anew, under its own
 * origin and arrival time. Last, A comes back with its record of what it forwarded set back to nothing (a
 * crash right after forwarding, before that record was written) and forwards its whole journal again. Every
 * message must be stored exactly once: the gateway's intake recognises B's copies by the device's identity
 * (gateway/moved-device-repeats.ts) and A's second forwarding by its position.
 */

t.setTimeout(8 * 60_000);

const site = loadSite(DEMO_SITE_FILE);
const plugs = site.devices.filter((d) => d.profile === 'shelly-gen1').slice(0, 4);
const PER_DEVICE = 40;

t.test(
  'a device moved from a killed node to another: every message stored once, also when the dead node forwards its journal again',
  async (t) => {
    const c = await brokerCluster(t, site);
    if (!c) return;
    const { dirs } = c;
    const [portA, portB] = [c.ports.a, c.ports.b];
    let a = await c.startNode('a');
    const b = await c.startNode('b');
    // Without REDIS_URL: the gateway's memory of what the nodes forwarded (cli/cluster-faults.test.ts: in Redis).
    const gateway = await c.startGateway({ movedDevicesInRedis: false });
    t.match(gateway.output(), /journal feed/, "the gateway on B reads the nodes' journal feed");

    const { readings } = c;
    const values = plugs.map((_, d) => Array.from({ length: PER_DEVICE }, (_, k) => d * 1000 + k + 1));
    const all = values.flat();
    const password = c.password;

    // On node A: every message sent, no PUBACK read; the gateway on B stores them (through Redis).
    const onA = await Promise.all(
      plugs.map((d, i) => rawDeviceConnection(portA, `move-${i}`, d, password(d))),
    );
    await Promise.all(onA.map((c, d) => c.publishAll(values[d] as number[], false)));
    await until(
      'every message sent on A stored by the gateway on B',
      () => storedPower(readings).length >= all.length,
    );
    t.pass('a device on node A reaches the gateway on node B');

    // A dies; the devices, which never saw a PUBACK, move to B and send everything again (DUP).
    await killWesprint(a);
    for (const c of onA) c.close();
    const onB = await Promise.all(
      plugs.map((d, i) => rawDeviceConnection(portB, `move-${i}`, d, password(d))),
    );
    await Promise.all(onB.map((c, d) => c.publishAll(values[d] as number[], true)));
    await until('the resent messages acknowledged by B', () => onB.every((c) => c.acked.size === PER_DEVICE));
    t.pass('node B acknowledges every resent message');

    // New messages on B, then A back with its forwarding record set back: its whole journal forwarded again.
    const later = plugs.map((_, d) => Array.from({ length: 10 }, (_, k) => d * 1000 + 500 + k));
    await Promise.all(onB.map((c, d) => c.publishAll(later[d] as number[], false)));
    await until('the later messages stored', () => {
      const stored = new Set(storedPower(readings).map((r) => r.num));
      return later.flat().every((v) => stored.has(v));
    });
    fs.writeFileSync(path.join(dirs.a, 'broker-journal', 'cursors.json'), JSON.stringify({ feed: 0 }));
    a = await c.startNode('a');
    // By the gateway's heartbeat (its intake's counts): B's copies and A's second forwarding recognised.
    const beat = c.beat;
    // Every delivery in: A's, B's copies, the later ones, A's journal again (by the intake's count).
    const deliveries = 3 * all.length + later.flat().length;
    await until(`the gateway's intake to have received ${deliveries} messages`, () => {
      return (beat().intake?.received ?? 0) >= deliveries;
    });
    await until('the store at the end of the journal', () => {
      const j = beat().journal;
      return j !== undefined && j.stored === j.committed;
    });
    for (const c of onB) c.close();

    const counted = countStored(storedPower(readings), [...all, ...later.flat()]);
    t.same(counted.missing, [], 'no message lost');
    t.same(counted.twice, [], 'no message stored twice');
    t.equal(counted.rows, all.length + later.flat().length, 'one row per message');
    t.equal(beat().intake?.duplicates, 2 * all.length, "B's copies and A's second forwarding recognised");

    const health = await runWesprint(['healthcheck', 'gateway'], { DATA_DIR: dirs.gateway });
    t.equal(health.code, 0, `the gateway is healthy by its heartbeat: ${health.stderr}`);

    t.equal((await gateway.stop('SIGTERM')).code, 0, 'the gateway stops cleanly');
    t.equal((await a.stop('SIGTERM')).code, 0, 'node A stops cleanly');
    t.equal((await b.stop('SIGTERM')).code, 0, 'node B stops cleanly');
  },
);
