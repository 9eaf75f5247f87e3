import t from 'tap';
import { writeUpcomingBookings } from '../simulations/history/bookings-ahead.ts';
import { recordsContract } from '../test-support/records.ts';
import { house } from '../test-support/two-sites.ts';
import { houseSeeds } from './simulated-history.ts';

/**
 * The demo's bookings ahead in every house of a network (`wesprint start|simulate --sites N`): each house
 * books its own spaces with its own seed (cli/simulated-history.ts `houseSeeds`), in its own time zone. Nord
 * and Süd have the same space ids (desk-1, protel-1): with one seed their bookings would have the same ids,
 * which are the installation's, and Süd would get none.
 */

// Tuesday 2 March 2027, 09:00 UTC: 10:00 in Berlin, 04:00 in New York.
const NOW = Date.UTC(2027, 2, 2, 9, 0);
const NORD = house('nord', 'A1A1A1');
const SUED = {
  ...house('sued', 'B2B2B2'),
  site: { ...house('sued', 'B2B2B2').site, timezone: 'America/New_York' },
};

recordsContract(t, 'the bookings ahead are written in every house, each its own', async (t, records) => {
  const members = [(await records.member('member')).id, (await records.member('member')).id];
  const write = (site: typeof NORD) =>
    writeUpcomingBookings({
      site,
      ...houseSeeds('kaufhaus', site, NORD),
      now: NOW,
      store: records.bookingsAt(site.site.id),
      members,
    });
  const nord = await write(NORD);
  const sued = await write(SUED);
  t.ok(nord.added > 0, `Nord's bookings (${nord.added})`);
  t.ok(sued.added > 0, `Süd's bookings (${sued.added}), though its space ids are Nord's`);
  t.equal(sued.existing, 0, "none taken for Nord's");
  const range = { start: NOW - 86_400_000, end: NOW + 3 * 86_400_000 };
  const nordIds = (await records.bookingsAt('nord').listAll(range)).map((b) => b.id);
  const suedIds = (await records.bookingsAt('sued').listAll(range)).map((b) => b.id);
  t.equal(nordIds.length, nord.added);
  t.equal(suedIds.length, sued.added, "Süd's are Süd's");
  t.notOk(
    suedIds.some((id) => nordIds.includes(id)),
    'no id of one house in the other',
  );
  // Written again (the hourly renewal): nothing new in either.
  t.same(await write(NORD), { added: 0, existing: nord.added, refused: 0 });
  t.same(await write(SUED), { added: 0, existing: sued.added, refused: 0 });
  // The home site keeps its seed: its bookings ahead are the ones a single building always had.
  t.same(houseSeeds('kaufhaus', NORD, NORD), { seed: 'kaufhaus' });
});
