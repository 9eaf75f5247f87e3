import t from 'tap';
import { recordsContract } from '../test-support/records.ts';

/** The guest keys' store on both engines: only the hash kept, found by the link's secret, listed, revoked once. */

const T = Date.parse('2026-12-17T12:00:00Z');

recordsContract(t, 'a key is kept by its hash, listed for its host, revoked once', async (t, records) => {
  const host = await records.member('member');
  const booked = await records.bookings.create(
    { memberId: host.id, spaceId: 'hall', start: T, end: T + 3_600_000 },
    T - 86_400_000,
  );
  if (!booked.ok) throw new Error('refused');
  const made = await records.guestKeys.create(
    { hostId: host.id, spaceId: 'hall', bookingId: booked.booking.id, label: 'Referentin' },
    T - 3_600_000,
  );
  t.match(made.token, /^[A-Za-z0-9_-]{32}$/);
  t.equal(
    await records.scalar(`SELECT count(*) FROM guest_keys WHERE token_hash = '${made.token}'`),
    0,
    'not the secret',
  );
  t.same(await records.guestKeys.byToken(made.token), made.key);
  // Flip the last character to one it is not, so the near miss is never the token itself.
  const nearMiss = `${made.token.slice(0, 31)}${made.token.endsWith('x') ? 'y' : 'x'}`;
  t.equal(await records.guestKeys.byToken(nearMiss), undefined, 'one character off is no key');
  const second = await records.guestKeys.create(
    { hostId: host.id, spaceId: 'hall', bookingId: booked.booking.id, label: '' },
    T - 60_000,
  );
  t.same(
    (await records.guestKeys.listByHost(host.id)).map((k) => k.id),
    [second.key.id, made.key.id],
    'newest first',
  );
  t.equal(await records.guestKeys.revoke(made.key.id, host.id, T), true);
  t.equal(await records.guestKeys.revoke(made.key.id, host.id, T + 1), false, 'once');
  t.match(await records.guestKeys.get(made.key.id), { revokedAt: T, revokedBy: host.id });
  t.same(await records.guestKeys.listByHost('nobody'), []);
});

recordsContract(t, "a key is of its booking's house: the same room id in two houses", async (t, records) => {
  const host = await records.member('member');
  const keyIn = async (site: string) => {
    const booked = await records
      .bookingsAt(site)
      .create({ memberId: host.id, spaceId: 'hall', start: T, end: T + 3_600_000 }, T - 86_400_000);
    if (!booked.ok) throw new Error(`refused in ${site}`);
    return records.guestKeys.create(
      { hostId: host.id, spaceId: 'hall', bookingId: booked.booking.id, label: '' },
      T - 3_600_000,
    );
  };
  const nord = await keyIn('nord');
  const sued = await keyIn('sued');
  t.equal(nord.key.site, 'nord', 'as made');
  t.equal(sued.key.site, 'sued');
  t.equal((await records.guestKeys.byToken(sued.token))?.site, 'sued', 'as found by its link');
  t.equal((await records.guestKeys.get(nord.key.id))?.site, 'nord');
  t.same(
    (await records.guestKeys.listByHost(host.id)).map((k) => k.site).sort(),
    ['nord', 'sued'],
    'as listed',
  );
});
