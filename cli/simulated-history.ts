import { spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import type { Logger } from 'pino';
import type { BookingStore, ImportResult } from '../bookings/booking-store.ts';
import { loadProfiles } from '../device-profiles/registry.ts';
import { Quarantine } from '../gateway/quarantine.ts';
import { ensureDemoMembers } from '../members/first-start.ts';
import { Identity } from '../members/identity.ts';
import { openRecordStores, type Records } from '../records/records.ts';
import { BackfillError } from '../simulations/history/backfill-error.ts';
import { writeUpcomingBookings } from '../simulations/history/bookings-ahead.ts';
import { writeCivicSeries } from '../simulations/history/civic-series.ts';
import { readMarker, writeMarker } from '../simulations/history/marker.ts';
import { type FamilyQuantities, storedCounters } from '../simulations/history/meters.ts';
import { type BackfillPlan, historyTimes, planBackfill } from '../simulations/history/plan.ts';
import { demoMemberIds, ensureSimulatedMembers } from '../simulations/history/population.ts';
import { type BackfillProgress, type BackfillReport, runBackfill } from '../simulations/history/run.ts';
import { DEFAULT_STEP_MS, parseSpan, parseStep } from '../simulations/history/span.ts';
import { SimulatedBuilding } from '../simulations/simulated-building.ts';
import { loadSite } from '../site/load.ts';
import type { DeviceConfig, SiteConfig } from '../site/site.ts';
import { openStore } from '../storage/open.ts';
import type { Settings } from './settings.ts';

/**
 * The simulated building's history, from the command line: `wesprint simulate --backfill 400d [--step 1h]`
 * writes it and exits; the first `wesprint start` writes it in a child process running that command
 * (BACKFILL_DAYS, default 430 days; 0: none), and a running demo keeps its bookings ahead, renewed hourly.
 * The work itself is simulations/history/.
 */

const DAY_MS = 86_400_000;

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** One line per simulated month or so, on stderr: how far, how fast. */
function progressPrinter(write: (line: string) => void): (p: BackfillProgress) => void {
  let lastDays = -1;
  return (p) => {
    if (p.phase === 'readings' && p.daysDone !== p.days && p.daysDone - lastDays < 30) return;
    lastDays = p.daysDone;
    const what =
      p.phase === 'meters'
        ? 'integrating the meters'
        : p.phase === 'readings'
          ? `${p.daysDone}/${p.days} days, ${p.readings} readings, ${p.readingsPerSecond} readings/s`
          : p.phase === 'bookings'
            ? 'writing the bookings'
            : p.phase === 'rollups'
              ? 'store maintenance'
              : 'done';
    write(`backfill: ${what}`);
  };
}

const aheadLine = (r: ImportResult) =>
  `${r.added} bookings ahead added (${r.existing} there already, ${r.refused} refused)`;

function summary(r: BackfillReport): string {
  if (r.alreadyDone) return 'backfill: the history is complete already; nothing to do';
  const reboot = r.reboot ? `; meter ${r.reboot.device} rebooted ${new Date(r.reboot.at).toISOString()}` : '';
  return (
    `backfill: ${day(r.from)} … ${day(r.end)}${r.interrupted ? ' (interrupted; the next run goes on)' : ''}: ` +
    `${r.messages} messages, ${r.readings} readings, ${r.quarantined} quarantined, ` +
    `${r.bookings.added} bookings added (${r.bookings.existing} there already, ${r.bookings.refused} refused), ` +
    `${aheadLine(r.ahead)}` +
    `${reboot}; ${r.seconds.toFixed(1)} s`
  );
}

interface HistoryParts {
  bookings: BookingStore;
  members: string[];
  regulars: string[];
  quarantine: Quarantine;
  /** The civic series of the public space as public events with sign-ups (simulations/history/civic-series.ts). */
  civic(from: number, now: number): Promise<string>;
  close(): Promise<void>;
}

async function openHistoryParts(settings: Settings, site: SiteConfig): Promise<HistoryParts> {
  const records = await openRecordStores(
    { dataDir: settings.dataDir, databaseUrl: settings.databaseUrl },
    { homeSite: site.site.id },
  );
  const bookings = records.bookingsAt(site.site.id);
  const identity = new Identity(records);
  await ensureDemoMembers(identity, { siteId: site.site.id, dataDir: settings.dataDir });
  const members = await ensureSimulatedMembers(identity, site.site.id);
  const quarantine = new Quarantine(path.join(settings.dataDir, 'gateway.db'));
  const organiser = await identity.members.findByEmail(`facility@${site.site.id}.local`);
  return {
    async civic(from, now) {
      if (!organiser) return 'no facility manager to organise the civic series';
      const r = await writeCivicSeries({
        site,
        now,
        from,
        organiserId: organiser.id,
        bookings,
        events: records.events,
        signUps: records.signUps,
      });
      return `civic series: ${r.series} new (${r.dates} dates, ${r.skipped} taken), ${r.signUps} sign-ups`;
    },
    bookings,
    members,
    regulars: await demoMemberIds(identity, site.site.id),
    quarantine,
    async close() {
      quarantine.close();
      await records.close();
    },
  };
}

/** `wesprint simulate --backfill <span> [--step <step>]`. */
export async function runBackfillCommand(args: string[], settings: Settings): Promise<number> {
  let spanMs: number;
  let stepMs: number;
  try {
    const { values } = parseArgs({
      args,
      options: { backfill: { type: 'string' }, step: { type: 'string' } },
      strict: true,
    });
    if (values.backfill === undefined)
      throw new BackfillError('--backfill needs a span, e.g. --backfill 400d');
    spanMs = parseSpan(values.backfill);
    stepMs = values.step === undefined ? DEFAULT_STEP_MS : parseStep(values.step);
  } catch (err) {
    console.error(`wesprint simulate: ${(err as Error).message}`);
    return 2;
  }
  const site = loadSite(settings.siteFile);
  const profiles = await loadProfiles();
  const store = openStore(settings);
  const parts = await openHistoryParts(settings, site);
  const abort = new AbortController();
  const onSignal = () => {
    // Ctrl+C reaches the whole process group, and `start` then sends SIGTERM too: say it once.
    if (abort.signal.aborted) return;
    console.error('backfill: stopping after the current day (run again to go on)');
    abort.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const kept = readMarker(settings.dataDir);
    let plan: BackfillPlan;
    if (kept) {
      if (kept.finishedAt !== null) {
        const ahead = await writeUpcomingBookings({
          site,
          seed: kept.plan.seed,
          now: Date.now(),
          store: parts.bookings,
          members: parts.members,
        });
        console.error(`backfill: ${await parts.civic(kept.plan.end - kept.plan.spanMs, Date.now())}`);
        console.log(
          `backfill: ${settings.dataDir} has its history already (${day(kept.plan.end - kept.plan.spanMs)} … ${day(kept.plan.end)}); ${aheadLine(ahead)}`,
        );
        return 0;
      }
      plan = kept.plan;
      // A first `start` plans the history before this process runs: nothing written yet is no interruption.
      const begun = kept.doneUntil > (historyTimes(plan)[0] ?? plan.end);
      console.error(
        begun
          ? `backfill: going on with the interrupted history up to ${day(plan.end)}`
          : `backfill: writing ${Math.round(plan.spanMs / DAY_MS)} days of history up to ${day(plan.end)}`,
      );
    } else {
      if ((await store.latest()).length > 0) {
        console.error(
          `wesprint simulate: ${settings.influx?.api === 'v1' ? `InfluxDB database ${settings.influx.database}` : settings.dataDir} has readings already; history is only written before the first ones, into a store without readings`,
        );
        return 1;
      }
      plan = planBackfill(site, profiles, { spanMs, stepMs });
    }
    // Before the history's bookings: the series take the hall first.
    console.error(`backfill: ${await parts.civic(plan.end - plan.spanMs, Date.now())}`);
    const report = await runBackfill({
      site,
      profiles,
      plan,
      dataDir: settings.dataDir,
      store,
      quarantine: parts.quarantine,
      spoolDir: path.join(settings.dataDir, 'backfill-spool'),
      bookings: { store: parts.bookings, members: parts.members, regulars: parts.regulars },
      signal: abort.signal,
      progress: progressPrinter((line) => console.error(line)),
    });
    console.log(summary(report));
    return report.interrupted ? 1 : 0;
  } catch (err) {
    if (err instanceof BackfillError) {
      console.error(`wesprint simulate: ${err.message}`);
      return 1;
    }
    throw err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await parts.close();
    await store.close();
  }
}

/** What `wesprint start` needs to give the simulated building a past. */
export interface StartupHistory {
  /** The counter a live meter starts from: the store's newest, else the end of the planned history. */
  counterWh(device: DeviceConfig): number | undefined;
  /**
   * Writes the planned history in a child process (`wesprint simulate --backfill`), so that the live
   * building keeps its event loop and gets the other core; its progress goes to the log. stop()
   * interrupts it after the current day (the next start goes on).
   */
  start(logger: Logger): { stop(): Promise<void>; line: string } | undefined;
  /**
   * Keeps the simulated members' bookings ahead (see keepBookingsAhead), or undefined when the demo has no
   * past (BACKFILL_DAYS=0) or runs faster than real time. Background work: the leader of the API processes
   * on the records runs it (cli/parts.ts).
   */
  bookingsAhead: { line: string; start(logger: Logger): { stop(): Promise<void> } } | undefined;
}

/**
 * The running demo keeps its bookings ahead: at the start and then every hour it writes what the
 * simulated population books for the rest of today and tomorrow (writeUpcomingBookings: stable ids, the
 * no-overlap rule), so the lobby and the live check-in have bookings on every day of a demo, however long
 * it runs, while the first start's history is still being written or long after. Only at 1x speed (at
 * any other speed the simulated sensors are on another clock than the bookings) and with BACKFILL_DAYS
 * above 0 (a building asked to have no past, as the tests' running systems are, gets no bookings either).
 */
const AHEAD_EVERY_MS = 60 * 60_000;

function keepBookingsAhead(
  settings: Settings,
  houses: readonly SiteConfig[],
  seed: string,
  logger: Logger,
): { stop(): void } | undefined {
  const log = logger.child({ part: 'bookings-ahead' });
  const home = houses[0];
  if (!home) return undefined;
  // Opened at the first write (PostgreSQL may still be coming up) and again after a failed opening.
  const stopped = new AbortController();
  let opening: Promise<Records> | undefined;
  const members = new Map<string, string[]>();
  const write = async () => {
    let records: Records;
    try {
      opening ??= openRecordStores(
        { dataDir: settings.dataDir, databaseUrl: settings.databaseUrl },
        { signal: stopped.signal, homeSite: home.site.id },
      );
      records = await opening.catch((err: Error) => {
        opening = undefined;
        throw err;
      });
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'bookings ahead not written this time');
      return;
    }
    // Every house of the network (SITES_DIR), each in its own time zone and opening hours: a house's
    // bookings are its own (Records.bookingsAt), booked by its own simulated members.
    for (const house of houses) {
      const id = house.site.id;
      try {
        let own = members.get(id) ?? [];
        if (own.length === 0) {
          own = await ensureSimulatedMembers(new Identity(records), id);
          members.set(id, own);
        }
        const r = await writeUpcomingBookings({
          site: house,
          ...houseSeeds(seed, house, home),
          now: Date.now(),
          store: records.bookingsAt(id),
          members: own,
        });
        log.info({ ...r, ...(houses.length > 1 ? { site: id } : {}) }, 'bookings ahead written');
      } catch (err) {
        // A busy records file or the like: the next hour tries again; the demo goes on.
        log.warn({ err: (err as Error).message, site: id }, 'bookings ahead not written this time');
      }
    }
  };
  let writing = write();
  const timer = setInterval(() => {
    writing = writing.then(write);
  }, AHEAD_EVERY_MS);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      stopped.abort();
      // After the write under way, if any.
      void writing.finally(() => opening?.then((records) => records.close()).catch(() => undefined));
    },
  };
}

