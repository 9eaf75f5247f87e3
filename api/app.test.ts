import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { InjectOptions } from 'fastify';
import t, { type Test } from 'tap';
import { BuildingFeed } from '../building/live-feed.ts';
import { buildingTopics } from '../building/topics.ts';
import { Quarantine } from '../gateway/quarantine.ts';
import { SqliteStore } from '../storage/sqlite-store.ts';
import type { StoredReading, TimeSeriesStore } from '../storage/store.ts';
import { signedInMember, testRecords } from '../test-support/members.ts';
import { smallBuilding, startBroker, testProfiles } from '../test-support/small-building.ts';
import { buildApi } from './app.ts';

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 10, 2, 0, 0, 0);
const topics = buildingTopics('test-haus');

function reading(
  device: string,
  space: string,
  quantity: string,
  unit: string,
  value: number | string,
  ts: number,
) {
  return { site: 'test-haus', device, space, quantity, unit, value, ts } as StoredReading;
}

/** Two days of history: CO2 every 10 min in the café, and an energy counter that restarts once (meter reboot). */
function history(): StoredReading[] {
  const out: StoredReading[] = [];
  for (let ts = T0; ts < T0 + 48 * HOUR; ts += 10 * 60_000) {
    out.push(reading('co2-cafe', 'cafe', 'co2', 'ppm', 400 + (((ts - T0) / 60_000) % 200), ts));
  }
  let counter = 100;
  for (let h = 0; h < 48; h++) {
    counter = h === 30 ? 0.5 : counter + 1;
    out.push(reading('meter-eg', 'cafe', 'energy', 'kWh', counter, T0 + h * HOUR));
  }
  out.push(reading('lock-p1', 'protel-1', 'lock', 'state', 'locked', T0 + 5 * HOUR));
  return out;
}

async function building(t: Test, options: { store?: TimeSeriesStore; connectFeed?: boolean } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-api-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const site = smallBuilding();
  const store = options.store ?? new SqliteStore({ file: path.join(dir, 'readings.db') });
  t.teardown(() => store.close());
  await store.write(history());
  const quarantine = new Quarantine(path.join(dir, 'gateway.db'));
  t.teardown(() => quarantine.close());
  let url = 'mqtt://127.0.0.1:1';
  if (options.connectFeed) url = (await startBroker(t)).url;
  const feed = new BuildingFeed({ url, site, reconnectPeriodMs: 200 });
  t.teardown(() => feed.close());
  if (options.connectFeed) {
    feed.start();
    await feed.waitUntilConnected(15_000);
  }
  const records = testRecords(t);
  const app = await buildApi({ site, store, feed, quarantine, profiles: testProfiles(), records });
  t.teardown(() => app.close());
  // The facility manager may read every route these tests cover; who else may is the auth tests' business.
  const { cookie } = await signedInMember(app, records, 'facility');
  const api = {
    inject: (request: string | InjectOptions) =>
      app.inject(
        typeof request === 'string'
          ? { url: request, headers: { cookie } }
          : { ...request, headers: { ...request.headers, cookie } },
      ),
  };
  return { app, api, store, feed, quarantine, site };
}

function isErrorBody(t: Test, body: unknown, statusCode: number, message: RegExp) {
  t.match(body, { statusCode, error: String, message });
  t.same(Object.keys(body as object).sort(), ['error', 'message', 'statusCode'], 'exactly the error shape');
}

t.test('health and readiness', async (t) => {
  const { api, store } = await building(t);
  const health = await api.inject('/api/health');
  t.equal(health.statusCode, 200);
  t.match(health.json(), { status: 'ok', feed: { messages: 0 }, live: { clients: 0 } });

  const notReady = await api.inject('/api/ready');
  t.equal(notReady.statusCode, 503, 'feed not connected: not ready');
  t.match(notReady.json(), { ready: false, store: { kind: 'sqlite', ready: true }, feed: { ready: false } });
  t.match(notReady.json().message, /building feed is not connected/);

  await store.close();
  const storeDown = await api.inject('/api/ready');
  t.equal(storeDown.statusCode, 503);
  t.match(storeDown.json(), { store: { ready: false } });
  t.match(storeDown.json().message, /time-series store \(sqlite\) does not answer/);
  const latest = await api.inject('/api/readings/latest');
  isErrorBody(t, latest.json(), 503, /store \(sqlite\) unavailable/);
});

