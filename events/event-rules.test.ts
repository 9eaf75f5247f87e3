import t from 'tap';
import { checkEventDetails, type EventDate, localDay, todayInSpace, visibleTo } from './event-rules.ts';

const TZ = 'Europe/Berlin';
const at = (iso: string) => Date.parse(iso);

const date = (over: Partial<EventDate>): EventDate => ({
  eventId: 'e1',
  dateId: 'b1',
  title: 'Offener Abend',
  description: '',
  capacity: null,
  visibility: 'public',
  site: 'haus',
  spaceId: 'hall',
  start: at('2027-03-25T17:00:00Z'),
  end: at('2027-03-25T20:00:00Z'),
  occurrence: null,
  ...over,
});

t.test('event details: trimmed, limits, no control characters', async (t) => {
  const base = {
    title: '  Offener Abend ',
    description: ' Alle willkommen ',
    capacity: 40,
    visibility: 'public' as const,
  };
  t.same(checkEventDetails(base), {
    ok: true,
    details: { title: 'Offener Abend', description: 'Alle willkommen', capacity: 40, visibility: 'public' },
  });
  t.match(checkEventDetails({ ...base, title: '   ' }), { ok: false, message: /title/ });
  t.match(checkEventDetails({ ...base, title: 'x'.repeat(121) }), { ok: false });
  t.match(checkEventDetails({ ...base, description: 'x'.repeat(2001) }), { ok: false });
  t.match(checkEventDetails({ ...base, title: 'Abend\u0007' }), { ok: false, message: /control/ });
  t.match(checkEventDetails({ ...base, capacity: 0 }), { ok: false, message: /capacity/ });
  t.match(checkEventDetails({ ...base, capacity: 2.5 }), { ok: false });
  t.match(checkEventDetails({ ...base, capacity: null }), { ok: true });
  t.match(
    checkEventDetails({ ...base, description: 'Zeile 1\nZeile 2' }),
    { ok: true },
    'line breaks are fine',
  );
});

t.test('who sees what: members-only dates only for members, by start', async (t) => {
  const dates = [
    date({ eventId: 'b', start: at('2027-03-26T10:00:00Z'), visibility: 'members' }),
    date({ eventId: 'a' }),
  ];
  t.same(
    visibleTo(dates, false).map((d) => d.eventId),
    ['a'],
  );
  t.same(
    visibleTo(dates, true).map((d) => d.eventId),
    ['a', 'b'],
  );
});

t.test('today in the discourse space, in site time, across midnight and the clock change', async (t) => {
  // 28 March 2027 is 23 hours long in Berlin.
  t.same(localDay(at('2027-03-28T00:55:00Z'), TZ), {
    start: at('2027-03-27T23:00:00Z'),
    end: at('2027-03-28T22:00:00Z'),
  });
  const dates = [
    date({ eventId: 'morning', start: at('2027-03-28T07:00:00Z'), end: at('2027-03-28T08:00:00Z') }),
    date({ eventId: 'evening', start: at('2027-03-28T17:00:00Z'), end: at('2027-03-28T20:00:00Z') }),
    date({ eventId: 'tomorrow', start: at('2027-03-28T22:00:00Z'), end: at('2027-03-28T23:00:00Z') }),
    date({ eventId: 'elsewhere', spaceId: 'cafe', start: at('2027-03-28T17:00:00Z') }),
    date({ eventId: 'members', visibility: 'members', start: at('2027-03-28T12:00:00Z') }),
  ];
  t.same(
    todayInSpace(dates, 'hall', at('2027-03-28T00:55:00Z'), TZ).map((d) => d.eventId),
    ['morning', 'evening'],
  );
  t.same(
    todayInSpace(dates, 'hall', at('2027-03-28T09:00:00Z'), TZ).map((d) => d.eventId),
    ['evening'],
    'an ended date is gone',
  );
  // New Year's Eve 23:50 Berlin: the open evening on the 31st runs into the new year and still shows.
  const eve = [date({ eventId: 'eve', start: at('2026-12-31T17:00:00Z'), end: at('2027-01-01T00:30:00Z') })];
  t.same(
    todayInSpace(eve, 'hall', at('2026-12-31T22:50:00Z'), TZ).map((d) => d.eventId),
    ['eve'],
  );
});
