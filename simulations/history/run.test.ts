import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import type { Booking } from '../../bookings/booking-store.ts';
import { DEFAULT_EARLY_MS, DEFAULT_GRACE_MS } from '../../bookings/check-in.ts';
import { SqliteBookingStore } from '../../bookings/sqlite-booking-store.ts';
import { openRecords } from '../../database/database.ts';
import { decodeMessage, loadProfiles } from '../../device-profiles/registry.ts';
import { Quarantine } from '../../gateway/quarantine.ts';
import { ensureDemoMembers } from '../../members/first-start.ts';
import { Identity } from '../../members/identity.ts';
import { loadSite } from '../../site/load.ts';
import type { SiteConfig } from '../../site/site.ts';
import { addUpChannels } from '../../storage/device-totals.ts';
import { SqliteStore } from '../../storage/sqlite-store.ts';
import { DEMO_SITE_FILE } from '../demo-site.ts';
import { createVirtualDevice, loadSimulators } from '../family-simulators.ts';
import { advanceCounter } from '../physics.ts';
import { SimulatedBuilding } from '../simulated-building.ts';
import { writeUpcomingBookings } from './bookings-ahead.ts';
import { readMarker, writeMarker } from './marker.ts';
import { siteMeters, storedCounters } from './meters.ts';
import { REGULAR_PAST_BOOKINGS } from './past-bookings.ts';
import { historyTimes, planBackfill } from './plan.ts';
import { ensureSimulatedMembers } from './population.ts';
import { runBackfill } from './run.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** A slice of the demo building: the ground floor, four desks, a Protel room and the incubator floor. */
function demoSlice(): SiteConfig {
  const demo = loadSite(DEMO_SITE_FILE);
  const keep = (id: string, floor: string) =>
    floor === 'eg' ||
    floor === 'og3' ||
    /^og1-desk-n0[1-4]$/.test(id) ||
    id === 'og1-coworking-nord' ||
    id === 'og1-technik' ||
    id === 'og2-protel-01' ||
    id === 'og2-technik';
  const spaces = demo.spaces.filter((s) => keep(s.id, s.floor));
  const ids = new Set(spaces.map((s) => s.id));
  // The Pro 4PM in the 2nd floor's sub-distribution keeps the output that feeds the kept Protel room.
  const devices = demo.devices
    .filter((d) => ids.has(d.space))
    .map((d) => (d.channels ? { ...d, channels: d.channels.filter((c) => ids.has(c.space)) } : d));
  return { ...demo, spaces, devices };
}

/** Energy the model draws through a meter over [from, to), integrated as the live meter does. */
function modelEnergyWh(site: SiteConfig, deviceId: string, from: number, to: number): number {
  const building = new SimulatedBuilding(site, 'kaufhaus');
  const device = site.devices.find((d) => d.id === deviceId);
  if (!device) throw new Error(deviceId);
  return advanceCounter(
    { wh: 0, startedAt: from, reboots: 0 },
    from,
    to,
    (ms) => building.meterPowerW(device, ms),
    () => undefined,
  ).wh;
}