t.test('ready when the store answers and the feed is subscribed', async (t) => {
  const { api } = await building(t, { connectFeed: true });
  const ready = await api.inject('/api/ready');
  t.equal(ready.statusCode, 200);
  t.match(ready.json(), { ready: true, message: 'ready' });
});

t.test('site: floors and spaces, never credentials', async (t) => {
  const { api } = await building(t);
  const res = await api.inject('/api/site');
  t.equal(res.statusCode, 200);
  const body = res.json();
  t.equal(body.site.id, 'test-haus');
  t.same(
    body.floors.map((f: { id: string }) => f.id),
    ['eg', 'og1'],
  );
  t.same(body.spaces.find((s: { id: string }) => s.id === 'cafe').devices, ['co2-cafe', 'meter-eg']);
  t.notMatch(
    res.body,
    /secret-user-co2|scrypt|password|zigbee2mqtt/,
    'no user names, hashes or vendor topics',
  );
});

t.test('devices: directory with health, 404 for unknown, 400 for malformed ids', async (t) => {
  const { api, feed } = await building(t);
  feed.ingest(
    topics.deviceStatus('co2-cafe'),
    Buffer.from(JSON.stringify({ device: 'co2-cafe', online: true, lastSeen: T0 + 47 * HOUR, battery: 88 })),
  );
  const list = await api.inject('/api/devices');
  t.equal(list.statusCode, 200);
  const devices = list.json().devices;
  t.same(
    devices.map((d: { id: string }) => d.id),
    ['co2-cafe', 'co2-cowork', 'meter-eg', 'lock-p1'],
  );
  t.notMatch(list.body, /secret-user-co2|scrypt/);

  const one = await api.inject('/api/devices/co2-cafe');
  t.same(one.json(), {
    id: 'co2-cafe',
    profile: 'test-air',
    space: 'cafe',
    floor: 'eg',
    meterRole: null,
    online: true,
    lastSeen: T0 + 47 * HOUR,
    battery: 88,
    reportingIntervalS: 60,
    quantities: ['co2', 'temperature', 'humidity', 'battery'],
  });
  t.match((await api.inject('/api/devices/lock-p1')).json(), {
    online: null,
    reportingIntervalS: null,
    quantities: [],
  });
  isErrorBody(t, (await api.inject('/api/devices/ghost')).json(), 404, /unknown device "ghost"/);
  const bad = await api.inject('/api/devices/Bad%20Id');
  t.equal(bad.statusCode, 400);
  isErrorBody(t, bad.json(), 400, /params\.id must match pattern/);
});

t.test('latest readings: from the store, freshened by the feed', async (t) => {
  const { api, feed } = await building(t);
  const space = await api.inject('/api/spaces/cafe/latest');
  t.equal(space.statusCode, 200);
  const readings = space.json().readings;
  t.same(
    readings.map((r: { device: string; quantity: string; value: number; ts: number }) => [
      r.device,
      r.quantity,
      r.value,
      r.ts,
    ]),
    [
      ['co2-cafe', 'co2', 400 + ((47 * 60 + 50) % 200), T0 + 47 * HOUR + 50 * 60_000],
      ['meter-eg', 'energy', 17.5, T0 + 47 * HOUR],
    ],
  );
  // A newer reading heard live wins over the stored one; an older one does not.
  const live = (value: number, ts: number) =>
    feed.ingest(
      topics.reading('cafe', 'co2-cafe', 'co2'),
      Buffer.from(JSON.stringify({ value, unit: 'ppm', ts })),
    );
  live(999, T0 + 50 * HOUR);
  live(1, T0);
  const fresh = await api.inject('/api/readings/latest?space=cafe&quantity=co2');
  t.same(fresh.json().readings, [
    {
      device: 'co2-cafe',
      channel: '0',
      space: 'cafe',
      quantity: 'co2',
      value: 999,
      unit: 'ppm',
      ts: T0 + 50 * HOUR,
    },
  ]);

  const lock = await api.inject('/api/readings/latest?device=lock-p1');
  t.same(
    lock.json().readings.map((r: { value: string }) => r.value),
    ['locked'],
    'state values come through as text',
  );
  t.same((await api.inject('/api/readings/latest')).json().readings.length, 3);

  isErrorBody(t, (await api.inject('/api/spaces/nowhere/latest')).json(), 404, /unknown space "nowhere"/);
  isErrorBody(t, (await api.inject('/api/readings/latest?space=nowhere')).json(), 404, /unknown space/);
  isErrorBody(t, (await api.inject('/api/readings/latest?device=ghost')).json(), 404, /unknown device/);
  const badQuantity = await api.inject('/api/readings/latest?quantity=radon');
  isErrorBody(
    t,
    badQuantity.json(),
    400,
    /querystring\.quantity must be equal to one of the allowed values: occupancy, co2/,
  );
  t.equal((await api.inject('/api/readings/latest?space=a&space=b')).statusCode, 400, 'repeated parameter');
});

