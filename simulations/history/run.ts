import type { BookingStore, ImportResult } from '../../bookings/booking-store.ts';
import type { DeviceProfile } from '../../device-profiles/profile.ts';
import { DeviceMessageDecoder } from '../../gateway/ingest.ts';
import type { Quarantine } from '../../gateway/quarantine.ts';
import { SpooledWriter } from '../../gateway/spool.ts';
import type { DeviceConfig, SiteConfig } from '../../site/site.ts';
import type { ManagedStore, StoredReading } from '../../storage/store.ts';
import { createVirtualDevice, loadSimulators } from '../family-simulators.ts';
import { DAY_MS } from '../physics.ts';
import type { VirtualDevice } from '../virtual-device.ts';
import type { Visitors } from './booking-habits.ts';
import { writeUpcomingBookings } from './bookings-ahead.ts';
import { type BackfillMarker, readMarker, writeMarker } from './marker.ts';
import { MemoizedBuilding } from './memoized-building.ts';
import { meterHistories, siteMeters } from './meters.ts';
import { historyBookings } from './past-bookings.ts';
import { type BackfillPlan, historyTimes } from './plan.ts';

/**
 * History for a fresh demo: `wesprint simulate --backfill 400d` (and the first `wesprint start`) writes
 * what the simulated building would have reported over the past days, so that the board report has a
 * previous period and a year before to compare with. This is the run; its parts are the files beside it:
 * the span and step a person writes (span.ts), the plan (plan.ts) and the marker file that keeps it and
 * how far it got (marker.ts), the meters' counters and the seam with the live meters (meters.ts), the
 * bookings of the past (past-bookings.ts) and ahead (bookings-ahead.ts), who books (population.ts).
 *
 * Readings: every virtual device of the live simulator (same classes, same vendor payloads, same
 * building model: occupancy curves, CO2 from people and ventilation, energy counters) reports at each
 * step of simulated time (default 1 h, live devices report every 30–300 s). Its messages are not sent
 * over MQTT: 400 days of 159 devices are about 1.5 million messages, which through the broker would take
 * far longer than the "a minute or two" a first start can afford, and the broker adds nothing to history
 * (no one subscribes to the past). Instead each message takes the gateway's own ingest path in process:
 * the gateway's decode (`decodeMessage` with the site's topic map, so device profiles, units and ranges
 * are the live ones), its quarantine for what does not decode, and its durable write path, a
 * SpooledWriter into the time-series store, with the reading time set to the simulated time. Messages a
 * device sends retained (Nuki, availability) are handled as a live subscriber receives them (retain
 * cleared), so they become readings as they do live.
 *
 * Size: after each simulated day the store rolls that day up (SqliteStore.rollUpHistory, or
 * InfluxV1Store.writeHistory, which takes the day's readings whole: InfluxDB refuses raw points past its
 * retention) and keeps raw readings only within the raw retention, so a year of history is hourly rollups
 * plus 30 days of raw readings;
 * and only the quantities a report or chart looks back on are kept (HISTORY_QUANTITIES): the decoded
 * readings of device health (battery, radio, voltage, …) are dropped after the decode.
 *
 * Idempotent: DATA_DIR/backfill.json records the plan and how far it got; a second run adds nothing,
 * an interrupted one goes on from the last finished day with the same plan. Readings are keyed by
 * (device, quantity, ts) and bookings have ids derived from the plan, so redoing a day changes nothing.
 */

/**
 * The quantities history keeps: what the board report, the history charts and the night base-load alert
 * look back on. The rest (room temperature and humidity, and a device's health: battery, radio link,
 * mains voltage and current, illuminance, lock and door state) matters now, not a year ago; leaving its
 * past out keeps a year of history at a fifth of the series (hourly rollups are ~140 bytes a series-hour).
 */
export const HISTORY_QUANTITIES: ReadonlySet<string> = new Set(['energy', 'power', 'occupancy', 'co2']);

export interface BackfillProgress {
  phase: 'meters' | 'readings' | 'bookings' | 'rollups' | 'done';
  daysDone: number;
  days: number;
  readings: number;
  readingsPerSecond: number;
}

