import type { BaseLogger } from 'pino';
import { type Interval, openingIntervals } from '../bookings/booking-rules.ts';
import type { BookingStore } from '../bookings/booking-store.ts';
import type { EventAnnouncer } from '../building/events.ts';
import type { BuildingFeed, LiveEvent } from '../building/live-feed.ts';
import type { DeviceProfile } from '../device-profiles/profile.ts';
import { addDays, type LocalDate } from '../site/local-time.ts';
import type { SiteConfig, SpaceConfig } from '../site/site.ts';
import { addUpChannels } from '../storage/device-totals.ts';
import type { TimeSeriesStore } from '../storage/store.ts';
import { alertEvent } from './alert-events.ts';
import {
  type AlertSettings,
  buildingNightLoad,
  type Co2Run,
  co2Verdict,
  DEFAULT_ALERT_SETTINGS,
  type DeviceSighting,
  doorVerdict,
  eventRoomsServedBy,
  followCo2,
  followLock,
  type GatewaySighting,
  type LockRun,
  lastCompletedNight,
  MINUTE_MS,
  MISSED_REPORTS,
  nightLabel,
  nightVerdict,
  nightWindow,
  offlineVerdicts,
  reconcile,
  type Verdict,
  verdictKey,
} from './alert-rules.ts';
import type { AcknowledgeResult, Alert, AlertStore } from './alert-store.ts';

/**
 * Runs the alert rules in the API process. Readings (CO2, lock states) and the gateway's status come live
 * from the building feed and are judged at once; silence (devices offline), time (a lock left unlocked past
 * closing, CO2 above for long enough) and the night's base load are judged by a periodic check. What the rules
 * decide is written to the alert store, and every opened, updated, cleared or acknowledged alert is handed to
 * the listeners (the WebSocket /api/alerts/live).
 */

export type AlertChange = 'opened' | 'updated' | 'cleared' | 'acknowledged';
export type AlertListener = (alert: Alert, change: AlertChange) => void;

/**
 * Alert changes between the API processes of one installation: only the leader runs the rules, yet an alert
 * it opens, or one acknowledged on another replica, reaches every replica's listeners (records/records-news.ts).
 */
export interface AlertNews {
  /** Tells the other processes (not this one: its listeners are told directly). */
  tell(id: number, change: AlertChange): void;
  /** Hears what the other processes told; returns the function that stops hearing. */
  listen(listener: (id: number, change: AlertChange) => void): () => void;
}

export interface AlertWatchOptions {
  alerts: AlertStore;
  feed: Pick<BuildingFeed, 'subscribeLive' | 'latest' | 'devices' | 'gatewayOnline'>;
  site: SiteConfig;
  /** Reporting intervals and which devices sense CO2 or are locks; devices of unknown profiles are skipped. */
  profiles: Map<string, DeviceProfile>;
  /** The time series, for the night base load; without it that rule does not run. */
  timeSeries?: Pick<TimeSeriesStore, 'query'>;
  /** Bookings of a lock's space: an open door is expected while one runs. Without it only opening hours count. */
  bookings?: Pick<BookingStore, 'spaceBookings'>;
  settings?: AlertSettings;
  checkEveryMs?: number;
  /** Where each alert opened or cleared is told (`alert-opened`, `alert-cleared`: the building feed). */
  events?: EventAnnouncer;
  /** The other API processes' alert changes, for this one's listeners, and this one's for theirs. */
  news?: AlertNews;
  /** The time; tests move it by hand. */
  now?: () => number;
  logger?: BaseLogger;
}

const DEFAULT_CHECK_EVERY_MS = 30_000;
const DAY_MS = 86_400_000;
const NIGHT_RETRY_MS = 15 * 60_000;

/** An alert's (kind, subject) as one key. */
function keyOf(verdict: Verdict): string {
  const { kind, subject } = verdictKey(verdict);
  return `${kind}\0${subject}`;
}