t.test('a three-day history of a slice of the demo building, through the real ingest path', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-backfill-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const site = demoSlice();
  const profiles = await loadProfiles();
  const records = openRecords(path.join(dir, 'wesprint.db'));
  t.teardown(() => records.close());
  const identity = new Identity(records);
  await ensureDemoMembers(identity, { siteId: site.site.id, dataDir: dir });
  const members = await ensureSimulatedMembers(identity, site.site.id);
  const regulars: string[] = [];
  for (const n of ['ada', 'ben', 'cem'])
    regulars.push((await identity.members.findByEmail(`${n}@${site.site.id}.local`))?.id as string);
  const bookingStore = new SqliteBookingStore(records, site.site.id);
  const store = new SqliteStore({ file: path.join(dir, 'readings.db') });
  t.teardown(() => store.close());
  const quarantine = new Quarantine(path.join(dir, 'gateway.db'));
  t.teardown(() => quarantine.close());

  // Thursday 12 March 2026, 10:00 in Halle: the live simulator starts here.
  const end = Date.UTC(2026, 2, 12, 9, 0);
  const plan = planBackfill(site, profiles, { spanMs: 3 * DAY, end });
  const times = historyTimes(plan);
  t.equal(times.length, 72, 'one instant an hour');

  // What the live gateway already stored: newer than any history, it must stay the latest.
  const co2Device = site.devices.find((d) => d.profile === 'zigbee2mqtt-air-quality');
  if (!co2Device) throw new Error('slice has no CO2 sensor');
  const live = {
    device: co2Device.id,
    channel: '0',
    quantity: 'co2',
    value: 612,
    unit: 'ppm',
    ts: end + 60_000,
    site: site.site.id,
    space: co2Device.space,
  } as const;
  await store.write([live]);

  const options = {
    site,
    profiles,
    plan,
    dataDir: dir,
    store,
    quarantine,
    spoolDir: path.join(dir, 'backfill-spool'),
    bookings: { store: bookingStore, members, regulars },
    // maintenance as at the end of the history: its raw readings are still kept
    now: () => end + 2 * HOUR,
  };
  const report = await runBackfill(options);
  const historyCount = () =>
    records.prepare('SELECT count(*) FROM bookings WHERE start_ms < ?').pluck().get(end) as number;
  t.equal(report.alreadyDone, false);
  t.equal(report.interrupted, false);
  t.equal(report.quarantined, 0, 'every simulated payload decodes');
  t.ok(report.readings > 1000, `${report.readings} readings`);
  t.equal(readMarker(dir)?.finishedAt !== null, true, 'the marker says done');

  await t.test(
    'readings arrive decoded, with the units of the live path, at the simulated instants',
    async (t) => {
      const from = times[0] as number;
      for (const [quantity, unit] of [
        ['energy', 'kWh'],
        ['power', 'W'],
        ['co2', 'ppm'],
        ['occupancy', 'bool'],
      ] as const) {
        const series = await store.query({ quantity, from, to: end, aggregate: 'count' });
        t.ok(series.length > 0, `${quantity} stored`);
        for (const s of series) t.equal(s.unit, unit, `${s.device} ${quantity} in ${unit}`);
      }
      for (const quantity of ['battery', 'linkquality', 'voltage', 'temperature'])
        t.same(
          await store.query({ quantity, from, to: end, aggregate: 'count' }),
          [],
          `no ${quantity} history`,
        );
      const co2 = await store.query({
        quantity: 'co2',
        device: co2Device.id,
        from,
        to: end,
        bucketMs: HOUR,
        aggregate: 'count',
      });
      t.same(
        co2[0]?.points.map((p) => p.ts),
        times,
        'a CO2 reading at every instant of the history, none elsewhere',
      );
    },
  );

  const meters = siteMeters(site, profiles);
  // A meter's counter is the sum of its channels' (the 3EM's phases, the Pro 4PM's outputs).
  const counterSeries = async (device: string) => {
    const series = await store.query({
      quantity: 'energy',
      device,
      from: times[0] as number,
      to: end,
      bucketMs: HOUR,
      aggregate: 'last',
    });
    return addUpChannels(series).get(device)?.points ?? [];
  };

  await t.test('counters run on without a step back, except the one main-meter reboot', async (t) => {
    t.ok(report.reboot, 'one meter rebooted');
    const rebooted = report.reboot?.device;
    t.equal(site.devices.find((d) => d.id === rebooted)?.meter_role, 'main', 'a floor main meter');
    let resets = 0;
    for (const meter of meters) {
      const points = await counterSeries(meter.id);
      t.equal(points.length, times.length, `${meter.id}: a counter at every instant`);
      for (let i = 1; i < points.length; i++) {
        const before = points[i - 1] as { ts: number; value: number };
        const now = points[i] as { ts: number; value: number };
        if (now.value >= before.value) continue;
        resets++;
        t.equal(meter.id, rebooted, `${meter.id} steps back at ${new Date(now.ts).toISOString()}`);
        t.ok(
          before.ts < (report.reboot?.at ?? 0) && (report.reboot?.at ?? 0) <= now.ts,
          'where the reboot is',
        );
        t.ok(now.value * 1000 < modelEnergyWh(site, meter.id, before.ts, now.ts) + 1, 'restarted from 0');
      }
    }
    t.equal(resets, 1, 'exactly one counter reset in the whole history');
  });

  await t.test('what the counters say was used is the energy of the building model', async (t) => {
    for (const meter of meters) {
      const points = await counterSeries(meter.id);
      const first = points[0] as { ts: number; value: number };
      const last = points.at(-1) as { ts: number; value: number };
      const model = modelEnergyWh(site, meter.id, first.ts, last.ts);
      const consumption = await store.query({
        quantity: 'energy',
        device: meter.id,
        from: first.ts,
        to: last.ts + 1,
        aggregate: 'consumption',
      });
      const storedWh = (addUpChannels(consumption).get(meter.id)?.points[0]?.value ?? 0) * 1000;
      if (meter.id === report.reboot?.device) {
        // The energy between the last report before the reboot and the reboot is lost, as in a real meter:
        // at most one step's worth.
        const at = report.reboot.at;
        const stepBefore = points.filter((p) => p.ts < at).at(-1) as { ts: number };
        const lostAtMost = modelEnergyWh(site, meter.id, stepBefore.ts, stepBefore.ts + HOUR);
        t.ok(
          storedWh <= model + 1 && storedWh >= model - lostAtMost - 1,
          `${meter.id}: ${storedWh} of ${model} Wh`,
        );
      } else {
        // Published counters are rounded (Tasmota to 1 Wh, a Plug S to 1 Wmin); nothing else may differ.
        t.ok(Math.abs(storedWh - model) <= 2, `${meter.id}: ${storedWh} Wh stored, ${model} Wh drawn`);
      }
      // The seam: the last counter plus what the meter draws until the end is where the live meter starts.
      const toEnd = modelEnergyWh(site, meter.id, last.ts, end);
      t.ok(
        Math.abs(last.value * 1000 + toEnd - (plan.endCounters[meter.id] as number)) <= 2,
        `${meter.id} ends where the live meter starts`,
      );
    }
  });

  await t.test(
    'the live meters go on from the end of the history: no reset, nothing counted twice',
    async (t) => {
      const building = new SimulatedBuilding(site, plan.seed);
      const topics = new Map(site.devices.map((d) => [d.topic, { id: d.id, profile: d.profile }]));
      const simulators = await loadSimulators();
      for (const meter of meters) {
        const device = createVirtualDevice(simulators, meter, building, end, {
          counterWh: plan.endCounters[meter.id] as number,
          rebootProbabilityPerDay: 0,
        });
        // Every channel's counter once (a Gen2 device repeats its switches in a NotifyStatus).
        const energyWh = (messages: { topic: string; payload: string }[], at: number) => {
          const byChannel = new Map<string, number>();
          for (const r of messages
            .map((m) => decodeMessage(profiles, m.topic, Buffer.from(m.payload), at, topics))
            .flatMap((d) => (d.ok ? d.result.readings : [])))
            if (r.quantity === 'energy' && !byChannel.has(r.channel))
              byChannel.set(r.channel, r.value as number);
          return 1000 * [...byChannel.values()].reduce((a, b) => a + b, 0);
        };
        const last = (await counterSeries(meter.id)).at(-1) as { ts: number; value: number };
        const born = energyWh(device?.birth(end) ?? [], end);
        t.ok(
          Math.abs(born - last.value * 1000 - modelEnergyWh(site, meter.id, last.ts, end)) <= 2,
          `${meter.id}: the first live counter is the last of the history plus what was drawn since`,
        );
        const later = energyWh(device?.report(end + HOUR) ?? [], end + HOUR);
        t.ok(
          Math.abs(later - born - modelEnergyWh(site, meter.id, end, end + HOUR)) <= 2,
          'and counts on from there',
        );
      }
      const stored = await storedCounters(store, site, profiles);
      t.same(
        Object.keys(stored).sort(),
        meters.map((m) => m.id).sort(),
        'a restart finds every meter counter',
      );
    },
  );

  await t.test(
    'bookings follow presence: checked in where the sensor saw someone, released where not',
    async (t) => {
      const all = await bookingStore.listAll({ start: times[0] as number, end });
      const count = historyCount();
      t.equal(all.length, count, 'every booking before the end lies within the history');
      t.equal(report.bookings.added, count);
      t.equal(report.bookings.refused, 0);
      const byKind = (kind: string) =>
        all.filter((b) => site.spaces.find((s) => s.id === b.spaceId)?.kind === kind);
      t.ok(byKind('desk').length >= 5, `${byKind('desk').length} desk bookings`);
      t.ok(byKind('meeting_room').length >= 2, `${byKind('meeting_room').length} meeting room bookings`);
      t.ok(byKind('protel').length >= 0);
      const checkedIn = all.filter((b) => b.status === 'checked_in');
      const released = all.filter((b) => b.status === 'released');
      t.ok(
        checkedIn.length > 0 && released.length > 0,
        `${checkedIn.length} checked in, ${released.length} no-shows`,
      );
      t.ok(released.length < checkedIn.length, 'most people who book come');
      const population = new Set(members);
      const bookers = new Set(all.map((b) => b.memberId).filter((id) => population.has(id)));
      t.ok(bookers.size >= 10, `${bookers.size} simulated members book`);
      for (const id of regulars) {
        const theirs = all.filter((b) => b.memberId === id);
        t.ok(
          theirs.length >= 1 && theirs.length <= REGULAR_PAST_BOOKINGS,
          `a demo member holds ${theirs.length} past bookings`,
        );
        for (const b of theirs) t.equal(site.spaces.find((s) => s.id === b.spaceId)?.kind, 'desk');
      }
      t.equal(
        all.filter((b) => !population.has(b.memberId) && !regulars.includes(b.memberId)).length,
        0,
        'nobody else books',
      );
      for (const b of all) {
        t.ok(b.end <= end && b.start >= (times[0] as number), 'within the history');
        t.ok(b.createdAt <= b.start, 'booked before it began');
      }

      const sensorsOf = (space: string) =>
        site.devices
          .filter((d) => d.space === space && d.profile === 'zigbee2mqtt-occupancy')
          .map((d) => d.id);
      const seen = async (b: Booking, from: number, to: number) => {
        for (const device of sensorsOf(b.spaceId)) {
          const [s] = await store.query({ quantity: 'occupancy', device, from, to, aggregate: 'max' });
          if ((s?.points[0]?.value ?? 0) === 1) return true;
        }
        return false;
      };
      for (const b of checkedIn) {
        const at = b.checkedInAt as number;
        t.ok(at >= b.start - DEFAULT_EARLY_MS && at < b.end, 'checked in during the booking');
        t.ok(await seen(b, at, at + 1), `${b.spaceId}: the sensor said someone was there at the check-in`);
      }
      for (const b of released) {
        t.equal(b.releasedAt, b.start + DEFAULT_GRACE_MS, 'released a grace after the start');
        t.notOk(
          await seen(b, b.start - DEFAULT_EARLY_MS, b.start + DEFAULT_GRACE_MS + 1),
          `${b.spaceId}: nobody seen around the start of a no-show`,
        );
      }
      const active = all.filter((b) => b.status === 'checked_in' || b.status === 'booked');
      for (const a of active)
        for (const b of active)
          if (a !== b && a.spaceId === b.spaceId) t.ok(a.end <= b.start || b.end <= a.start, 'no overlap');
    },
  );

  await t.test(
    'bookings ahead: the rest of today and tomorrow, from the presence model, by the population',
    async (t) => {
      const now = end + 2 * HOUR;
      // Thursday 12:00 in Halle: the next quarter hour is now itself; tomorrow ends Saturday 00:00.
      const until = Date.UTC(2026, 2, 13, 23, 0);
      const ahead: Booking[] = [];
      for (const id of records.prepare('SELECT id FROM bookings WHERE start_ms >= ?').pluck().all(end))
        ahead.push((await bookingStore.get(id as string)) as Booking);
      t.equal(report.ahead.added, ahead.length);
      t.equal(report.ahead.refused, 0);
      t.ok(ahead.length >= 10, `${ahead.length} bookings ahead`);
      const building = new SimulatedBuilding(site, plan.seed);
      const kind = (b: Booking) => site.spaces.find((s) => s.id === b.spaceId)?.kind;
      const startsOn = (b: Booking, day: number) => b.start >= day && b.start < day + DAY;
      const today = Date.UTC(2026, 2, 11, 23, 0);
      t.ok(
        ahead.some((b) => kind(b) === 'desk' && startsOn(b, today)),
        'desks booked for the rest of today',
      );
      t.ok(
        ahead.some((b) => kind(b) === 'desk' && startsOn(b, today + DAY)),
        'desks booked for tomorrow',
      );
      for (const b of ahead) {
        t.ok(b.start >= now && b.start < until, `${b.spaceId}: starts between now and the end of tomorrow`);
        t.equal(b.status, 'booked', 'the live check-in decides');
        t.ok(members.includes(b.memberId), 'a simulated member books');
        t.ok(b.createdAt <= now, 'booked by now');
        if (kind(b) === 'protel') continue;
        const comes = building.peopleIn(b.spaceId, b.start) > 0;
        const nobody =
          building.peopleIn(b.spaceId, b.start - DEFAULT_EARLY_MS) === 0 &&
          building.peopleIn(b.spaceId, b.start) === 0 &&
          building.peopleIn(b.spaceId, b.start + DEFAULT_GRACE_MS) === 0;
        t.ok(comes || nobody, `${b.spaceId}: someone comes at the start, or nobody around it (a no-show)`);
      }
      const active = (await bookingStore.listAll()).filter(
        (b) => b.status === 'checked_in' || b.status === 'booked',
      );
      let overlaps = 0;
      for (const a of active)
        for (const b of active)
          if (a !== b && a.spaceId === b.spaceId && a.start < b.end && b.start < a.end) overlaps++;
      t.equal(overlaps, 0, 'no two active bookings of a space overlap');
      for (const id of regulars)
        t.equal(ahead.filter((b) => b.memberId === id).length, 0, 'the demo members book ahead themselves');

      // Ada books a desk live for tomorrow morning; the hourly writing keeps off her slot.
      const desk = 'og1-desk-n01';
      const slot = { start: today + DAY + 8 * HOUR, end: today + DAY + 12 * HOUR };
      for (const b of await bookingStore.spaceBookings(desk, slot.start, slot.end))
        await bookingStore.cancel(b.id, { memberId: 'staff', staff: true }, now);
      const mine = await bookingStore.create(
        { memberId: regulars[0] as string, spaceId: desk, ...slot },
        now,
      );
      t.ok(mine.ok, 'the slot was free after cancelling');
      const later = await writeUpcomingBookings({
        site,
        seed: plan.seed,
        now: now + HOUR,
        store: bookingStore,
        members,
      });
      t.ok(later.existing > 0, `${later.existing} there already an hour later`);
      t.same(
        (await bookingStore.spaceBookings(desk, slot.start, slot.end)).map((b) => b.memberId),
        [regulars[0]],
        'her desk stays hers',
      );
    },
  );

  await t.test('history does not move the latest values shown live', async (t) => {
    const [latest] = await store.latest({ device: live.device, quantity: 'co2' });
    t.match(latest, { value: 612, ts: live.ts });
  });

  await t.test('running again adds nothing; redoing an interrupted run adds nothing twice', async (t) => {
    const readingsNow = async () =>
      (await store.query({ quantity: 'energy', from: 0, to: end + DAY, aggregate: 'count' })).reduce(
        (n, s) => n + (s.points[0]?.value ?? 0),
        0,
      );
    const bookingsNow = historyCount;
    const readingsBefore = await readingsNow();
    const bookingsBefore = bookingsNow();
    const again = await runBackfill(options);
    t.equal(again.alreadyDone, true, 'the marker says it is done');
    t.equal(again.readings, 0);

    // As if the first run had stopped after its first day: the rest is written again, keyed as before.
    const marker = readMarker(dir);
    if (!marker) throw new Error('no marker');
    writeMarker(dir, {
      ...marker,
      doneUntil: (times[0] as number) + DAY,
      bookingsDone: false,
      finishedAt: null,
    });
    const redo = await runBackfill(options);
    t.equal(redo.alreadyDone, false);
    t.ok(redo.readings > 0, 'the rest was written again');
    t.equal(redo.bookings.added, 0, 'no booking twice');
    t.equal(redo.bookings.existing, bookingsBefore);
    t.equal(redo.ahead.added, 0, 'no booking ahead twice');
    t.equal(await readingsNow(), readingsBefore, 'no reading twice');
    t.equal(bookingsNow(), bookingsBefore);
  });
});
