import t from 'tap';
import {
  buildingNightLoad,
  type Co2Run,
  co2Verdict,
  DEFAULT_ALERT_SETTINGS,
  doorVerdict,
  eventRoomsServedBy,
  followCo2,
  followLock,
  GATEWAY_SUBJECT,
  lastCompletedNight,
  median,
  nightVerdict,
  nightWindow,
  offlineVerdicts,
  reconcile,
} from './alert-rules.ts';

const MIN = 60_000;
const T0 = Date.UTC(2026, 10, 23, 9, 0); // Monday 23 Nov 2026, 10:00 in Berlin (UTC+1)
const settings = DEFAULT_ALERT_SETTINGS;

t.test('CO2: continuously above for the set time', async (t) => {
  const sensor = { device: 'co2-a', space: 'room', freshMs: 15 * MIN };
  // 900 at T0, 1100 at +5, 1300 at +10, 1200 at +20: above since +5 min; 15 min above at +20.
  let run: Co2Run | undefined;
  run = followCo2(run, { ...sensor, value: 900, at: T0 }, settings);
  t.equal(run.aboveSince, null);
  run = followCo2(run, { ...sensor, value: 1100, at: T0 + 5 * MIN }, settings);
  t.equal(run.aboveSince, T0 + 5 * MIN);
  run = followCo2(run, { ...sensor, value: 1300, at: T0 + 10 * MIN }, settings);
  t.equal(run.aboveSince, T0 + 5 * MIN, 'the stretch goes on');
  t.same(co2Verdict('room', [run], T0 + 19 * MIN, settings), {
    state: 'unknown',
    kind: 'co2_high',
    subject: 'room',
  });
  const at20 = co2Verdict('room', [run], T0 + 20 * MIN, settings);
  t.equal(at20.state, 'open', 'above from +5 to +20 = 15 min');
  if (at20.state === 'open') {
    t.equal(at20.condition.since, T0 + 5 * MIN);
    t.equal(at20.condition.value, 1300);
    t.equal(at20.condition.unit, 'ppm');
  }
  // Exactly 1000 is not above the threshold: it clears.
  run = followCo2(run, { ...sensor, value: 1000, at: T0 + 21 * MIN }, settings);
  t.equal(co2Verdict('room', [run], T0 + 21 * MIN, settings).state, 'clear');
});

t.test('CO2: a silence longer than the sensor interval restarts the stretch', async (t) => {
  const sensor = { device: 'co2-a', space: 'room', freshMs: 15 * MIN };
  let run = followCo2(undefined, { ...sensor, value: 1500, at: T0 }, settings);
  run = followCo2(run, { ...sensor, value: 1500, at: T0 + 16 * MIN }, settings);
  t.equal(run.aboveSince, T0 + 16 * MIN, '16 min gap > 15 min fresh');
  t.equal(co2Verdict('room', [run], T0 + 20 * MIN, settings).state, 'unknown');
  // An older reading arriving late changes nothing.
  t.equal(followCo2(run, { ...sensor, value: 400, at: T0 }, settings), run);
  // A stale sensor says nothing about now.
  t.equal(co2Verdict('room', [run], T0 + 32 * MIN, settings).state, 'unknown');
  t.equal(co2Verdict('other', [run], T0 + 20 * MIN, settings).state, 'unknown', 'no sensor there');
});

t.test('CO2: the worst of a room’s sensors, a threshold of 0 minutes', async (t) => {
  const zero = { ...settings, co2Ms: 0 };
  const a = followCo2(undefined, { device: 'a', space: 'hall', value: 1800, at: T0, freshMs: 900_000 }, zero);
  const b = followCo2(
    undefined,
    { device: 'b', space: 'hall', value: 2400, at: T0 + MIN, freshMs: 900_000 },
    zero,
  );
  const v = co2Verdict('hall', [a, b], T0 + MIN, zero);
  t.equal(v.state, 'open');
  if (v.state === 'open') {
    t.equal(v.condition.device, 'b');
    t.equal(v.condition.value, 2400);
    t.equal(v.condition.since, T0, 'the earliest stretch');
  }
});

