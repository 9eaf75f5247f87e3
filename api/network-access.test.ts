import t from 'tap';
import { SqliteLobbyTokens } from '../members/sqlite-lobby-tokens.ts';
import { SqliteMemberStore } from '../members/sqlite-member-store.ts';
import { testApi } from '../test-support/api.ts';
import { createTestMember, signIn } from '../test-support/members.ts';
import { NORD } from '../test-support/two-sites.ts';

/**
 * A network of houses through the real API (Fastify, sign-in, the records file): the API serves Nord, the
 * installation's home site; members of Süd come as guests, bound by Nord's `guests`, and a role they hold at
 * home counts for nothing here.
 */

// Monday 1 March 2027, 09:00 UTC: the spaces of the two test houses have no opening hours (always open).
const NOW = Date.UTC(2027, 2, 1, 9, 0);
const HOUR = 3_600_000;
const nord = { ...NORD, guests: [{ from: ['sued'], kinds: ['desk' as const] }] };

async function network(t: Parameters<typeof testApi>[0]) {
  const { app, records } = await testApi(t, { site: nord, now: () => NOW });
  const member = async (role: 'member' | 'facility' | 'admin', homeSite?: string) => {
    const created = await createTestMember(records, { role, ...(homeSite ? { homeSite } : {}) });
    return { ...created, cookie: await signIn(app, created.member.email, created.password) };
  };
  const book = (cookie: string, spaceId: string) =>
    app.inject({
      method: 'POST',
      url: '/api/bookings',
      headers: { cookie, 'content-type': 'application/json' },
      payload: {
        spaceId,
        start: new Date(NOW + HOUR).toISOString(),
        end: new Date(NOW + 2 * HOUR).toISOString(),
      },
    });
  const unlock = (cookie: string, spaceId: string) =>
    app.inject({ method: 'POST', url: `/api/spaces/${spaceId}/unlock`, headers: { cookie } });
  return { app, records, member, book, unlock };
}

t.test("a guest from Süd books what Nord opens to Süd's members, and nothing else", async (t) => {
  const n = await network(t);
  const guest = await n.member('member', 'sued');
  const desk = await n.book(guest.cookie, 'desk-1');
  t.equal(desk.statusCode, 201, 'desks: yes');
  const protel = await n.book(guest.cookie, 'protel-1');
  t.equal(protel.statusCode, 403, 'Protel rooms: no');
  t.match(protel.json(), { reason: 'not_open_to_guests' });
  const own = await n.member('member');
  t.equal((await n.book(own.cookie, 'protel-1')).statusCode, 201, "Nord's own member books the Protel room");
});

t.test('the facility manager of Süd is a plain member in Nord: no devices, no doors', async (t) => {
  const n = await network(t);
  const kim = await n.member('facility', 'sued');
  const devices = await n.app.inject({ method: 'GET', url: '/api/devices', headers: { cookie: kim.cookie } });
  t.equal(devices.statusCode, 403, "sees nothing of Nord's devices");
  const door = await n.unlock(kim.cookie, 'protel-1');
  t.equal(door.statusCode, 403);
  t.match(door.json(), { result: 'denied', reason: 'not_open_to_guests' }, 'opens no Protel room of Nord');
  const me = await n.app.inject({ method: 'GET', url: '/api/me', headers: { cookie: kim.cookie } });
  t.match(me.json(), { member: { role: 'member' } }, 'and is told so');

  // Given the facility role in Nord too: staff here, at once (the session is seen anew on every request).
  await new SqliteMemberStore(n.records).setSiteRole(kim.member.id, 'nord', 'facility');
  const again = await n.app.inject({ method: 'GET', url: '/api/devices', headers: { cookie: kim.cookie } });
  t.equal(again.statusCode, 200);
  t.not((await n.unlock(kim.cookie, 'protel-1')).json().reason, 'not_open_to_guests', 'staff open any lock');
  const nordsOwn = await n.member('facility');
  t.equal(
    (await n.app.inject({ method: 'GET', url: '/api/devices', headers: { cookie: nordsOwn.cookie } }))
      .statusCode,
    200,
    "Nord's own facility manager, as always",
  );
});

t.test("a lobby token of another house opens nothing of Nord's lobby", async (t) => {
  const n = await network(t);
  const stored = new SqliteLobbyTokens(n.records);
  const ofSued = await stored.create('Foyer Süd', undefined, 'sued');
  const ofNord = await stored.create('Foyer Nord', undefined, 'nord');
  const lobby = (token: string) => n.app.inject({ method: 'GET', url: `/api/lobby?token=${token}` });
  t.equal((await lobby(ofNord.token)).statusCode, 200);
  t.equal((await lobby(ofSued.token)).statusCode, 401, "Süd's token is no credential here");
});