export interface BackfillOptions {
  site: SiteConfig;
  profiles: Map<string, DeviceProfile>;
  plan: BackfillPlan;
  /** Where the progress is kept (DATA_DIR): backfill.json. */
  dataDir: string;
  /**
   * In a network, a house other than the home site: its progress is its own marker's (marker.ts), its
   * bookings' ids and bookers come from `bookingSeed` (booking ids are the installation's, and houses
   * share space ids), and the other houses' `visitors` book here now and then as guests.
   */
  house?: { marker: string; bookingSeed: string };
  visitors?: readonly Visitors[];
  store: ManagedStore;
  quarantine: Quarantine;
  /** The SpooledWriter's directory; one writer per directory, so not the live gateway's. */
  spoolDir: string;
  /**
   * Where the bookings go and who makes them (the simulated population; the demo members as regulars
   * with a few past bookings); without, only readings are written.
   */
  bookings?: { store: BookingStore; members: readonly string[]; regulars?: readonly string[] };
  signal?: AbortSignal;
  progress?: (p: BackfillProgress) => void;
  /** The time now, for the store's maintenance at the end (tests choose it); default the clock. */
  now?: () => number;
}

export interface BackfillReport {
  /** Nothing done: the marker says the history is complete. */
  alreadyDone: boolean;
  /** Stopped by the signal before the end (goes on next time). */
  interrupted: boolean;
  messages: number;
  readings: number;
  quarantined: number;
  bookings: ImportResult;
  /** Bookings for the rest of today and tomorrow. */
  ahead: ImportResult;
  /** The meter reboot laid into the history. */
  reboot: { device: string; at: number } | undefined;
  from: number;
  end: number;
  seconds: number;
}

