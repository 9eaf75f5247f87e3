import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { ROLES, type Role } from '../access/roles.ts';
import { BuildingFeed } from '../building/live-feed.ts';
import { Quarantine } from '../gateway/quarantine.ts';
import { SqliteLobbyTokens } from '../members/sqlite-lobby-tokens.ts';
import { SqliteStore } from '../storage/sqlite-store.ts';
import { signedInMember, testRecords } from '../test-support/members.ts';
import { smallBuilding, testProfiles } from '../test-support/small-building.ts';
import { buildApi } from './app.ts';

/**
 * Object-level checks of every data route that names a device or a space. The rule: raw telemetry
 * (readings, series, live stream) is for the facility, the board and the admin, of every space; device
 * health and the quarantine (vendor topics, raw payloads) for the facility and the admin only; a plain
 * member and a lobby screen see spaces only through the lobby (public availability).
 * A caller who may not read a route learns nothing about the id either: a known and an unknown id get the
 * same refusal, so ids cannot be probed.
 */

type Caller = 'anonymous' | 'lobby' | Role;
const CALLERS: Caller[] = ['anonymous', 'lobby', ...ROLES];
const STAFF_AND_BOARD: Caller[] = ['facility', 'board', 'admin'];
const STAFF: Caller[] = ['facility', 'admin'];

/** Each route with a known id (200 for those allowed) and an unknown one (404 for those allowed). */
const ROUTES: { name: string; known: string; unknown: string; allowed: Caller[] }[] = [
  { name: 'devices/:id', known: '/api/devices/co2-cafe', unknown: '/api/devices/nope', allowed: STAFF },
  {
    name: 'spaces/:id/latest',
    known: '/api/spaces/cafe/latest',
    unknown: '/api/spaces/nope/latest',
    allowed: STAFF_AND_BOARD,
  },
  {
    name: 'readings/latest?space',
    known: '/api/readings/latest?space=protel-1',
    unknown: '/api/readings/latest?space=nope',
    allowed: STAFF_AND_BOARD,
  },
  {
    name: 'readings/latest?device',
    known: '/api/readings/latest?device=lock-p1',
    unknown: '/api/readings/latest?device=nope',
    allowed: STAFF_AND_BOARD,
  },
  {
    name: 'series?space',
    known: '/api/series?quantity=co2&space=cafe',
    unknown: '/api/series?quantity=co2&space=nope',
    allowed: STAFF_AND_BOARD,
  },
  {
    name: 'series?device',
    known: '/api/series?quantity=power&device=meter-eg',
    unknown: '/api/series?quantity=power&device=nope',
    allowed: STAFF_AND_BOARD,
  },
  // No id, but raw payloads name devices and vendor topics.
  { name: 'quarantine', known: '/api/quarantine', unknown: '/api/quarantine?before=999999', allowed: STAFF },
];

t.test('every data route with an id: only the roles that may see it, and no probing of ids', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-object-access-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const site = smallBuilding();
  const store = new SqliteStore({ file: path.join(dir, 'readings.db') });
  t.teardown(() => store.close());
  const quarantine = new Quarantine(path.join(dir, 'gateway.db'));
  t.teardown(() => quarantine.close());
  // Not connected: these routes answer from the store and the site; the broker plays no part here.
  const feed = new BuildingFeed({ url: 'mqtt://127.0.0.1:1', site });
  const records = testRecords(t);
  const app = await buildApi({ site, store, feed, quarantine, records, profiles: testProfiles() });
  t.teardown(() => app.close());

  const headers = new Map<Caller, Record<string, string>>([
    ['anonymous', {}],
    ['lobby', { authorization: `Bearer ${(await new SqliteLobbyTokens(records).create('Foyer')).token}` }],
  ]);
  for (const role of ROLES) headers.set(role, { cookie: (await signedInMember(app, records, role)).cookie });

  for (const route of ROUTES) {
    for (const caller of CALLERS) {
      const known = await app.inject({ url: route.known, headers: headers.get(caller) });
      const unknown = await app.inject({ url: route.unknown, headers: headers.get(caller) });
      const allowed = route.allowed.includes(caller);
      const refusal = caller === 'anonymous' ? 401 : 403;
      const unknownStatus = route.name === 'quarantine' ? 200 : 404;
      t.same(
        [known.statusCode, unknown.statusCode],
        allowed ? [200, unknownStatus] : [refusal, refusal],
        `${route.name} as ${caller}`,
      );
      if (!allowed)
        t.equal(known.body, unknown.body, `${route.name} as ${caller}: the same refusal for any id`);
    }
  }

  // The live stream names spaces too: refused before the upgrade for those who may not read it.
  for (const caller of CALLERS) {
    const outcome = (url: string) =>
      app.injectWS(url, { headers: headers.get(caller) }).then(
        (socket) => {
          socket.terminate();
          return 'open';
        },
        (err: Error) => /\d{3}/.exec(err.message)?.[0] ?? err.message,
      );
    const known = await outcome('/api/live?space=cafe');
    const unknown = await outcome('/api/live?space=nope');
    const refusal = caller === 'anonymous' ? '401' : '403';
    t.same(
      [known, unknown],
      STAFF_AND_BOARD.includes(caller) ? ['open', '404'] : [refusal, refusal],
      `live?space as ${caller}`,
    );
  }
});
