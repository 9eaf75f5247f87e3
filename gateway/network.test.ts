import { randomUUID } from 'node:crypto';
import path from 'node:path';
import pino from 'pino';
import t, { type Test } from 'tap';
import { startBroker } from '../broker/broker.ts';
import { buildingTopics, type CommandResultMessage } from '../building/topics.ts';
import { loadProfiles } from '../device-profiles/registry.ts';
import { openJournal } from '../journal/segment-journal.ts';
import { loadOrCreateSecrets, SERVICE_USERNAMES } from '../site/credentials.ts';
import { SqliteStore } from '../storage/sqlite-store.ts';
import { connect, inbox, refusedCode, subscribe, tempDir } from '../test-support/broker.ts';
import { NORD, SUED, twoSites } from '../test-support/two-sites.ts';
import { deviceFilters, startGateway } from './gateway.ts';
import { Quarantine } from './quarantine.ts';

/**
 * Several sites in one installation, on real parts: the project's broker journaling into a real journal, one
 * gateway for both houses, a real SQLite store, MQTT.js clients for the devices. Nord and Süd each have a
 * `plug-1` and a `lock-1`: the same device ids, their own base topics, accounts `<site>/<device>`.
 */

const logger = pino({ level: 'silent' });
const nord = buildingTopics(NORD.site.id);
const sued = buildingTopics(SUED.site.id);
const [nordPlug, nordLock] = NORD.devices as [(typeof NORD.devices)[0], (typeof NORD.devices)[0]];
const [suedPlug, suedLock] = SUED.devices as [(typeof SUED.devices)[0], (typeof SUED.devices)[0]];

