import { randomUUID } from 'node:crypto';
import mqtt from 'mqtt';
import t from 'tap';
import { SqliteAuditLog } from '../access/sqlite-audit-log.ts';
import { SqliteBookingStore } from '../bookings/sqlite-booking-store.ts';
import { buildingTopics } from '../building/topics.ts';
import { DEMO_SITE_FILE } from '../simulations/demo-site.ts';
import { loadSite } from '../site/load.ts';
import { callApi } from '../test-support/api.ts';
import { signedInMember, signIn } from '../test-support/members.ts';
import { eventually } from '../test-support/small-building.ts';
import { unlockBuilding } from '../test-support/unlock-building.ts';

/**
 * Guest keys end to end on real parts (broker with its ACL, gateway, the Nuki profile, a simulated Nuki): a
 * member gives a key for their booking; the link's page and any GET open nothing; a tap before, during and
 * after the booking; a revoked key; a key for someone else's room refused; the per-key rate limit; the audit
 * log names the host. The API's clock is the test's, set around a booking an hour from the process's now.
 */

const site = loadSite(DEMO_SITE_FILE);
const topics = buildingTopics(site.site.id);
const MIN = 60_000;
const protel = site.spaces.find((s) => s.id === 'og2-protel-01');
if (!protel?.lock) throw new Error('the demo site no longer has the room this test relies on');
const protelLock = protel.lock;

