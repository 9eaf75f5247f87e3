import t from 'tap';
import { allEventsFilter, EVENT_TYPES, eventTopic, parseEvent } from './events.ts';
import { parseBuildingMessage } from './live-feed.ts';

const AT = Date.parse('2026-11-02T09:00:00Z');
const payload = (o: unknown) => Buffer.from(JSON.stringify(o));
const booking = {
  type: 'booking-made',
  id: '0b6f5c8e-6a43-4a39-9f4e-2f3b1d7c9a10',
  site: 'kaufhaus',
  space: 'og2-protel-01',
  at: AT,
  bookingId: 'b-1',
  start: AT + 3_600_000,
  end: AT + 7_200_000,
};

t.test('the topic of each event type, one level under events/', async (t) => {
  t.equal(eventTopic('kaufhaus', 'booking-no-show'), 'wesprint/kaufhaus/events/booking-no-show');
  t.equal(allEventsFilter('kaufhaus'), 'wesprint/kaufhaus/events/+');
  t.same(
    [...EVENT_TYPES],
    [
      'booking-made',
      'booking-started',
      'booking-ended',
      'booking-no-show',
      'booking-checked-in',
      'booking-cancelled',
      'booking-moved',
      'alert-opened',
      'alert-cleared',
      'door-opened',
    ],
  );
});

t.test('each kind of event parsed, only its own fields kept', async (t) => {
  const topic = eventTopic('kaufhaus', 'booking-made');
  const parsed = parseEvent('kaufhaus', topic, payload({ ...booking, memberId: 'm-1', email: 'a@b.c' }));
  t.same(parsed, { ok: true, event: booking }, 'a member id or e-mail slipped in is not passed on');
  const alert = {
    type: 'alert-opened',
    id: 'e-2',
    site: 'kaufhaus',
    space: null,
    at: AT,
    alertId: 7,
    kind: 'device_offline',
    subject: 'eg-main-meter',
    device: 'eg-main-meter',
  };
  t.same(parseEvent('kaufhaus', eventTopic('kaufhaus', 'alert-opened'), payload(alert)), {
    ok: true,
    event: alert,
  });
  const door = {
    type: 'door-opened',
    id: 'e-3',
    site: 'kaufhaus',
    space: 'og2-protel-01',
    at: AT,
    device: 'og2-protel-01-lock',
    commandId: 'c-1',
  };
  t.same(parseEvent('kaufhaus', eventTopic('kaufhaus', 'door-opened'), payload(door)), {
    ok: true,
    event: door,
  });
  const moved = {
    ...booking,
    type: 'booking-moved',
    start: AT + 7_200_000,
    end: AT + 10_800_000,
    previousStart: booking.start,
    previousEnd: booking.end,
  };
  const movedTopic = eventTopic('kaufhaus', 'booking-moved');
  t.same(
    parseEvent('kaufhaus', movedTopic, payload(moved)),
    { ok: true, event: moved },
    'moved: before and after',
  );
  t.match(
    parseEvent('kaufhaus', movedTopic, payload({ ...moved, previousEnd: undefined })),
    { ok: false, reason: /previousStart < previousEnd/ },
    'a move without the times before is no move',
  );
  t.same(
    parseEvent('kaufhaus', topic, payload({ ...booking, previousStart: 1e12, previousEnd: 2e12 })),
    { ok: true, event: booking },
    'only a move carries the times before',
  );
  t.match(
    parseBuildingMessage('kaufhaus', eventTopic('kaufhaus', 'door-opened'), payload(door)),
    { kind: 'event', event: door },
    'the building feed reads events among its messages',
  );
});

t.test('what is not an event of this site is refused with the reason', async (t) => {
  const topic = eventTopic('kaufhaus', 'booking-made');
  const cases: [string, string, Buffer, RegExp][] = [
    ['other site', eventTopic('other', 'booking-made'), payload(booking), /not an event topic of this site/],
    ['unknown type', 'wesprint/kaufhaus/events/booking-lost', payload(booking), /unknown event type/],
    ['deeper topic', `${topic}/x`, payload(booking), /not an event topic/],
    ['not JSON', topic, Buffer.from('{'), /not JSON/],
    ['array', topic, payload([booking]), /not an object/],
    ['type differs', eventTopic('kaufhaus', 'booking-ended'), payload(booking), /type in payload differs/],
    ['site differs', topic, payload({ ...booking, site: 'other' }), /site in payload differs/],
    ['seconds, not ms', topic, payload({ ...booking, at: AT / 1000 }), /epoch milliseconds/],
    ['no id', topic, payload({ ...booking, id: '' }), /id missing/],
    ['end before start', topic, payload({ ...booking, end: booking.start }), /start < end/],
    ['no space', topic, payload({ ...booking, space: null }), /needs space/],
    ['too large', topic, payload({ ...booking, pad: 'x'.repeat(3000) }), /too large/],
    [
      'an alert without its id',
      eventTopic('kaufhaus', 'alert-cleared'),
      payload({ type: 'alert-cleared', id: 'e', site: 'kaufhaus', at: AT, kind: 'co2_high', subject: 's' }),
      /needs alertId/,
    ],
    [
      'a door without its command',
      eventTopic('kaufhaus', 'door-opened'),
      payload({ type: 'door-opened', id: 'e', site: 'kaufhaus', at: AT, space: 'x', device: 'y' }),
      /needs space, device, commandId/,
    ],
  ];
  for (const [what, topicOf, body, reason] of cases) {
    const parsed = parseEvent('kaufhaus', topicOf, body);
    t.equal(parsed.ok, false, what);
    if (!parsed.ok) t.match(parsed.reason, reason, what);
  }
});