t.test('series: buckets, aggregates, consumption across a meter reboot', async (t) => {
  const { api } = await building(t);
  const hourly = await api.inject(
    `/api/series?quantity=co2&device=co2-cafe&from=${T0}&to=${T0 + 3 * HOUR}&bucket=1h&aggregate=max`,
  );
  t.equal(hourly.statusCode, 200);
  const body = hourly.json();
  t.match(body, {
    quantity: 'co2',
    unit: 'ppm',
    aggregate: 'max',
    from: T0,
    to: T0 + 3 * HOUR,
    bucketMs: HOUR,
  });
  t.equal(body.series.length, 1);
  t.same(
    body.series[0].points.map((p: { ts: number }) => p.ts),
    [T0, T0 + HOUR, T0 + 2 * HOUR],
  );
  t.same(body.series[0].points[0].value, 450, 'max of 400..450 in the first hour');

  const iso = await api.inject(
    '/api/series?quantity=co2&space=cafe&from=2026-11-02T00:00:00Z&to=2026-11-02T01:00:00%2B01:00&aggregate=count',
  );
  t.equal(iso.statusCode, 400, '01:00+01:00 is midnight UTC: from is not before to');
  isErrorBody(t, iso.json(), 400, /from must be before to/);

  const count = await api.inject(
    '/api/series?quantity=co2&space=cafe&from=2026-11-02T00:00:00Z&to=2026-11-02T02:00:00%2B01:00&aggregate=count',
  );
  t.equal(count.statusCode, 200);
  t.same(count.json().series[0].points, [{ ts: T0, value: 6 }]);
  t.equal(count.json().unit, 'count');

  // Counter: +1 kWh per hour, reset to 0.5 at hour 30 (the 0.5 counts as consumed): 47 - 1 + 0.5 = ... per day.
  const daily = await api.inject(
    `/api/series?quantity=energy&device=meter-eg&from=${T0}&to=${T0 + 48 * HOUR}&bucket=1d`,
  );
  t.equal(daily.statusCode, 200);
  t.equal(daily.json().aggregate, 'consumption', 'energy defaults to consumption');
  const total = daily.json().series[0].points.reduce((sum: number, p: { value: number }) => sum + p.value, 0);
  t.ok(Math.abs(total - 46.5) < 1e-9, `consumed 46.5 kWh over two days across the reset (got ${total})`);

  const lockCount = await api.inject(
    `/api/series?quantity=lock&device=lock-p1&from=${T0}&to=${T0 + 48 * HOUR}&aggregate=count`,
  );
  t.same(lockCount.json().series[0].points, [{ ts: T0, value: 1 }]);
});

