import t from 'tap';
import { type OrganisedDate, organiserView, organiserWindow } from './organiser-rules.ts';

const at = (iso: string) => Date.parse(iso);

const date = (over: Partial<OrganisedDate>): OrganisedDate => ({
  eventId: 'e1',
  dateId: 'b1',
  title: 'Offener Abend',
  description: '',
  capacity: 10,
  visibility: 'public',
  site: 'haus',
  spaceId: 'hall',
  start: at('2026-12-17T17:00:00Z'),
  end: at('2026-12-17T19:00:00Z'),
  occurrence: null,
  status: 'booked',
  bookedBy: 'm1',
  ...over,
});
const event = (id: string, capacity: number | null = 10) => ({
  id,
  title: id,
  description: '',
  capacity,
  visibility: 'public' as const,
  bookingId: null,
  seriesId: 's1',
});

t.test('each event with its dates by start, counts of places only', async (t) => {
  const early = date({ dateId: 'b0', start: at('2026-12-10T17:00:00Z'), end: at('2026-12-10T19:00:00Z') });
  const later = date({ dateId: 'b1' });
  const other = date({ eventId: 'e2', dateId: 'c1', capacity: null });
  const stray = date({ eventId: 'e9', dateId: 'x1' });
  const view = organiserView(
    [event('e2', null), event('e1')],
    [later, stray, other, early],
    [
      { eventId: 'e1', dateId: 'b0', confirmed: 10, waiting: 3, attended: 12 },
      { eventId: 'e1', dateId: 'b1', confirmed: 4, waiting: 0, attended: null },
      { eventId: 'e9', dateId: 'x1', confirmed: 1, waiting: 0, attended: null },
    ],
    at('2026-12-13T21:50:00Z'),
  );
  t.same(
    view.map((v) => [v.event.id, v.dates.map((d) => d.date.dateId)]),
    [
      ['e2', ['c1']],
      ['e1', ['b0', 'b1']],
    ],
    "the events in the order given, each date once, by start; no stranger's date",
  );
  const [past, coming] = view[1]?.dates ?? [];
  t.match(past, { taken: 10, waiting: 3, left: 0, attended: 12, signUpOpen: false, countOpen: true });
  t.match(coming, { taken: 4, waiting: 0, left: 6, attended: null, signUpOpen: true, countOpen: false });
  t.match(
    view[0]?.dates[0],
    { taken: 0, waiting: 0, left: null, attended: null },
    'no sign-ups, no capacity',
  );
});

t.test('the count of who came opens when the date begins, sign-up closes then', async (t) => {
  const d = date({});
  const before = organiserView([event('e1')], [d], [], d.start - 1)[0]?.dates[0];
  const begun = organiserView([event('e1')], [d], [], d.start)[0]?.dates[0];
  t.match(before, { signUpOpen: true, countOpen: false });
  t.match(begun, { signUpOpen: false, countOpen: true });
});

t.test(
  'an event without dates in the window is still listed; more taken than capacity leaves none',
  async (t) => {
    const view = organiserView(
      [event('e1', 2)],
      [date({ capacity: 2 })],
      [{ eventId: 'e1', dateId: 'b1', confirmed: 3, waiting: 0, attended: null }],
      0,
    );
    t.equal(view[0]?.dates[0]?.left, 0);
    t.same(organiserView([event('e3')], [], [], 0), [{ event: event('e3'), dates: [] }]);
  },
);

t.test('the window: a month back, 60 days ahead', async (t) => {
  const now = at('2026-12-13T21:50:00Z');
  t.same(organiserWindow(now), {
    start: at('2026-11-12T21:50:00Z'),
    end: at('2027-02-11T21:50:00Z'),
  });
});