t.test('a guest key: a page to look at, a tap to open, only during the booking', async (t) => {
  const base = Date.now();
  const clock = { now: base };
  const b = await unlockBuilding(t, site, [protelLock], { now: () => clock.now });
  const call = (method: string, url: string, cookie?: string, payload?: unknown) =>
    callApi(b.app, method, url, cookie, payload);
  const bookings = new SqliteBookingStore(b.records, site.site.id);
  const audit = new SqliteAuditLog(b.records);
  const anna = await signedInMember(b.app, b.records, 'member');
  const ben = await signedInMember(b.app, b.records, 'member');
  const start = base + 60 * MIN;
  const end = start + 120 * MIN;
  const booked = await bookings.create({ memberId: anna.member.id, spaceId: protel.id, start, end }, base);
  if (!booked.ok) throw new Error('booking refused');
  const lock = b.lock(protelLock);

  const spy = await mqtt.connectAsync(b.url, {
    ...b.api,
    clientId: `spy-${randomUUID()}`,
    reconnectPeriod: 0,
  });
  t.teardown(() => spy.endAsync());
  const commands: string[] = [];
  spy.on('message', (topic) => {
    if (!topic.endsWith('/result')) commands.push(topic);
  });
  await spy.subscribeAsync(topics.allCommands, { qos: 1 });

  // Ben did not book the room: his key is refused; Anna's is given, its link carries the secret in the fragment.
  const refused = await call('POST', '/api/guest-keys', ben.cookie, { bookingId: booked.booking.id });
  t.equal(refused.status, 403, refused.text);
  t.match(refused.json.message, /not_your_booking/);
  const given = await call('POST', '/api/guest-keys', anna.cookie, {
    bookingId: booked.booking.id,
    label: 'Referentin',
  });
  t.equal(given.status, 201, given.text);
  const link = String(given.json.link);
  t.match(link, /^\/key#[A-Za-z0-9_-]{32}$/);
  const token = link.slice('/key#'.length);
  t.match(given.json, {
    spaceId: protel.id,
    opensAt: new Date(start - 10 * MIN).toISOString(),
    closesAt: new Date(end).toISOString(),
    revoked: false,
  });

  // During the booking, what a messenger's preview does: GET (and HEAD) the link and anything with the secret.
  clock.now = start + 5 * MIN;
  const page = await b.app.inject({ method: 'GET', url: link });
  t.equal(page.statusCode, 200, 'the link is the key page');
  t.notOk(page.body.includes(token), 'the page carries no secret');
  for (const [method, url] of [
    ['HEAD', link],
    ['GET', `/key?token=${token}`],
    ['GET', `/api/public/guest-key?token=${token}`],
    ['GET', `/api/public/guest-key/unlock?token=${token}`],
    ['GET', `/api/public/guest-key/unlock/${token}`],
  ] as const)
    t.not((await b.app.inject({ method, url })).statusCode, 500, `${method} ${url}`);
  const look = await call('POST', '/api/public/guest-key', undefined, { token });
  t.same(look.json, {
    siteName: site.site.name,
    spaceName: protel.name,
    opensAt: new Date(start - 10 * MIN).toISOString(),
    closesAt: new Date(end).toISOString(),
    state: 'open',
  });
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.same(commands, [], 'no GET and no look sent a command');
  t.equal(lock.commandsReceived(), 0, 'the lock heard nothing');
  t.equal(lock.state(), 1, 'locked');

  // Before the window, then during (a tap), then after.
  clock.now = start - 11 * MIN;
  t.match(await call('POST', '/api/public/guest-key/unlock', undefined, { token }), {
    status: 403,
    json: { result: 'denied', reason: 'not_yet' },
  });
  clock.now = start - 10 * MIN;
  const tap = await call('POST', '/api/public/guest-key/unlock', undefined, { token });
  t.match(tap, { status: 200, json: { result: 'unlocked', reason: 'guest_key', lock: protelLock } });
  await eventually('the simulated lock unlocked', () => lock.state() === 3);
  t.equal(lock.commandsReceived(), 1);
  t.same(commands, [topics.command(protelLock)], 'one command, on the member unlock path');
  clock.now = end;
  t.match(await call('POST', '/api/public/guest-key/unlock', undefined, { token }), {
    status: 403,
    json: { reason: 'expired' },
  });
  t.equal((await call('POST', '/api/public/guest-key', undefined, { token })).json.state, 'expired');

  // A revoked key opens nothing, during the booking too; only its host (or staff) revokes it.
  clock.now = start + 30 * MIN;
  const cookie = await signIn(b.app, anna.member.email, anna.password);
  const benCookie = await signIn(b.app, ben.member.email, ben.password);
  const second = await call('POST', '/api/guest-keys', cookie, { bookingId: booked.booking.id });
  const secondToken = String(second.json.link).slice('/key#'.length);
  t.equal((await call('DELETE', `/api/guest-keys/${second.json.id}`, benCookie)).status, 404, 'not his key');
  t.equal((await call('DELETE', `/api/guest-keys/${second.json.id}`, cookie)).status, 204);
  t.match(await call('POST', '/api/public/guest-key/unlock', undefined, { token: secondToken }), {
    status: 403,
    json: { reason: 'revoked' },
  });
  t.same(
    ((await call('GET', '/api/guest-keys', cookie)).json.keys as Array<{ revoked: boolean }>).map(
      (k) => k.revoked,
    ),
    [true, false],
  );

  // Taps are limited per key like a member's: ten in a burst, then 429 (nothing sent).
  const statuses: number[] = [];
  for (let i = 0; i < 10; i++)
    statuses.push(
      (await call('POST', '/api/public/guest-key/unlock', undefined, { token: secondToken })).status,
    );
  t.equal(statuses.at(-1), 429, 'rate-limited');
  t.equal(lock.commandsReceived(), 1, 'still the one command');

  // Unknown and malformed secrets.
  t.equal(
    (await call('POST', '/api/public/guest-key/unlock', undefined, { token: 'A'.repeat(32) })).status,
    404,
  );
  t.equal((await call('POST', '/api/public/guest-key/unlock', undefined, { token: 'short' })).status, 400);

  // The audit log: every tap with the host's name, never the secret.
  const entries = (await audit.query({ action: 'unlock', limit: 100 })).entries;
  const viaKey = entries.filter((e) => e.detail.via === 'guest_key' && e.actor === anna.member.id);
  t.same([...new Set(viaKey.map((e) => e.detail.host))], [anna.member.name], 'audited with the host by name');
  t.same(
    viaKey
      .slice()
      .reverse()
      .slice(0, 4)
      .map((e) => [e.decision, e.reason]),
    [
      ['denied', 'not_yet'],
      ['granted', 'guest_key'],
      ['denied', 'expired'],
      ['denied', 'revoked'],
    ],
  );
  t.notOk(JSON.stringify(entries).includes(token), 'no secret in the audit log');
  t.equal(
    (await audit.query({ action: 'guest_key_give' })).entries
      .map((e) => e.decision)
      .sort()
      .join(),
    'denied,granted,granted',
  );
});