export class AlertWatch {
  readonly settings: AlertSettings;
  private readonly o: AlertWatchOptions;
  private readonly now: () => number;
  private readonly listeners = new Set<AlertListener>();
  private readonly spaces = new Map<string, SpaceConfig>();
  /** device -> fresh-for (3× its reporting interval), for CO2 sensors */
  private readonly co2Sensors = new Map<string, { space: string; freshMs: number }>();
  private readonly co2Spaces = new Set<string>();
  /** lock device -> the space it opens */
  private readonly locks = new Map<string, string>();
  private readonly watched: { device: string; space: string; intervalMs: number }[] = [];
  private readonly mainMeters: string[];
  private readonly co2Runs = new Map<string, Co2Run>();
  /** Alerts (kind, subject) this watcher's last write of them left clear in the store. */
  private readonly knownClear = new Set<string>();
  private readonly lockRuns = new Map<string, LockRun>();
  private readonly gateway: GatewaySighting = { online: null, offlineSince: null };
  private watchingSince = 0;
  private nightDone: string | undefined;
  private nightTriedAt = -Infinity;
  private nightRun: Promise<Verdict['state'] | 'skipped'> | undefined;
  private unsubscribe: (() => void) | undefined;
  private unlistenNews: (() => void) | undefined;
  /** Reading the stored CO2 readings back before watching live. */
  private starting: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** The writes to the store, one after the other in the order they were decided (see `write`). */
  private writing: Promise<void> = Promise.resolve();

  constructor(options: AlertWatchOptions) {
    this.o = options;
    this.settings = options.settings ?? DEFAULT_ALERT_SETTINGS;
    this.now = options.now ?? Date.now;
    const { site, profiles } = options;
    for (const space of site.spaces) this.spaces.set(space.id, space);
    const lockOf = new Map(site.spaces.filter((s) => s.lock).map((s) => [s.lock as string, s.id]));
    for (const device of site.devices) {
      const profile = profiles.get(device.profile);
      if (!profile) continue;
      const intervalMs = profile.reportingIntervalS * 1000;
      this.watched.push({ device: device.id, space: device.space, intervalMs });
      if (profile.quantities.includes('co2')) {
        this.co2Sensors.set(device.id, { space: device.space, freshMs: MISSED_REPORTS * intervalMs });
        this.co2Spaces.add(device.space);
      }
      if (profile.quantities.includes('lock'))
        this.locks.set(device.id, lockOf.get(device.id) ?? device.space);
    }
    this.mainMeters = site.devices.filter((d) => d.meter_role === 'main').map((d) => d.id);
  }

  /**
   * Starts judging. With the time series, the CO2 stretches are first read back from the stored readings
   * (a process that has just taken the lead goes on where the last leader was, instead of starting every
   * room's wait again); live events that arrive meanwhile are taken after them, in order.
   */
  start(): void {
    if (this.unsubscribe) return;
    this.watchingSince = this.now();
    this.gateway.online = this.o.feed.gatewayOnline;
    if (this.gateway.online === false) this.gateway.offlineSince = this.watchingSince;
    const timeSeries = this.o.timeSeries;
    if (!timeSeries || this.co2Sensors.size === 0) {
      this.watch();
      return;
    }
    const waiting: LiveEvent[] = [];
    this.unsubscribe = this.o.feed.subscribeLive((event) => void waiting.push(event));
    const since = this.watchingSince;
    this.starting = this.storedCo2(timeSeries, since)
      .catch((err: Error) => {
        // The store away: the stretches start from what the feed holds, as without a store.
        this.o.logger?.warn({ err: err.message }, 'could not read the stored CO2 readings');
      })
      .then(() => {
        if (!this.unsubscribe) return;
        this.unsubscribe();
        this.watch(waiting);
      })
      .finally(() => {
        this.starting = undefined;
      });
  }

  /** Takes what the feed holds, then `waiting`, then every live event; checks now and every `checkEveryMs`. */
  private watch(waiting: readonly LiveEvent[] = []): void {
    // What the feed already holds (retained statuses, readings heard before the watcher started).
    for (const reading of this.o.feed.latest()) this.take(reading, false);
    for (const event of waiting) this.take(event, true);
    this.unsubscribe = this.o.feed.subscribeLive((event) => this.take(event, true));
    this.timer = setInterval(() => void this.check(), this.o.checkEveryMs ?? DEFAULT_CHECK_EVERY_MS);
    this.timer.unref();
    void this.check();
  }