export async function runBackfill(options: BackfillOptions): Promise<BackfillReport> {
  const started = performance.now();
  const { site, profiles, plan, store } = options;
  const times = historyTimes(plan);
  const report: BackfillReport = {
    alreadyDone: false,
    interrupted: false,
    messages: 0,
    readings: 0,
    quarantined: 0,
    bookings: { added: 0, existing: 0, refused: 0 },
    ahead: { added: 0, existing: 0, refused: 0 },
    reboot: undefined,
    from: times[0] ?? plan.end,
    end: plan.end,
    seconds: 0,
  };
  const markerHouse = options.house?.marker;
  const bookingSeed = options.house?.bookingSeed ?? plan.seed;
  const visitors = options.visitors ? { visitors: options.visitors } : {};
  const kept = readMarker(options.dataDir, markerHouse);
  const same = kept !== undefined && JSON.stringify(kept.plan) === JSON.stringify(plan);
  if (same && kept.finishedAt !== null) return { ...report, alreadyDone: true };
  const marker: BackfillMarker = same
    ? kept
    : { plan, doneUntil: report.from, bookingsDone: false, finishedAt: null };
  writeMarker(options.dataDir, marker, markerHouse);

  const stepsPerDay = Math.max(1, Math.round(DAY_MS / plan.stepMs));
  const days = Math.ceil(times.length / stepsPerDay);
  const progress = (phase: BackfillProgress['phase'], daysDone: number) => {
    const seconds = (performance.now() - started) / 1000;
    options.progress?.({
      phase,
      daysDone,
      days,
      readings: report.readings,
      readingsPerSecond: seconds > 0 ? Math.round(report.readings / seconds) : 0,
    });
  };

  const building = new MemoizedBuilding(site, plan.seed);
  progress('meters', 0);
  const meters = meterHistories(building, siteMeters(site, profiles), times, plan.end, plan.endCounters);
  for (const [device, history] of meters) {
    if (history.rebootAt !== undefined) report.reboot = { device, at: history.rebootAt };
  }

  let first = times.findIndex((t) => t >= marker.doneUntil);
  if (first < 0) first = times.length;
  if (first < times.length) {
    const simulators = await loadSimulators();
    const devices: { device: VirtualDevice; every: number }[] = [];
    for (const config of site.devices) {
      const meter = meters.get(config.id);
      const device = createVirtualDevice(simulators, config, building, times[first] as number, {
        rebootProbabilityPerDay: 0,
        ...(meter ? { counterAt: meter.counterAt } : {}),
      });
      if (!device) continue;
      devices.push({
        device,
        every: Math.max(1, Math.round((device.firmwareIntervalS * 1000) / plan.stepMs)),
      });
    }
    const decoder = new DeviceMessageDecoder(site, profiles, options.quarantine);
    const writer = new SpooledWriter({ store, dir: options.spoolDir });
    // Each store takes a history its own way (storage/store.ts): InfluxDB a day's readings whole, SQLite
    // through the spool like live readings, rolling the day up from its own table afterwards.
    const takesWhole = 'writeHistory' in store;
    const chunkReadings: StoredReading[] = [];
    const ingest = (topic: string, text: string, at: number) => {
      report.messages++;
      const decoded = decoder.decode(topic, Buffer.from(text), at);
      if (decoded.outcome === 'quarantined') report.quarantined++;
      if (decoded.outcome !== 'decoded') return;
      for (const r of decoded.readings) {
        if (!HISTORY_QUANTITIES.has(r.quantity)) continue;
        if (takesWhole) chunkReadings.push(r);
        else writer.add(r);
        report.readings++;
      }
    };
    try {
      for (let chunk = first; chunk < times.length; chunk += stepsPerDay) {
        if (options.signal?.aborted) {
          report.interrupted = true;
          break;
        }
        const last = Math.min(times.length, chunk + stepsPerDay);
        for (let i = chunk; i < last; i++) {
          const t = times[i] as number;
          for (const { device, every } of devices) {
            if (i !== first && i % every !== 0) continue;
            const messages = i === first ? device.birth(t) : device.report(t);
            for (const m of messages) ingest(m.topic, m.payload, t);
          }
        }
        const to = last < times.length ? (times[last] as number) : plan.end;
        if (takesWhole) {
          await store.writeHistory(chunkReadings.splice(0), times[chunk] as number, to, plan.end);
        } else {
          await writer.drained();
          await store.rollUpHistory(times[chunk] as number, to, plan.end);
        }
        // The store answers in microtasks: without a real turn of the event loop, no signal would get through.
        await new Promise<void>((resolve) => setImmediate(resolve));
        marker.doneUntil = to;
        writeMarker(options.dataDir, marker, markerHouse);
        progress('readings', Math.ceil(last / stepsPerDay));
      }
    } finally {
      await writer.close();
    }
  }

  if (!report.interrupted && options.bookings && !marker.bookingsDone) {
    progress('bookings', days);
    const sensors = new Map<string, DeviceConfig[]>();
    for (const d of site.devices) {
      if (!profiles.get(d.profile)?.quantities.includes('occupancy')) continue;
      sensors.set(d.space, [...(sensors.get(d.space) ?? []), d]);
    }
    // What the occupancy sensors of the space reported at that instant (the same model call they make).
    const occupied = (spaceId: string, t: number) =>
      (sensors.get(spaceId) ?? []).some((d) => building.peopleIn(d.space, t) > 0);
    const bookings = historyBookings({
      site,
      seed: bookingSeed,
      ...visitors,
      times,
      end: plan.end,
      occupied,
      members: options.bookings.members,
      ...(options.bookings.regulars ? { regulars: options.bookings.regulars } : {}),
    });
    // Newest first: each overlap check then meets only the few bookings after it, not the whole past.
    bookings.reverse();
    for (let i = 0; i < bookings.length; i += 2000) {
      const r = await options.bookings.store.importBookings(bookings.slice(i, i + 2000));
      report.bookings.added += r.added;
      report.bookings.existing += r.existing;
      report.bookings.refused += r.refused;
    }
    marker.bookingsDone = true;
    writeMarker(options.dataDir, marker, markerHouse);
  }

  const now = options.now ?? Date.now;
  if (!report.interrupted && options.bookings) {
    report.ahead = await writeUpcomingBookings({
      site,
      seed: bookingSeed,
      ...visitors,
      now: now(),
      store: options.bookings.store,
      members: options.bookings.members,
      building,
    });
  }

  if (!report.interrupted) {
    progress('rollups', days);
    await store.maintain(now());
    marker.finishedAt = now();
    writeMarker(options.dataDir, marker, markerHouse);
    progress('done', days);
  }
  report.seconds = (performance.now() - started) / 1000;
  return report;
}
