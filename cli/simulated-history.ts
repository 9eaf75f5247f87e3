import { spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import type { Logger } from 'pino';
import type { BookingStore, ImportResult } from '../bookings/booking-store.ts';
import type { DeviceProfile } from '../device-profiles/profile.ts';
import { loadProfiles } from '../device-profiles/registry.ts';
import { Quarantine } from '../gateway/quarantine.ts';
import { ensureDemoMembers } from '../members/first-start.ts';
import { Identity } from '../members/identity.ts';
import { openRecordStores, type Records } from '../records/records.ts';
import { DEMO_NETWORK_DIR } from '../simulations/demo-site.ts';
import { BackfillError } from '../simulations/history/backfill-error.ts';
import type { Visitors } from '../simulations/history/booking-habits.ts';
import { writeUpcomingBookings } from '../simulations/history/bookings-ahead.ts';
import { writeCivicSeries } from '../simulations/history/civic-series.ts';
import { readMarker, writeMarker } from '../simulations/history/marker.ts';
import { type FamilyQuantities, storedCounters } from '../simulations/history/meters.ts';
import { type BackfillPlan, historyTimes, planBackfill } from '../simulations/history/plan.ts';
import { demoMemberIds, ensureSimulatedMembers, visitorsOf } from '../simulations/history/population.ts';
import { type BackfillProgress, type BackfillReport, runBackfill } from '../simulations/history/run.ts';
import { DEFAULT_STEP_MS, parseSpan, parseStep } from '../simulations/history/span.ts';
import { SimulatedBuilding } from '../simulations/simulated-building.ts';
import type { DeviceConfig, SiteConfig } from '../site/site.ts';
import { openStore } from '../storage/open.ts';
import { siteReadings } from '../storage/site-view.ts';
import type { ManagedStore, TimeSeriesStore } from '../storage/store.ts';
import type { Settings } from './settings.ts';
import { loadSites } from './sites.ts';

/**
 * The simulated building's history, from the command line: `wesprint simulate --backfill 400d [--step 1h]`
 * writes it and exits; the first `wesprint start` writes it in a child process running that command
 * (BACKFILL_DAYS, default 430 days; 0: none), and a running demo keeps its bookings ahead, renewed hourly.
 * The work itself is simulations/history/.
 */

const DAY_MS = 86_400_000;

/**
 * The demo's seed: every house's simulated people (SimulatedBuilding's, which its live simulator follows
 * too), and the home site's bookings; another house's bookings take a seed of their own (houseSeeds).
 */
const DEMO_SEED = 'kaufhaus';

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

/** One house's part of the demo's history: where its bookings go, who books them, its civic series. */
export interface HouseHistory {
  site: SiteConfig;
  /** The house's own marker (marker.ts), for every house of a network but the home site. */
  marker: string | undefined;
  /** Booking ids and bookers (houseSeeds): the home site's the plan's seed, another house's its own. */
  bookingSeed: string;
  bookings: BookingStore;
  members: string[];
  regulars: string[];
  visitors: Visitors[];
  /** The civic series of the public space as public events with sign-ups (simulations/history/civic-series.ts). */
  civic(from: number, now: number): Promise<string>;
}

interface HistoryParts {
  houses: HouseHistory[];
  quarantine: Quarantine;
  close(): Promise<void>;
}

/**
 * Every house's simulated population (population.ts), by site, the home site's first: in a network each
 * house's members are at home there, so that its bookings are its own members' and a few of them come to
 * the other houses as guests (visitorsOf).
 */
async function simulatedPopulations(
  identity: Identity,
  houses: readonly SiteConfig[],
): Promise<Map<string, string[]>> {
  const home = houses[0]?.site.id;
  const populations = new Map<string, string[]>();
  for (const house of houses) {
    const id = house.site.id;
    populations.set(id, await ensureSimulatedMembers(identity, id, id === home ? {} : { homeSite: id }));
  }
  return populations;
}

async function openHistoryParts(
  settings: Settings,
  houses: readonly SiteConfig[],
  seed: string,
): Promise<HistoryParts> {
  const home = houses[0] as SiteConfig;
  const records = await openRecordStores(
    { dataDir: settings.dataDir, databaseUrl: settings.databaseUrl },
    { homeSite: home.site.id },
  );
  await ensureDemoMembers(new Identity(records), { siteId: home.site.id, dataDir: settings.dataDir });
  const quarantine = new Quarantine(path.join(settings.dataDir, 'gateway.db'));
  return {
    houses: await houseHistories(records, houses, seed),
    quarantine,
    async close() {
      quarantine.close();
      await records.close();
    },
  };
}

/** Each house's part of the history on these records, the home site (the first) first. */
export async function houseHistories(
  records: Records,
  houses: readonly SiteConfig[],
  seed: string,
): Promise<HouseHistory[]> {
  const home = houses[0] as SiteConfig;
  const identity = new Identity(records);
  const populations = await simulatedPopulations(identity, houses);
  const parts: HouseHistory[] = [];
  for (const site of houses) {
    const id = site.site.id;
    const bookings = records.bookingsAt(id);
    const organiser = await identity.members.findByEmail(`facility@${id}.local`);
    parts.push({
      site,
      marker: site === home ? undefined : id,
      bookingSeed: houseSeeds(seed, site, home).seed,
      bookings,
      members: populations.get(id) ?? [],
      regulars: await demoMemberIds(identity, id),
      visitors: visitorsOf(id, populations),
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
    });
  }
  return parts;
}

/**
 * `wesprint simulate --backfill <span> [--step <step>] [--sites N]`: the history of the one building, or of
 * every house of the network (SITES_DIR, `--sites N` its first N), one after the other, the home site first.
 * Each house has its own marker, plan and readings (its own devices' series, in its own time zone), its own
 * bookings by its own simulated members; a house whose readings began live gets none.
 */
export async function runBackfillCommand(args: string[], settings: Settings): Promise<number> {
  let spanMs: number;
  let stepMs: number;
  try {
    const { values } = parseArgs({
      args,
      options: { backfill: { type: 'string' }, step: { type: 'string' }, sites: { type: 'string' } },
      strict: true,
    });
    if (values.backfill === undefined)
      throw new BackfillError('--backfill needs a span, e.g. --backfill 400d');
    spanMs = parseSpan(values.backfill);
    stepMs = values.step === undefined ? DEFAULT_STEP_MS : parseStep(values.step);
    if (values.sites !== undefined) {
      const count = Number(values.sites);
      if (!Number.isInteger(count) || count < 1)
        throw new BackfillError(`--sites ${values.sites} must be a whole number of sites, 1 or more`);
      if (settings.siteFileExplicit && settings.sitesDir === undefined)
        throw new BackfillError('--sites writes a network of site files (SITES_DIR), but SITE_FILE is set');
      settings.sitesDir ??= DEMO_NETWORK_DIR;
      settings.sitesLimit = count;
    }
  } catch (err) {
    console.error(`wesprint simulate: ${(err as Error).message}`);
    return 2;
  }
  const network = loadSites(settings);
  const profiles = await loadProfiles();
  const store = openStore(settings);
  const seed = readMarker(settings.dataDir)?.plan.seed ?? DEMO_SEED;
  const parts = await openHistoryParts(settings, network.sites, seed);
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
    return await writeHouseHistories(parts.houses, {
      store,
      readingsOf: (id) => (network.qualified ? siteReadings(store, id) : store),
      quarantine: parts.quarantine,
      profiles,
      dataDir: settings.dataDir,
      seed,
      spanMs,
      stepMs,
      signal: abort.signal,
      where:
        settings.influx?.api === 'v1' ? `InfluxDB database ${settings.influx.database}` : settings.dataDir,
    });
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

/**
 * Writes each house's history in turn, the home site first (runBackfillCommand): a finished one gets its
 * bookings ahead only, an interrupted or planned one goes on with its plan, a house without readings gets
 * a new plan ending `now`, and a house whose readings began live gets none. Returns the exit code: 1 when
 * a house was left without its history (interrupted, or readings there already).
 */
export async function writeHouseHistories(
  houses: readonly HouseHistory[],
  options: {
    store: ManagedStore;
    /** A house's readings in the store (a network's store holds every house's). */
    readingsOf(siteId: string): TimeSeriesStore;
    quarantine: Quarantine;
    profiles: Map<string, DeviceProfile>;
    dataDir: string;
    seed: string;
    spanMs: number;
    stepMs: number;
    signal?: AbortSignal;
    /** The time now (tests choose it); default the clock. */
    now?: () => number;
    /** What the store is, for the message that it has readings already. */
    where?: string;
    /** Where the lines go; default stderr and, for the summaries, stdout. */
    say?: (line: string) => void;
    tell?: (line: string) => void;
  },
): Promise<number> {
  const now = options.now ?? Date.now;
  const say = options.say ?? ((line: string) => console.error(line));
  const tell = options.tell ?? ((line: string) => console.log(line));
  const home = houses[0]?.site;
  let code = 0;
  for (const house of houses) {
    if (options.signal?.aborted) return 1;
    // In a network every line names its house.
    const label = houses.length > 1 ? `${house.site.site.id}: ` : '';
    const named = (line: string) => line.replace(/^backfill: /, `backfill: ${label}`);
    const kept = readMarker(options.dataDir, house.marker);
    let plan: BackfillPlan;
    if (kept) {
      if (kept.finishedAt !== null) {
        const ahead = await writeUpcomingBookings({
          site: house.site,
          ...houseSeeds(options.seed, house.site, home ?? house.site),
          now: now(),
          store: house.bookings,
          members: house.members,
          visitors: house.visitors,
        });
        say(named(`backfill: ${await house.civic(kept.plan.end - kept.plan.spanMs, now())}`));
        tell(
          named(
            `backfill: ${options.dataDir} has its history already (${day(kept.plan.end - kept.plan.spanMs)} … ${day(kept.plan.end)}); ${aheadLine(ahead)}`,
          ),
        );
        continue;
      }
      plan = kept.plan;
      // A first `start` plans the history before this process runs: nothing written yet is no interruption.
      const begun = kept.doneUntil > (historyTimes(plan)[0] ?? plan.end);
      say(
        named(
          begun
            ? `backfill: going on with the interrupted history up to ${day(plan.end)}`
            : `backfill: writing ${Math.round(plan.spanMs / DAY_MS)} days of history up to ${day(plan.end)}`,
        ),
      );
    } else {
      if ((await options.readingsOf(house.site.site.id).latest()).length > 0) {
        say(
          `wesprint simulate: ${label}${options.where ?? options.dataDir} has readings already; history is only written before the first ones, into a store without readings`,
        );
        code = 1;
        continue;
      }
      plan = planBackfill(house.site, options.profiles, {
        spanMs: options.spanMs,
        stepMs: options.stepMs,
        seed: options.seed,
        end: now(),
      });
    }
    // Before the history's bookings: the series take the hall first.
    say(named(`backfill: ${await house.civic(plan.end - plan.spanMs, now())}`));
    const report = await runBackfill({
      site: house.site,
      profiles: options.profiles,
      plan,
      dataDir: options.dataDir,
      store: options.store,
      quarantine: options.quarantine,
      spoolDir: path.join(options.dataDir, 'backfill-spool'),
      ...(house.marker !== undefined
        ? { house: { marker: house.marker, bookingSeed: house.bookingSeed } }
        : {}),
      visitors: house.visitors,
      bookings: { store: house.bookings, members: house.members, regulars: house.regulars },
      ...(options.signal ? { signal: options.signal } : {}),
      progress: progressPrinter((line) => say(named(line))),
      now,
    });
    tell(named(summary(report)));
    if (report.interrupted) code = 1;
  }
  return code;
}

/** What `wesprint start` needs to give the simulated building a past. */
export interface StartupHistory {
  /**
   * The counter a live meter of this house starts from: the store's newest of the house's series, else the
   * end of the house's planned history (undefined: its seeded in-service value).
   */
  countersOf(siteId: string): (device: DeviceConfig) => number | undefined;
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
  let populations: Map<string, string[]> | undefined;
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
    // bookings are its own (Records.bookingsAt), booked by its own simulated members and now and then by a
    // guest from another house, where its site file's `guests` opens the kind to them.
    try {
      populations ??= await simulatedPopulations(new Identity(records), houses);
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'bookings ahead not written this time');
      return;
    }
    for (const house of houses) {
      const id = house.site.id;
      try {
        const r = await writeUpcomingBookings({
          site: house,
          ...houseSeeds(seed, house, home),
          now: Date.now(),
          store: records.bookingsAt(id),
          members: populations.get(id) ?? [],
          visitors: visitorsOf(id, populations),
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
  /**
   * The network's other houses (SITES_DIR): each gets its own history (its own marker and plan, written
   * after the home site's by the same process), and its bookings are kept ahead.
   */
  others: readonly SiteConfig[] = [],
): Promise<StartupHistory> {
  const days = settings.backfillDays;
  const houses = [site, ...others];
  const store = openStore(settings);
  const stored = new Map<string, Record<string, number>>();
  const plans = new Map<string, BackfillPlan>();
  let seed = DEMO_SEED;
  try {
    if (!(await store.ping())) {
      // A store that does not answer yet (InfluxDB starting): the live meters start afresh, no history.
      return { countersOf: () => () => undefined, start: () => undefined, bookingsAhead: undefined };
    }
    seed = readMarker(settings.dataDir)?.plan.seed ?? seed;
    for (const house of houses) {
      const id = house.site.id;
      // In a network the store holds every house's series: each house reads (and is judged by) its own.
      const readings = others.length > 0 ? siteReadings(store, id) : store;
      const marker = house === site ? undefined : id;
      stored.set(id, await storedCounters(readings, house, profiles));
      const kept = readMarker(settings.dataDir, marker);
      if (kept) {
        if (kept.finishedAt === null) plans.set(id, kept.plan);
      } else if (days > 0 && (await readings.latest()).length === 0) {
        const plan = planBackfill(house, profiles, { spanMs: days * DAY_MS, seed });
        plans.set(id, plan);
        writeMarker(
          settings.dataDir,
          { plan, doneUntil: plan.end - plan.spanMs, bookingsDone: false, finishedAt: null },
          marker,
        );
      }
    }
  } finally {
    await store.close();
  }
  const plan = plans.get(site.site.id) ?? plans.values().next().value;
  return {
    countersOf: (id) => (device) => stored.get(id)?.[device.id] ?? plans.get(id)?.endCounters[device.id],
    // BACKFILL_DAYS=0 (the tests' running systems) asks for a building without a past: none ahead either.
    bookingsAhead:
      days > 0 && settings.simSpeed === 1
        ? {
            line: `Bookings        the simulated members' bookings for today and tomorrow, renewed hourly${others.length > 0 ? `, in each of ${others.length + 1} houses` : ''}`,
            start(logger) {
              const ahead = keepBookingsAhead(settings, houses, seed, logger);
              return { stop: async () => ahead?.stop() };
            },
          }
        : undefined,
    start(logger) {
      if (!plan) return undefined;
      const log = logger.child({ part: 'backfill' });
      const span = `${Math.round(plan.spanMs / DAY_MS)}d`;
      // The child reads the same houses: the network's folder (and `--sites N`), or the one site file.
      const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: settings.dataDir };
      const args = [BIN, 'simulate', '--backfill', span];
      if (settings.sitesDir !== undefined) {
        env.SITES_DIR = settings.sitesDir;
        delete env.SITE_FILE;
        if (settings.sitesLimit !== undefined) args.push('--sites', String(settings.sitesLimit));
      } else {
        env.SITE_FILE = settings.siteFile;
      }
      const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
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
        line: `History         ${span} of the past being written in the background (progress in the log)${plans.size > 1 ? `, for each of ${plans.size} houses` : ''}`,
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