/**
 * A house's seeds for its bookings ahead. Booking ids are the installation's (stable on seed, space and
 * start), and the houses of a network share space ids, so each house other than the home site books with a
 * seed of its own; its presence model stays its live simulator's (SimulatedBuilding's default seed), so the
 * bookings follow the people its sensors see.
 */
export function houseSeeds(
  seed: string,
  house: SiteConfig,
  home: SiteConfig,
): { seed: string; building?: SimulatedBuilding } {
  if (house.site.id === home.site.id) return { seed };
  return { seed: `${seed}@${house.site.id}`, building: new SimulatedBuilding(house) };
}

const BIN = path.resolve(import.meta.dirname, '../bin/wesprint.js');
/**
 * How long a stopping `start` gives the history process before killing it: it may be deep in a day's
 * computation and hear no signal, and a stop must fit in docker stop's 10 s. Nothing is lost: the marker
 * says which days are done, and a day half written is written again (the stores' keys are idempotent).
 */
const CHILD_STOP_MS = 4000;

/**
 * Decides, before the simulated building starts, whether it gets a history: only when DATA_DIR has no
 * readings yet (or an interrupted history to finish). The plan is written down at once, so that the live
 * meters start where the history will end.
 */
export async function startupHistory(
  settings: Settings,
  site: SiteConfig,
  profiles: FamilyQuantities,
  /** The network's other houses (SITES_DIR): their bookings are kept ahead too (no history of their own). */
  others: readonly SiteConfig[] = [],
): Promise<StartupHistory> {
  const days = settings.backfillDays;
  const store = openStore(settings);
  let stored: Record<string, number> = {};
  let plan: BackfillPlan | undefined;
  let seed = 'kaufhaus';
  try {
    if (!(await store.ping())) {
      // A store that does not answer yet (InfluxDB starting): the live meters start afresh, no history.
      return { counterWh: () => undefined, start: () => undefined, bookingsAhead: undefined };
    }
    stored = await storedCounters(store, site, profiles);
    const kept = readMarker(settings.dataDir);
    if (kept) {
      seed = kept.plan.seed;
      if (kept.finishedAt === null) plan = kept.plan;
    } else if (days > 0 && (await store.latest()).length === 0) {
      plan = planBackfill(site, profiles, { spanMs: days * DAY_MS });
      writeMarker(settings.dataDir, {
        plan,
        doneUntil: plan.end - plan.spanMs,
        bookingsDone: false,
        finishedAt: null,
      });
    }
  } finally {
    await store.close();
  }
  return {
    counterWh: (device) => stored[device.id] ?? plan?.endCounters[device.id],
    // BACKFILL_DAYS=0 (the tests' running systems) asks for a building without a past: none ahead either.
    bookingsAhead:
      days > 0 && settings.simSpeed === 1
        ? {
            line: `Bookings        the simulated members' bookings for today and tomorrow, renewed hourly${others.length > 0 ? `, in each of ${others.length + 1} houses` : ''}`,
            start(logger) {
              const ahead = keepBookingsAhead(settings, [site, ...others], seed, logger);
              return { stop: async () => ahead?.stop() };
            },
          }
        : undefined,
    start(logger) {
      if (!plan) return undefined;
      const log = logger.child({ part: 'backfill' });
      const span = `${Math.round(plan.spanMs / DAY_MS)}d`;
      const child = spawn(process.execPath, [BIN, 'simulate', '--backfill', span], {
        env: { ...process.env, DATA_DIR: settings.dataDir, SITE_FILE: settings.siteFile },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const lines = (stream: NodeJS.ReadableStream, level: 'info' | 'warn') =>
        createInterface({ input: stream }).on('line', (line) => log[level](line.replace(/^backfill: /, '')));
      lines(child.stdout, 'info');
      lines(child.stderr, 'info');
      let stopping = false;
      const exited = new Promise<void>((resolve) => {
        child.on('exit', (code, signal) => {
          // Asked to stop, it stops before the end: expected, not a warning.
          if (code !== 0)
            log[stopping ? 'info' : 'warn'](
              { code, signal },
              'stopped before the end; the next start goes on',
            );
          resolve();
        });
        child.on('error', (err) => {
          log.error({ err: err.message }, 'the history process could not start');
          resolve();
        });
      });
      return {
        line: `History         ${span} of the past being written in the background (progress in the log)`,
        async stop() {
          if (child.exitCode !== null || child.signalCode !== null) return;
          stopping = true;
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_STOP_MS);
          await exited;
          clearTimeout(timer);
        },
      };
    },
  };
}