async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, ms = 15_000) {
  const until = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function network(t: Test) {
  const dataDir = tempDir(t);
  const sites = twoSites();
  const profiles = await loadProfiles();
  const secrets = loadOrCreateSecrets(dataDir, sites);
  const store = new SqliteStore({ file: path.join(dataDir, 'readings.db') });
  const journal = await openJournal(path.join(dataDir, 'journal'));
  const quarantine = new Quarantine(path.join(dataDir, 'gateway.db'));
  const broker = await startBroker({
    site: sites,
    secrets,
    profiles,
    dataDir,
    host: '127.0.0.1',
    port: 0,
    wsPort: null,
    allowAnonymous: false,
    logger,
    journal,
  });
  const url = `mqtt://127.0.0.1:${broker.port}`;
  const gateway = await startGateway({
    site: sites,
    profiles,
    mqttUrl: url,
    username: SERVICE_USERNAMES.gateway,
    password: secrets.services.gateway,
    journal,
    store,
    retained: () => broker.retained(deviceFilters(profiles)),
    publishReading: (topic, _reading, payload) => broker.publishOwn(topic, payload),
    quarantine,
    commandLogFile: path.join(dataDir, 'gateway.db'),
    commandTimeoutMs: 3000,
    logger,
  });
  t.teardown(async () => {
    await broker.close();
    await gateway.stop();
    await journal.close();
    await store.close();
    quarantine.close();
  });
  const password = (key: string) => secrets.devices[key] as string;
  const device = (key: string, clientId = key) =>
    connect(t, url, { username: key, password: password(key), clientId });
  const api = await connect(t, url, {
    username: SERVICE_USERNAMES.api,
    password: secrets.services.api,
    clientId: 'api',
  });
  return { url, broker, gateway, store, journal, quarantine, secrets, password, device, api };
}

t.test(
  'two houses with the same device ids: accounts, stored series and topics carry the site',
  async (t) => {
    const n = await network(t);
    t.ok(n.secrets.devices['nord/plug-1'], 'a password of its own for nord/plug-1');
    t.ok(n.secrets.devices['sued/plug-1'], 'and for sued/plug-1');
    t.not(n.secrets.devices['nord/plug-1'], n.secrets.devices['sued/plug-1']);
    t.equal(n.secrets.devices['plug-1'], undefined, 'no unqualified key in a network');

    // The device id alone is no account in a network, nor is one house's password the other's.
    t.equal(await refusedCode(n.url, { username: 'plug-1', password: n.password('nord/plug-1') }), 4);
    t.equal(await refusedCode(n.url, { username: 'nord/plug-1', password: n.password('sued/plug-1') }), 4);

    const republished = inbox(n.api);
    t.same(await subscribe(n.api, [nord.allReadings, sued.allReadings]), [0, 0]);
    t.same(await subscribe(n.api, 'wesprint/elsewhere/readings/#'), [128], 'the API account: its sites only');

    const a = await n.device('nord/plug-1');
    const b = await n.device('sued/plug-1');
    // Shelly Gen1 counts watt-minutes.
    await a.publishAsync(`${nordPlug.topic}/relay/0/energy`, '1200', { qos: 1 });
    await b.publishAsync(`${suedPlug.topic}/relay/0/energy`, '600', { qos: 1 });

    const stored = await waitFor('both houses stored', async () => {
      const rows = await n.store.latest({ device: 'plug-1', quantity: 'energy' });
      return rows.length === 2 ? rows : undefined;
    });
    const bySite = new Map(stored.map((r) => [r.site, r]));
    t.equal(bySite.get('nord')?.value, 1200 / 60 / 1000, "nord's plug-1 under nord");
    t.equal(bySite.get('sued')?.value, 600 / 60 / 1000, "sued's plug-1 under sued, not overwriting nord's");
    t.equal(bySite.get('nord')?.space, 'werkstatt');

    const nordOut = await republished.waitFor((m) => m.topic.startsWith(`${nord.base}/readings/`));
    const suedOut = await republished.waitFor((m) => m.topic.startsWith(`${sued.base}/readings/`));
    t.equal(nordOut.topic, nord.reading('werkstatt', 'plug-1', 'energy'));
    t.equal(JSON.parse(nordOut.payload).value, 1200 / 60 / 1000);
    t.equal(suedOut.topic, sued.reading('werkstatt', 'plug-1', 'energy'));
    t.equal(JSON.parse(suedOut.payload).value, 600 / 60 / 1000);
    t.same(n.quarantine.counts(), {}, 'nothing quarantined');

    // Süd's plug-1 sends what its firmware never would: kept with Süd, counted for Süd only.
    await b.publishAsync(`${suedPlug.topic}/relay/0/power`, 'not-a-number', { qos: 1 });
    await waitFor('quarantined', async () => (n.quarantine.counts().malformed === 1 ? true : undefined));
    t.same(n.quarantine.countsFor('sued'), { own: { malformed: 1 }, unattributed: {} }, "Süd's");
    t.same(
      n.quarantine.countsFor('nord'),
      { own: {}, unattributed: {} },
      "not Nord's, whose plug-1 is another",
    );
    t.match(n.quarantine.list({ site: 'sued' }), [
      { site: 'sued', device: 'sued/plug-1', reason: 'malformed' },
    ]);
    t.same(n.quarantine.list({ site: 'nord' }), [], "not in Nord's list");
  },
);

t.test("a device of one house can never touch the other house's topics", async (t) => {
  const n = await network(t);
  const a = await n.device('nord/plug-1');
  const aLock = await n.device('nord/lock-1');
  const refusedBefore = n.broker.stats().publishesRefused;

  // Speaking for Süd's plug (its vendor topic), and into Süd's building topics: refused, stored nowhere.
  await a.publishAsync(`${suedPlug.topic}/relay/0/energy`, '999999', { qos: 1 });
  await a.publishAsync(sued.reading('werkstatt', 'plug-1', 'energy'), '{"value":1}', { qos: 1 });
  await a.publishAsync(sued.command('lock-1'), '{}', { qos: 1 });
  // Nord's lock publishing Süd's lock state, or the unlock command Süd's lock listens to.
  await aLock.publishAsync(`${suedLock.topic}/state`, '3', { qos: 1 });
  await aLock.publishAsync(`${suedLock.topic}/lockAction`, '1', { qos: 1 });
  t.equal(n.broker.stats().publishesRefused - refusedBefore, 5, 'every one refused');
  t.same(
    await subscribe(aLock, `${suedLock.topic}/lockAction`),
    [128],
    "not even reading Süd's lock commands",
  );
  t.same(await subscribe(a, `${sued.base}/#`), [128]);

  // What Süd's plug says is stored under Süd; nothing Nord's plug tried arrived.
  const b = await n.device('sued/plug-1');
  await b.publishAsync(`${suedPlug.topic}/relay/0/energy`, '60', { qos: 1 });
  const row = await waitFor('süd stored', async () => {
    const rows = await n.store.latest({ device: 'plug-1', quantity: 'energy' });
    return rows.find((r) => r.site === 'sued');
  });
  t.equal(row.value, 60 / 60 / 1000);
  t.same(
    (await n.store.latest({ device: 'plug-1', quantity: 'energy' })).map((r) => r.site),
    ['sued'],
    'no reading of nord/plug-1 came from its attempts',
  );
  t.equal(n.journal.committed(), 1, "only Süd's own message reached the journal");
});

t.test(
  "a command to one house's lock reaches that lock only, and its result that house's topic",
  async (t) => {
    const n = await network(t);
    const locks = { nord: await n.device('nord/lock-1'), sued: await n.device('sued/lock-1') };
    const heard = { nord: inbox(locks.nord), sued: inbox(locks.sued) };
    await subscribe(locks.nord, `${nordLock.topic}/lockAction`, 1);
    await subscribe(locks.sued, `${suedLock.topic}/lockAction`, 1);
    // Online: each says so (Nuki: `connected` true) and reports its state (1 locked).
    for (const [lock, topic] of [
      [locks.nord, nordLock.topic],
      [locks.sued, suedLock.topic],
    ] as const) {
      await lock.publishAsync(`${topic}/connected`, 'true', { qos: 1, retain: true });
      await lock.publishAsync(`${topic}/state`, '1', { qos: 1 });
    }
    await waitFor('both locks heard', () => (n.gateway.stats().received >= 4 ? true : undefined));

    const results = inbox(n.api);
    await subscribe(n.api, [nord.allCommandResults, sued.allCommandResults], 1);
    const id = randomUUID();
    await n.api.publishAsync(
      sued.command('lock-1'),
      JSON.stringify({ id, action: 'unlock', expiresAt: Date.now() + 10_000 }),
      { qos: 1 },
    );
    const action = await heard.sued.waitFor((m) => m.topic === `${suedLock.topic}/lockAction`);
    t.equal(action.payload, '1', 'Süd lock-1 told to unlock');
    await locks.sued.publishAsync(`${suedLock.topic}/commandResponse`, '0', { qos: 1 });
    const result = await results.waitFor((m) => m.topic.endsWith('/result'));
    t.equal(result.topic, sued.commandResult('lock-1'), "on Süd's topic");
    t.match(JSON.parse(result.payload) as CommandResultMessage, { id, outcome: 'done' });
    t.same(
      heard.nord.messages.filter((m) => m.topic.endsWith('/lockAction')),
      [],
      "Nord's lock-1, same id, heard no command",
    );
  },
);
