import t from 'tap';
import { recordsContract } from '../test-support/records.ts';

/**
 * Events are in the house of their booking or series: on both engines each date carries its booking's site,
 * and a listing may ask for one house's dates. Both houses have a `protel-1`, each with an event at the same
 * hour.
 */

const T0 = Date.UTC(2027, 2, 2, 17, 0);
const HOUR = 3_600_000;

recordsContract(t, "each event date carries its house; one house's dates on asking", async (t, records) => {
  const organiser = await records.member('member');
  const eventIn = async (site: string, title: string, visibility: 'public' | 'members', start = T0) => {
    const booking = await records
      .bookingsAt(site)
      .create({ memberId: organiser.id, spaceId: 'protel-1', start, end: start + HOUR }, T0 - HOUR);
    if (!booking.ok) throw new Error(`no booking in ${site}`);
    return records.events.create(
      {
        title,
        description: '',
        capacity: null,
        visibility,
        bookingId: booking.booking.id,
        seriesId: null,
        organiserId: organiser.id,
      },
      T0 - HOUR,
    );
  };
  await eventIn('nord', 'Repair-Café', 'public');
  const sued = await eventIn('sued', 'Zukunftswerkstatt', 'public');
  await eventIn('sued', 'Mitgliederversammlung', 'members', T0 + HOUR);
  const range = { start: T0 - HOUR, end: T0 + 3 * HOUR };
  const seen = (dates: { title: string; site: string | null }[]) =>
    dates.map((d) => [d.title, d.site]).sort();

  t.same(seen(await records.events.datesWithin(range, 'public')), [
    ['Repair-Café', 'nord'],
    ['Zukunftswerkstatt', 'sued'],
  ]);
  t.same(seen(await records.events.datesWithin(range, 'public', 'sued')), [['Zukunftswerkstatt', 'sued']]);
  t.same(seen(await records.events.datesWithin(range, 'all', 'sued')), [
    ['Mitgliederversammlung', 'sued'],
    ['Zukunftswerkstatt', 'sued'],
  ]);
  t.same(await records.events.datesWithin(range, 'all', 'west'), [], 'no dates of a house without events');
  const [date] = await records.events.datesWithin(range, 'public', 'sued');
  t.equal(
    (await records.events.dateOf(sued.id, date?.dateId ?? ''))?.site,
    'sued',
    'one date, with its house',
  );
  t.same(
    (await records.events.datesOrganisedBy(organiser.id, range)).map((d) => d.site).sort(),
    ['nord', 'sued', 'sued'],
    "the organiser's dates, each with its house",
  );
});

recordsContract(t, 'a lobby token names the house whose lobby it shows', async (t, records) => {
  const sued = await records.lobbyTokens.create('Foyer Süd', T0, 'sued');
  const any = await records.lobbyTokens.create('Foyer', T0);
  t.equal(await records.lobbyTokens.siteOf(sued.token), 'sued');
  t.equal(await records.lobbyTokens.siteOf(any.token), null, 'any house');
  t.equal(await records.lobbyTokens.siteOf('x'.repeat(43)), undefined, 'not ours');
  t.equal(await records.lobbyTokens.verify(sued.token, 'nord'), false, 'not for Nord');
  t.equal(await records.lobbyTokens.verify(sued.token, 'sued'), true);
  t.ok(await records.lobbyTokens.revoke(sued.id, T0 + 1));
  t.equal(await records.lobbyTokens.siteOf(sued.token), undefined, 'revoked');
});