t.test('series: clear 400s and 404s', async (t) => {
  const { api } = await building(t);
  const cases: [string, number, RegExp][] = [
    ['/api/series?device=co2-cafe', 400, /querystring must have required property 'quantity'/],
    ['/api/series?quantity=co2', 400, /device or space is required/],
    ['/api/series?quantity=co2&device=co2-cafe&space=cafe', 400, /either device or space, not both/],
    [
      '/api/series?quantity=co2&device=co2-cafe&from=yesterday',
      400,
      /from: "yesterday" is neither ISO 8601 nor epoch/,
    ],
    ['/api/series?quantity=co2&device=co2-cafe&from=2026-11-02T10:00', 400, /needs a time zone/],
    ['/api/series?quantity=co2&device=co2-cafe&to=2026-13-45', 400, /to: "2026-13-45" is not a valid date/],
    [`/api/series?quantity=co2&device=co2-cafe&from=${T0}&to=${T0}`, 400, /from must be before to/],
    [
      `/api/series?quantity=co2&device=co2-cafe&from=${T0}&to=${T0 + 30 * 24 * HOUR}&bucket=1m`,
      400,
      /43200 buckets of 1m .* at most 10000/,
    ],
    [
      '/api/series?quantity=co2&device=co2-cafe&bucket=5minutes',
      400,
      /querystring\.bucket must match pattern/,
    ],
    ['/api/series?quantity=co2&device=co2-cafe&bucket=0m', 400, /querystring\.bucket must match pattern/],
    [
      '/api/series?quantity=co2&device=co2-cafe&aggregate=median',
      400,
      /aggregate must be equal to one of the allowed values: mean, min/,
    ],
    [
      '/api/series?quantity=co2&device=co2-cafe&aggregate=consumption',
      400,
      /consumption needs a cumulative counter/,
    ],
    ['/api/series?quantity=lock&device=lock-p1&aggregate=mean', 400, /lock is a state, not a number/],
    ['/api/series?quantity=co2&device=ghost', 404, /unknown device "ghost"/],
    ['/api/series?quantity=co2&space=nowhere', 404, /unknown space "nowhere"/],
  ];
  for (const [url, status, message] of cases) {
    const res = await api.inject(url);
    t.equal(res.statusCode, status, url);
    isErrorBody(t, res.json(), status, message);
  }
});

t.test('quarantine: newest first, paged, with counts', async (t) => {
  const { api, quarantine } = await building(t);
  for (let i = 0; i < 5; i++) {
    quarantine.add({
      receivedAt: T0 + i,
      topic: `zigbee2mqtt/co2-cafe`,
      payload: Buffer.from(`garbage ${i}`),
      reason: i < 3 ? 'malformed' : 'unknown_device',
      detail: 'test',
      device: 'co2-cafe',
    });
  }
  const first = await api.inject('/api/quarantine?limit=2');
  t.equal(first.statusCode, 200);
  t.same(first.json().counts, { malformed: 3, unknown_device: 2 });
  const entries = first.json().entries;
  t.same(
    entries.map((e: { payload: string }) => e.payload),
    ['garbage 4', 'garbage 3'],
  );
  const next = await api.inject(`/api/quarantine?limit=2&before=${entries[1].id}`);
  t.same(
    next.json().entries.map((e: { payload: string }) => e.payload),
    ['garbage 2', 'garbage 1'],
  );
  t.equal((await api.inject('/api/quarantine')).json().entries.length, 5, 'default limit covers all');
  for (const q of ['limit=0', 'limit=1001', 'limit=abc', 'before=-1', 'before=1.5']) {
    const res = await api.inject(`/api/quarantine?${q}`);
    t.equal(res.statusCode, 400, q);
    isErrorBody(t, res.json(), 400, /querystring\.(limit|before)/);
  }
});

t.test('OpenAPI document lists every route; /docs and / answer', async (t) => {
  const { api } = await building(t);
  const doc = await api.inject('/docs/json');
  t.equal(doc.statusCode, 200);
  const spec = doc.json();
  t.match(spec.openapi, /^3\./);
  const paths = Object.keys(spec.paths).sort();
  // Other parts add routes; these must stay documented.
  const documented = [
    '/',
    '/api/auth/login',
    '/api/auth/logout',
    '/api/devices',
    '/api/devices/{id}',
    '/api/health',
    '/api/live',
    '/api/me',
    '/api/quarantine',
    '/api/readings/latest',
    '/api/ready',
    '/api/series',
    '/api/site',
    '/api/spaces/{id}/latest',
  ];
  for (const route of documented) t.ok(paths.includes(route), `${route} is in the OpenAPI document`);
  const seriesParams = spec.paths['/api/series'].get.parameters.map((p: { name: string }) => p.name).sort();
  t.same(seriesParams, ['aggregate', 'bucket', 'device', 'from', 'quantity', 'space', 'to']);
  for (const route of [
    '/api/devices',
    '/api/readings/latest',
    '/api/series',
    '/api/quarantine',
    '/api/site',
  ]) {
    t.same(Object.keys(spec.paths[route]), ['get'], `${route} is read-only`);
  }
  const ui = await api.inject('/docs');
  t.ok(ui.statusCode === 200 || ui.statusCode === 302, 'swagger UI answers');
  for (const url of ['/docs', '/docs/json', '/docs/static/swagger-initializer.js']) {
    const docs = await api.inject(url);
    t.equal(docs.statusCode, 200, `${url} answers`);
    t.match(
      docs.headers['content-security-policy'],
      /default-src 'self'.*frame-ancestors 'none'/,
      `${url}: CSP`,
    );
    t.equal(docs.headers['x-content-type-options'], 'nosniff', `${url}: nosniff`);
    t.equal(docs.headers['x-frame-options'], 'DENY', `${url}: no frames in old browsers either`);
  }
  const home = await api.inject('/');
  t.match(home.headers['content-type'], /text\/html/);
  t.match(home.headers['content-security-policy'], /default-src 'self'/, 'pages are kept to this origin');
  if (home.statusCode === 503)
    t.match(home.body, /npm run build/, 'an unbuilt dashboard says how to build it');
  else t.match(home.body, /<div id="app">/, 'the built dashboard');
  isErrorBody(t, (await api.inject('/api/nothing-here')).json(), 404, /no route GET \/api\/nothing-here/);
  const post = await api.inject({ method: 'POST', url: '/api/devices', payload: { id: 'x' } });
  t.equal(post.statusCode, 404, 'no route changes anything');
});

