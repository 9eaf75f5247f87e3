import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { BuildingFeed } from '../building/live-feed.ts';
import { sqliteRecords } from '../records/records.ts';
import { siteReadings } from '../storage/site-view.ts';
import { SqliteStore } from '../storage/sqlite-store.ts';
import { testApi } from '../test-support/api.ts';
import { createTestMember, testRecords } from '../test-support/members.ts';
import { eventually, listenWebSocket, testProfiles, upgradeStatus } from '../test-support/small-building.ts';
import { NORD, SUED } from '../test-support/two-sites.ts';

/**
 * A lobby screen shows one house, and the public events say which house each is in, through the real API of
 * a network: it serves Nord (the installation's home site) and knows Süd. Both houses have a desk `desk-1`
 * and a room `protel-1`: a token made for Süd (`wesprint lobby-token create --site sued`) shows Süd's spaces,
 * Süd's bookings and Süd's notices, never Nord's of the same ids.
 */

// Monday 1 March 2027, 10:00 UTC.
const NOW = Date.UTC(2027, 2, 1, 10, 0);
const HOUR = 3_600_000;

async function network(t: Test) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-lobby-houses-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const all = new SqliteStore({ file: path.join(dir, 'network.db') });
  t.teardown(() => all.close());
  // Not started: nothing live is needed, the boards come from the bookings.
  const nordFeed = new BuildingFeed({ url: 'mqtt://127.0.0.1:1', site: NORD });
  const suedFeed = new BuildingFeed({ url: 'mqtt://127.0.0.1:1', site: SUED });
  t.teardown(() => nordFeed.close());
  t.teardown(() => suedFeed.close());
  const db = testRecords(t);
  const records = sqliteRecords(db);
  const { app } = await testApi(t, {
    site: NORD,
    store: siteReadings(all, 'nord'),
    feed: nordFeed,
    records: db,
    network: { sites: [NORD, SUED], store: all, feeds: new Map([['sued', suedFeed]]) },
    profiles: testProfiles(),
    now: () => NOW,
  });
  const token = async (site?: string) => (await records.lobbyTokens.create('Foyer', NOW, site)).token;
  return { app, records, db, token };
}

t.test("a lobby token of another house shows that house's lobby", async (t) => {
  const n = await network(t);
  const { member } = await createTestMember(n.db, { role: 'member' });
  // Süd's desk-1 is booked now; Nord's desk-1 (the same id) is free.
  const booked = await n.records
    .bookingsAt('sued')
    .create({ memberId: member.id, spaceId: 'desk-1', start: NOW - HOUR, end: NOW + HOUR }, NOW - 2 * HOUR);
  t.ok(booked.ok);
  await n.records.notices.post({
    site: 'sued',
    space: 'protel-1',
    topic: 'air',
    message: 'Bitte lüften',
    level: 'warning',
    postedAt: NOW - 60_000,
    expiresAt: NOW + HOUR,
    postedBy: 'token:x',
  });
  const [sued, nord, any, west] = [
    await n.token('sued'),
    await n.token('nord'),
    await n.token(),
    await n.token('west'),
  ];
  const lobby = async (token: string) => n.app.inject({ method: 'GET', url: `/api/lobby?token=${token}` });
  const desk = (body: { spaces: { id: string; status: string }[] }) =>
    body.spaces.find((s) => s.id === 'desk-1')?.status;

  const ofSued = await lobby(sued);
  t.equal(ofSued.statusCode, 200);
  t.match(ofSued.json().site, { id: 'sued', name: 'Haus Süd' }, "Süd's token: Süd's lobby");
  t.equal(desk(ofSued.json()), 'busy', "Süd's desk-1 booked");
  const ofNord = await lobby(nord);
  t.match(ofNord.json().site, { id: 'nord' }, "Nord's token: Nord's lobby");
  t.equal(desk(ofNord.json()), 'free', "Nord's desk-1, the same id, free");
  t.match((await lobby(any)).json().site, { id: 'nord' }, 'a token of any house: the house this API serves');
  t.equal((await lobby(west)).statusCode, 401, 'a token of a house not in this network: nothing');

  // Its notices are its house's.
  const notices = async (token: string) =>
    (await n.app.inject({ method: 'GET', url: `/api/lobby/notices?token=${token}` })).json().notices as {
      space: string;
    }[];
  t.same(
    (await notices(sued)).map((x) => x.space),
    ['protel-1'],
    "Süd's notice on Süd's screen",
  );
  t.same(await notices(nord), [], "not on Nord's");

  // The live channel of Süd's screen: Süd's board.
  const address = await n.app.listen({ host: '127.0.0.1', port: 0 });
  const ws = address.replace(/^http/, 'ws');
  const screen = await listenWebSocket(t, `${ws}/api/lobby/live?token=${sued}`);
  await eventually('the board', () => screen.messages.some((m) => m.type === 'lobby'));
  t.match(screen.messages[0], { type: 'hello', channel: 'lobby', site: 'sued' });
  const board = screen.messages.find((m) => m.type === 'lobby') as {
    site: { id: string };
    spaces: { id: string; status: string }[];
  };
  t.equal(board.site.id, 'sued');
  t.equal(desk(board), 'busy');
  t.equal(await upgradeStatus(`${ws}/api/lobby/live?token=${west}`), 401);

  // Revoked, it shows nothing (the shown id is the start of the token's hash).
  const listed = await n.records.lobbyTokens.list();
  const suedToken = listed.find((l) => l.site === 'sued');
  t.ok(suedToken && (await n.records.lobbyTokens.revoke(suedToken.id, NOW)));
  t.equal((await lobby(sued)).statusCode, 401, 'revoked');
});