t.test('devices offline after 3 missed reports', async (t) => {
  const devices = [
    { device: 'meter', space: 'eg', intervalMs: 30_000, lastSeen: T0 },
    { device: 'presence', space: 'desk', intervalMs: 3_600_000, lastSeen: null },
  ];
  const gateway = { online: true, offlineSince: null };
  // meter: limit 90 s. At +90 s still fine, at +91 s offline since T0.
  const at90 = offlineVerdicts(devices, gateway, T0 + 90_000, T0 - 1000);
  t.same(
    at90.map((v) => v.state),
    ['clear', 'clear', 'unknown'],
    'gateway online, meter within 90 s, presence never heard and not yet 3 h',
  );
  const at91 = offlineVerdicts(devices, gateway, T0 + 91_000, T0 - 1000);
  const meter = at91[1];
  t.equal(meter?.state, 'open');
  if (meter?.state === 'open') {
    t.equal(meter.condition.since, T0);
    t.equal(meter.condition.detail.limitMs, 90_000);
  }
  // presence: never heard, watched since T0 - 1 s: 3 h later it is offline, since the watch began.
  const later = offlineVerdicts(devices, gateway, T0 - 1000 + 3 * 3_600_000 + 1, T0 - 1000);
  const presence = later[2];
  t.equal(presence?.state, 'open');
  if (presence?.state === 'open') t.equal(presence.condition.since, T0 - 1000);
});

t.test('a device that sleeps for hours between reports is not offline while it sleeps', async (t) => {
  // A Shelly H&T reports at least every 2 hours (its family's interval) and is off the network between.
  const devices = [{ device: 'ht', space: 'lager', intervalMs: 2 * 3_600_000, lastSeen: T0 }];
  const gateway = { online: true, offlineSince: null };
  t.same(
    offlineVerdicts(devices, gateway, T0 + 5 * 3_600_000, T0).map((v) => v.state),
    ['clear', 'clear'],
    'five hours asleep',
  );
  t.equal(
    offlineVerdicts(devices, gateway, T0 + 6 * 3_600_000 + 1, T0)[1]?.state,
    'open',
    'three reports missed',
  );
});

t.test('gateway offline: one alert, device verdicts unknown', async (t) => {
  const devices = [{ device: 'meter', space: 'eg', intervalMs: 30_000, lastSeen: T0 }];
  const v = offlineVerdicts(devices, { online: false, offlineSince: T0 + 5000 }, T0 + 10 * MIN, T0);
  t.equal(v[0]?.state, 'open');
  if (v[0]?.state === 'open') {
    t.equal(v[0].condition.subject, GATEWAY_SUBJECT);
    t.equal(v[0].condition.since, T0 + 5000);
  }
  t.same(v[1], { state: 'unknown', kind: 'device_offline', subject: 'meter' });
  const unknown = offlineVerdicts(devices, { online: null, offlineSince: null }, T0, T0);
  t.same(unknown[0], { state: 'unknown', kind: 'device_offline', subject: GATEWAY_SUBJECT });
});

t.test('door left unlocked', async (t) => {
  const s = { unlockedMs: 30 * MIN };
  let lock = followLock(undefined, { device: 'l', space: 'protel', state: 'locked', at: T0 });
  t.equal(lock.unlockedSince, null);
  lock = followLock(lock, { device: 'l', space: 'protel', state: 'unlocked', at: T0 + MIN });
  lock = followLock(lock, { device: 'l', space: 'protel', state: 'unlatched', at: T0 + 2 * MIN });
  t.equal(lock.unlockedSince, T0 + MIN, 'unlatching keeps it unlocked since the unlock');
  t.equal(doorVerdict(undefined, 'l', [], T0, s).state, 'unknown', 'nothing heard from the lock');
  // No booking: 30 min after the unlock at +1 → open at +31.
  t.equal(doorVerdict(lock, 'l', [], T0 + 30 * MIN, s).state, 'clear');
  const open = doorVerdict(lock, 'l', [], T0 + 31 * MIN, s);
  t.equal(open.state, 'open');
  if (open.state === 'open') {
    t.equal(open.condition.since, T0 + MIN);
    t.equal(open.condition.detail.unattendedSince, T0 + MIN);
    t.equal(open.condition.detail.state, 'unlatched');
  }
  // A booking covering now: an open door is expected.
  const booking = { start: T0, end: T0 + 60 * MIN };
  t.equal(doorVerdict(lock, 'l', [booking], T0 + 59 * MIN, s).state, 'clear');
  // The booking ended at +60: counted from then, open at +90, not before.
  t.equal(doorVerdict(lock, 'l', [booking], T0 + 89 * MIN, s).state, 'clear');
  const after = doorVerdict(lock, 'l', [booking], T0 + 90 * MIN, s);
  t.equal(after.state, 'open');
  if (after.state === 'open') t.equal(after.condition.detail.unattendedSince, T0 + 60 * MIN);
  // Locked again: clear.
  lock = followLock(lock, { device: 'l', space: 'protel', state: 'locked', at: T0 + 95 * MIN });
  t.equal(doorVerdict(lock, 'l', [booking], T0 + 96 * MIN, s).state, 'clear');
});