  /**
   * Follows each CO2 sensor's stored readings of the last `co2Ms` (and its freshness before that), by the
   * minute: a minute counts as above only if its lowest reading was, and as taken at its end, so a stretch
   * read back is never longer than it was.
   */
  private async storedCo2(timeSeries: Pick<TimeSeriesStore, 'query'>, now: number): Promise<void> {
    const freshMs = Math.max(...[...this.co2Sensors.values()].map((s) => s.freshMs));
    const from = Math.floor((now - this.settings.co2Ms - freshMs) / MINUTE_MS) * MINUTE_MS;
    const series = await timeSeries.query({
      quantity: 'co2',
      from,
      to: now + 1,
      bucketMs: MINUTE_MS,
      aggregate: 'min',
    });
    for (const one of series) {
      const sensor = this.co2Sensors.get(one.device);
      if (!sensor) continue;
      for (const point of one.points) {
        const at = Math.min(point.ts + MINUTE_MS - 1, now);
        this.co2Runs.set(
          one.device,
          followCo2(
            this.co2Runs.get(one.device),
            { device: one.device, space: sensor.space, value: point.value, at, freshMs: sensor.freshMs },
            this.settings,
          ),
        );
      }
    }
  }

  /** Stops watching; resolves once what was decided before is written (the records may be closed after). */
  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    await this.starting;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.writing;
  }

  /** Adds a listener; returns the function that removes it. */
  subscribe(listener: AlertListener): () => void {
    this.listeners.add(listener);
    // Another process's change is read from the store, as it is now, and told to this one's listeners.
    this.unlistenNews ??= this.o.news?.listen((id, change) => {
      this.o.alerts
        .get(id)
        .then((alert) => {
          if (alert) this.tellListeners(alert, change);
        })
        .catch((err: Error) => this.o.logger?.warn({ err: err.message }, 'could not read a told alert'));
    });
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size > 0) return;
      this.unlistenNews?.();
      this.unlistenNews = undefined;
    };
  }

  list(state: 'open' | 'all', limit?: number): Promise<Alert[]> {
    return state === 'open' ? this.o.alerts.openAlerts() : this.o.alerts.newest(limit);
  }

  get(id: number): Promise<Alert | undefined> {
    return this.o.alerts.get(id);
  }

  async acknowledge(id: number, memberId: string): Promise<AcknowledgeResult> {
    const result = await this.o.alerts.acknowledge(id, memberId, this.now());
    if (result.outcome === 'acknowledged') this.tell(result.alert, 'acknowledged');
    return result;
  }

  private take(event: LiveEvent, live: boolean): void {
    const now = this.now();
    if (event.type === 'gateway-status') {
      this.gateway.online = event.online;
      this.gateway.offlineSince = event.online ? null : now;
      void this.write(this.offline(now), now);
      return;
    }
    if (event.type !== 'reading') return;
    // A device clock running ahead must not make a stretch look longer than it is.
    const at = Math.min(event.ts, now);
    const sensor = this.co2Sensors.get(event.device);
    if (event.quantity === 'co2' && sensor && typeof event.value === 'number') {
      const run = followCo2(
        this.co2Runs.get(event.device),
        { device: event.device, space: sensor.space, value: event.value, at, freshMs: sensor.freshMs },
        this.settings,
      );
      this.co2Runs.set(event.device, run);
      if (!live) return;
      const verdict = co2Verdict(sensor.space, [...this.co2Runs.values()], now, this.settings);
      // No query of the open alerts per reading when nothing can change: 'unknown' changes nothing, nor does
      // 'clear' while this watcher's last write left the space clear. `check` judges every space again
      // every `checkEveryMs` whatever it remembers (another watcher may have opened it meanwhile).
      if (verdict.state === 'unknown' || (verdict.state === 'clear' && this.knownClear.has(keyOf(verdict))))
        return;
      void this.write([verdict], now);
      return;
    }
    const lockSpace = this.locks.get(event.device);
    if (event.quantity === 'lock' && lockSpace && typeof event.value === 'string') {
      const run = followLock(this.lockRuns.get(event.device), {
        device: event.device,
        space: lockSpace,
        state: event.value,
        at,
      });
      this.lockRuns.set(event.device, run);
      if (live) void this.write([this.door(event.device, run, now)], now);
    }
  }

  /**
   * Judges everything that time alone can change; resolves once that is written. The night base load once a
   * night, not waited for.
   */
  check(now: number = this.now()): Promise<void> {
    const verdicts: (Verdict | Promise<Verdict>)[] = this.offline(now);
    const runs = [...this.co2Runs.values()];
    for (const space of this.co2Spaces) verdicts.push(co2Verdict(space, runs, now, this.settings));
    for (const device of this.locks.keys()) verdicts.push(this.door(device, this.lockRuns.get(device), now));
    const written = this.write(verdicts, now);
    // 15 queries: not on every check while the data cannot judge the night yet.
    if (now - this.nightTriedAt >= NIGHT_RETRY_MS) void this.checkNight(now);
    return written;
  }

  private offline(now: number): Verdict[] {
    const known = new Map(this.o.feed.devices().map((d) => [d.device, d.lastSeen]));
    const sightings: DeviceSighting[] = this.watched.map((w) => ({
      ...w,
      lastSeen: known.get(w.device) ?? null,
    }));
    return offlineVerdicts(sightings, this.gateway, now, this.watchingSince);
  }

  /** The door's verdict on the lock's run as it was at `now` (the bookings are read meanwhile). */
  private async door(device: string, run: LockRun | undefined, now: number): Promise<Verdict> {
    const spaceId = this.locks.get(device) ?? '';
    return doorVerdict(run, device, await this.entitled(spaceId, now), now, this.settings);
  }

  /** When an open door is expected: a bookable space's bookings, another space's opening hours. */
  private async entitled(spaceId: string, now: number): Promise<Interval[]> {
    const space = this.spaces.get(spaceId);
    if (!space) return [];
    const range = { start: now - DAY_MS, end: now + 1 };
    if (space.bookable) {
      return ((await this.o.bookings?.spaceBookings(spaceId, range.start, range.end)) ?? []).map((b) => ({
        start: b.start,
        end: b.end,
      }));
    }
    // An event in a hall on the floor (an evening event past closing) keeps the way to it in use.
    const events = (
      await Promise.all(
        eventRoomsServedBy(space, this.o.site.spaces).map(
          async (hall) => (await this.o.bookings?.spaceBookings(hall, range.start, range.end)) ?? [],
        ),
      )
    )
      .flat()
      .map((b) => ({ start: b.start, end: b.end }));
    if (!space.opening_hours || space.opening_hours.length === 0) return events;
    return [...openingIntervals(space, range, this.o.site.site.timezone), ...events];
  }

  /**
   * Last night's base load against the usual, after 05:00 site time. Once judged (open or clear) a night is
   * not looked at again; a night the data cannot judge yet is tried again on a later check. A call while one
   * runs joins it. Resolves to the verdict's state, or 'skipped' (judged already, or no store or main meter).
   */
  checkNight(now: number = this.now()): Promise<Verdict['state'] | 'skipped'> {
    if (this.nightRun) return this.nightRun;
    const timeSeries = this.o.timeSeries;
    const date = lastCompletedNight(now, this.o.site.site.timezone);
    if (!timeSeries || this.mainMeters.length === 0 || this.nightDone === nightLabel(date))
      return Promise.resolve('skipped');
    this.nightTriedAt = now;
    this.nightRun = this.judgeNight(timeSeries, date).finally(() => {
      this.nightRun = undefined;
    });
    return this.nightRun;
  }

  private async judgeNight(
    timeSeries: Pick<TimeSeriesStore, 'query'>,
    date: LocalDate,
  ): Promise<Verdict['state'] | 'skipped'> {
    const timeZone = this.o.site.site.timezone;
    try {
      const loads: (number | null)[] = [];
      for (let i = 0; i <= this.settings.nightBaselineNights; i++) {
        const window = nightWindow(addDays(date, -i), timeZone);
        const series = await timeSeries.query({
          quantity: 'power',
          from: window.start,
          to: window.end,
          aggregate: 'mean',
        });
        // A main meter's night load is the sum of its phases' means.
        const means = new Map<string, number>();
        for (const [device, total] of addUpChannels(series)) {
          const point = total.points[0];
          if (point && this.mainMeters.includes(device)) means.set(device, point.value);
        }
        loads.push(buildingNightLoad(this.mainMeters, means));
      }
      const verdict = nightVerdict(
        this.o.site.site.id,
        { date, window: nightWindow(date, timeZone), loadW: loads[0] ?? null },
        loads.slice(1),
        this.settings,
      );
      await this.write([verdict], this.now());
      if (verdict.state !== 'unknown') this.nightDone = nightLabel(date);
      return verdict.state;
    } catch (err) {
      // The store may be down: a later check tries again.
      this.o.logger?.warn({ err: (err as Error).message }, 'night base load check failed');
      return 'skipped';
    }
  }

  /**
   * Writes what the verdicts change, after the writes decided before them: each reconciles against the open
   * alerts its predecessors left, as when the store answered at once. Never rejects.
   */
  private write(verdicts: readonly (Verdict | Promise<Verdict>)[], now: number): Promise<void> {
    // Waited for at once, so that a verdict whose bookings could not be read is never an unhandled rejection.
    const decided = Promise.all(verdicts).then(
      (all) => ({ ok: true as const, all }),
      (err: Error) => ({ ok: false as const, err }),
    );
    const written = this.writing.then(async () => {
      const verdict = await decided;
      if (verdict.ok) await this.apply(verdict.all, now);
      // A busy or closed database must not take the API down; the next check tries again.
      else this.o.logger?.warn({ err: verdict.err.message }, 'could not read the bookings');
    });
    this.writing = written;
    return written;
  }

  private async apply(verdicts: readonly Verdict[], now: number): Promise<void> {
    try {
      // Nothing to reconcile: no query (a live CO2 reading's verdict is mostly this).
      if (verdicts.every((v) => v.state === 'unknown')) return;
      const changes = reconcile(await this.o.alerts.openRefs(), verdicts);
      for (const condition of changes.open) {
        const { alert, opened } = await this.o.alerts.open(condition, now);
        if (opened) {
          this.o.logger?.info({ kind: alert.kind, subject: alert.subject, id: alert.id }, 'alert opened');
          this.tell(alert, 'opened');
        }
      }
      for (const { id, condition } of changes.update) {
        const alert = await this.o.alerts.update(id, condition, now);
        if (alert) this.tell(alert, 'updated');
      }
      for (const id of changes.clear) {
        const alert = await this.o.alerts.clear(id, now);
        if (alert) {
          this.o.logger?.info({ kind: alert.kind, subject: alert.subject, id: alert.id }, 'alert cleared');
          this.tell(alert, 'cleared');
        }
      }
      for (const v of verdicts) {
        if (v.state === 'clear') this.knownClear.add(keyOf(v));
        else if (v.state === 'open') this.knownClear.delete(keyOf(v));
      }
    } catch (err) {
      this.knownClear.clear();
      // A busy or closed database must not take the API down; the next check tries again.
      this.o.logger?.warn({ err: (err as Error).message }, 'could not write');
    }
  }

  private tell(alert: Alert, change: AlertChange): void {
    // The store opens and clears an alert for one caller only, so of several processes watching, one tells it.
    const event = alertEvent(change, this.o.site.site.id, alert);
    if (event) this.o.events?.announce(event);
    this.o.news?.tell(alert.id, change);
    this.tellListeners(alert, change);
  }

  private tellListeners(alert: Alert, change: AlertChange): void {
    for (const listener of this.listeners) {
      try {
        listener(alert, change);
      } catch (err) {
        this.o.logger?.warn({ err: (err as Error).message }, 'a listener failed');
      }
    }
  }
}