t.test('public events name their house and can be filtered by it', async (t) => {
  const n = await network(t);
  const { member } = await createTestMember(n.db, { role: 'member' });
  // An evening event in each house's protel-1 (the same space id), tomorrow.
  const event = async (site: string, title: string) => {
    const booking = await n.records
      .bookingsAt(site)
      .create(
        { memberId: member.id, spaceId: 'protel-1', start: NOW + 24 * HOUR, end: NOW + 26 * HOUR },
        NOW,
      );
    if (!booking.ok) throw new Error(`no booking in ${site}`);
    await n.records.events.create(
      {
        title,
        description: '',
        capacity: 20,
        visibility: 'public',
        bookingId: booking.booking.id,
        seriesId: null,
        organiserId: member.id,
      },
      NOW,
    );
  };
  await event('nord', 'Repair-Café');
  await event('sued', 'Zukunftswerkstatt');

  const list = async (query = '') => {
    const response = await n.app.inject({ method: 'GET', url: `/api/public/events${query}` });
    return { status: response.statusCode, body: response.json() };
  };
  const all = await list();
  t.same(
    all.body.houses.map((h: { id: string }) => h.id),
    ['nord', 'sued'],
    "the network's houses, for the filter",
  );
  t.same(
    all.body.dates.map((d: { title: string; siteId: string; siteName: string; spaceName: string }) => [
      d.title,
      d.siteId,
      d.siteName,
      d.spaceName,
    ]),
    [
      ['Repair-Café', 'nord', 'Haus Nord', 'Protel 1'],
      ['Zukunftswerkstatt', 'sued', 'Haus Süd', 'Protel 1'],
    ],
    'each date with its house',
  );
  t.same(
    (await list('?site=sued')).body.dates.map((d: { title: string }) => d.title),
    ['Zukunftswerkstatt'],
    "Süd's only",
  );
  t.same(
    (await list('?site=nord')).body.dates.map((d: { title: string }) => d.title),
    ['Repair-Café'],
    "Nord's only",
  );
  t.equal((await list('?site=west')).status, 404, 'no such house');
  t.equal((await list('?site=..%2F')).status, 400, 'not a house id');

  // The calendar feed: each date's location in its own house; one house's feed is named after it.
  const ics = async (query = '') =>
    (await n.app.inject({ method: 'GET', url: `/api/public/events.ics${query}` })).body.replace(/\r\n /g, '');
  const feed = await ics();
  t.match(feed, /SUMMARY:Zukunftswerkstatt[\s\S]*LOCATION:Protel 1\\, Haus Süd/);
  t.match(feed, /SUMMARY:Repair-Café[\s\S]*LOCATION:Protel 1\\, Haus Nord/);
  const suedFeed = await ics('?site=sued');
  t.match(suedFeed, /NAME:Haus Süd/);
  t.notMatch(suedFeed, /Repair-Café/, "Nord's event not in Süd's feed");

  // Members see the same, filtered the same.
  const { cookie } = await (async () => {
    const created = await createTestMember(n.db, { role: 'member' });
    const login = await n.app.inject({
      method: 'POST',
      url: '/api/auth/login',
      payload: { email: created.member.email, password: created.password },
    });
    return { cookie: String(login.headers['set-cookie']).split(';')[0] ?? '' };
  })();
  const members = await n.app.inject({ method: 'GET', url: '/api/events?site=sued', headers: { cookie } });
  t.same(
    members.json().dates.map((d: { title: string; siteId: string }) => [d.title, d.siteId]),
    [['Zukunftswerkstatt', 'sued']],
  );
});