t.test('a staff evening event past closing keeps the way to it in use', async (t) => {
  const spaces = [
    { id: 'foyer', floor: 'eg', kind: 'circulation' },
    { id: 'saal', floor: 'eg', kind: 'hall', bookable: true },
    { id: 'atelier', floor: 'og1', kind: 'hall', bookable: true },
    { id: 'desk', floor: 'eg', kind: 'desk', bookable: true },
  ];
  t.same(eventRoomsServedBy(spaces[0] as (typeof spaces)[number], spaces), ['saal'], 'the hall on its floor');
  t.same(
    eventRoomsServedBy({ id: 'saal', floor: 'eg', bookable: true }, spaces),
    [],
    'a bookable space: its own bookings',
  );
  // The foyer is open until 22:00 (T0); the open evening in the hall runs to 23:00 (T0 + 60 min). Its door
  // unlocked at 21:50 is expected open until 23:00 and reported 30 minutes after, not at 22:30.
  const s = { unlockedMs: 30 * MIN };
  const lock = followLock(undefined, { device: 'l', space: 'foyer', state: 'unlocked', at: T0 - 10 * MIN });
  const opening = { start: T0 - 13 * 60 * MIN, end: T0 };
  const evening = { start: T0 - 150 * MIN, end: T0 + 60 * MIN };
  t.equal(
    doorVerdict(lock, 'l', [opening], T0 + 31 * MIN, s).state,
    'open',
    'without the event: after closing',
  );
  t.equal(doorVerdict(lock, 'l', [opening, evening], T0 + 31 * MIN, s).state, 'clear', 'the event is on');
  t.equal(doorVerdict(lock, 'l', [opening, evening], T0 + 89 * MIN, s).state, 'clear');
  t.equal(
    doorVerdict(lock, 'l', [opening, evening], T0 + 90 * MIN, s).state,
    'open',
    '30 min after the event',
  );
});

t.test('night window and the last completed night in site time', async (t) => {
  // 23 Nov 2026 in Berlin is UTC+1: 00:00 local = 22 Nov 23:00 UTC, 05:00 local = 04:00 UTC.
  const w = nightWindow({ year: 2026, month: 11, day: 23 }, 'Europe/Berlin');
  t.same(w, { start: Date.UTC(2026, 10, 22, 23, 0), end: Date.UTC(2026, 10, 23, 4, 0) });
  // Summer: 1 Jul 2026 is UTC+2.
  t.same(nightWindow({ year: 2026, month: 7, day: 1 }, 'Europe/Berlin').end, Date.UTC(2026, 6, 1, 3, 0));
  t.same(lastCompletedNight(Date.UTC(2026, 10, 23, 4, 0), 'Europe/Berlin'), {
    year: 2026,
    month: 11,
    day: 23,
  });
  t.same(lastCompletedNight(Date.UTC(2026, 10, 23, 3, 59), 'Europe/Berlin'), {
    year: 2026,
    month: 11,
    day: 22,
  });
  // The nights the clocks change: 02:00 does not exist on 28 March 2027 (four hours), 02:00–03:00 happens
  // twice on 31 October 2027 (six hours). The rule compares mean power, so a short or long night is fair.
  t.same(nightWindow({ year: 2027, month: 3, day: 28 }, 'Europe/Berlin'), {
    start: Date.UTC(2027, 2, 27, 23, 0),
    end: Date.UTC(2027, 2, 28, 3, 0),
  });
  t.same(nightWindow({ year: 2027, month: 10, day: 31 }, 'Europe/Berlin'), {
    start: Date.UTC(2027, 9, 30, 22, 0),
    end: Date.UTC(2027, 9, 31, 4, 0),
  });
  // New Year's Eve 23:50: the last night over is that morning's; on New Year's morning at 05:00, the new one.
  t.same(lastCompletedNight(Date.UTC(2026, 11, 31, 22, 50), 'Europe/Berlin'), {
    year: 2026,
    month: 12,
    day: 31,
  });
  t.same(lastCompletedNight(Date.UTC(2027, 0, 1, 4, 0), 'Europe/Berlin'), { year: 2027, month: 1, day: 1 });
});