t.test('fuzzed query strings and paths never give a 5xx', async (t) => {
  const { api } = await building(t);
  let seed = 42;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const alphabet = [
    'a',
    'Z',
    '0',
    '9',
    '-',
    '_',
    '.',
    ':',
    '+',
    '%',
    '%2',
    '%zz',
    '%00',
    '&',
    '=',
    '[',
    ']',
    '/',
    ' ',
    'é',
    '\u0000',
    '1h',
    'co2',
    'cafe',
  ];
  const names = [
    'quantity',
    'device',
    'space',
    'from',
    'to',
    'bucket',
    'aggregate',
    'limit',
    'before',
    '__proto__',
    'constructor',
  ];
  const values = [
    'co2',
    'energy',
    'lock',
    'cafe',
    'co2-cafe',
    'meter-eg',
    '0',
    '-1',
    '1e400',
    'NaN',
    '2026-11-02',
    '1h',
    '0s',
    'consumption',
    '9'.repeat(40),
    '',
  ];
  const pick = <T>(list: T[]): T => list[Math.floor(random() * list.length)] as T;
  const junk = () => Array.from({ length: Math.floor(random() * 12) }, () => pick(alphabet)).join('');
  const routes = [
    '/api/series',
    '/api/readings/latest',
    '/api/quarantine',
    '/api/devices/',
    '/api/spaces/',
    '/api/site',
    '/api/health',
  ];
  let fivexx = 0;
  for (let i = 0; i < 400; i++) {
    const route = pick(routes);
    const params = Array.from({ length: Math.floor(random() * 6) }, () =>
      random() < 0.5
        ? `${pick(names)}=${pick(values)}`
        : `${random() < 0.5 ? pick(names) : junk()}=${junk()}`,
    ).join('&');
    const pathPart = route.endsWith('/')
      ? `${route}${encodeURI(junk())}${route === '/api/spaces/' ? '/latest' : ''}`
      : route;
    const url = `${pathPart}?${params}`;
    const res = await api.inject(url);
    if (res.statusCode >= 500) {
      fivexx++;
      t.fail(`5xx for ${url}: ${res.body}`);
    }
    if (res.statusCode >= 400)
      t.match(res.json(), { statusCode: res.statusCode, error: String, message: String });
  }
  t.equal(fivexx, 0);
});

t.test('closing cuts a connection that never sent a request (a browser preconnect)', async (t) => {
  const { app } = await building(t);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (!address || typeof address !== 'object') throw new Error('not listening');
  const socket = net.connect(address.port, '127.0.0.1');
  await once(socket, 'connect');
  const ended = once(socket, 'close');
  // Without the cut, Node waits for the headers timeout (a minute) before the server is closed.
  const guard = new Promise<'stuck'>((resolve) => setTimeout(() => resolve('stuck'), 30_000).unref());
  t.equal(await Promise.race([app.close().then(() => 'closed' as const), guard]), 'closed');
  await ended;
  t.ok(socket.destroyed, 'the silent connection was cut');
});