t.test('night base load against the median of previous nights', async (t) => {
  t.equal(
    buildingNightLoad(
      ['a', 'b'],
      new Map([
        ['a', 1200],
        ['b', 800],
      ]),
    ),
    2000,
  );
  t.equal(buildingNightLoad(['a', 'b'], new Map([['a', 1200]])), null, 'a meter without data');
  t.equal(buildingNightLoad([], new Map()), null);
  t.equal(median([3, 1, 2]), 2);
  t.equal(median([4, 1, 3, 2]), 2.5);

  const date = { year: 2026, month: 11, day: 23 };
  const night = (loadW: number | null) => ({ date, window: nightWindow(date, 'Europe/Berlin'), loadW });
  // Previous nights 2000, 2100, 1900, 9000 (a party), null: median of 4 = (2000 + 2100) / 2 = 2050.
  const previous = [2000, 2100, 1900, 9000, null];
  // Threshold: above 2050 × 1.25 = 2562.5 and above 2050 + 500 = 2550.
  t.equal(nightVerdict('site', night(2562), previous, settings).state, 'clear');
  const high = nightVerdict('site', night(2563), previous, settings);
  t.equal(high.state, 'open');
  if (high.state === 'open') {
    t.equal(high.condition.value, 2563);
    t.same(high.condition.detail, { baselineW: 2050, night: '2026-11-23', nights: 4 });
    t.equal(high.condition.since, Date.UTC(2026, 10, 22, 23, 0));
  }
  // A small building: 200 W usual, 400 W is +100 % but only +200 W: no alert.
  t.equal(nightVerdict('site', night(400), [200, 200, 200], settings).state, 'clear');
  t.equal(nightVerdict('site', night(5000), [200, 200], settings).state, 'unknown', 'only 2 nights');
  t.equal(nightVerdict('site', night(null), previous, settings).state, 'unknown');
});

t.test('reconcile verdicts with the stored open alerts', async (t) => {
  const condition = (subject: string, value: number) => ({
    kind: 'co2_high' as const,
    subject,
    space: subject,
    device: 'd',
    since: T0,
    value,
    unit: 'ppm',
    detail: { thresholdPpm: 1000 },
  });
  const stored = [
    { id: 1, kind: 'co2_high' as const, subject: 'a', value: 1200, detail: { thresholdPpm: 1000 } },
    { id: 2, kind: 'co2_high' as const, subject: 'b', value: 1500, detail: { thresholdPpm: 1000 } },
    { id: 3, kind: 'co2_high' as const, subject: 'c', value: 1500, detail: { thresholdPpm: 1000 } },
    { id: 4, kind: 'door_unlocked' as const, subject: 'a', value: null, detail: {} },
  ];
  const changes = reconcile(stored, [
    { state: 'open', condition: condition('a', 1200) },
    { state: 'open', condition: condition('b', 1600) },
    { state: 'clear', kind: 'co2_high', subject: 'c' },
    { state: 'unknown', kind: 'door_unlocked', subject: 'a' },
    { state: 'open', condition: condition('d', 1100) },
    { state: 'clear', kind: 'co2_high', subject: 'e' },
  ]);
  t.same(
    changes.open.map((c) => c.subject),
    ['d'],
  );
  t.same(
    changes.update.map((u) => [u.id, u.condition.value]),
    [[2, 1600]],
    'same value: no update',
  );
  t.same(changes.clear, [3], 'unknown keeps the door alert, clearing a closed one is nothing');
});
