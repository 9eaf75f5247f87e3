import { type Interval, mergeIntervals } from '../bookings/booking-rules.ts';
import { lockOpenToPush } from '../building/quantities.ts';
import { addDays, fromLocal, type LocalDate, toLocal } from '../site/local-time.ts';

/**
 * When does the facility manager need to be told? Pure rules, no I/O: the watcher (alert-watch.ts) feeds
 * them what the building feed, the bookings and the time-series store say, and stores what they decide.
 *
 * Each rule answers, per subject (a room, a device, a lock, the building), one of three verdicts:
 *   open    — the condition holds now (a stored alert is opened, or its value updated);
 *   clear   — the condition is known not to hold (an open alert is closed);
 *   unknown — the data cannot say (no reading yet, a sensor gone quiet, the gateway down): nothing changes.
 * "unknown" is what keeps a restarted API or a dead gateway from clearing (or raising) alerts by guesswork.
 */

export const ALERT_KINDS = ['co2_high', 'device_offline', 'night_base_load', 'door_unlocked'] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];

export const MINUTE_MS = 60_000;
/** The gateway's rule too (gateway/device-health.ts): one lost report is normal on radio, three are not. */
export const MISSED_REPORTS = 3;

export interface AlertSettings {
  /** CO2 above this (ppm) counts as bad air. */
  co2Ppm: number;
  /** …continuously for this long before an alert opens (0: at the first reading above). */
  co2Ms: number;
  /** A lock unlocked with nobody entitled to an open door for this long. */
  unlockedMs: number;
  /** Night base load this share above the usual (0.25 = 25 %) … */
  nightShare: number;
  /** …and at least this many watts above it. */
  nightMinW: number;
  /** How many previous nights make the usual (their median). */
  nightBaselineNights: number;
}

/**
 * CO2 1000 ppm: the Umweltbundesamt's guide value (Ad-hoc-AG Innenraumrichtwerte 2008) calls 1000–2000 ppm
 * "hygienisch auffällig" and asks for more ventilation; ASR A3.6 uses the same 1000 ppm for workplaces. It is
 * also where the lobby's traffic light turns from good to elevated and what the board report counts as good
 * air, so one number means one thing everywhere. 15 minutes: a full meeting room passes 1000 ppm for a few
 * minutes at the start of every meeting; a quarter of an hour above it is a room that needs airing.
 * 30 minutes unlocked: long enough for someone to carry things in and out, short enough to matter.
 * Night load +25 % and +500 W: 25 % alone would fire on a small building's noise; 500 W is a forgotten
 * heater or a stuck ventilation stage, about 2.5 kWh a night.
 */
export const DEFAULT_ALERT_SETTINGS: AlertSettings = {
  co2Ppm: 1000,
  co2Ms: 15 * MINUTE_MS,
  unlockedMs: 30 * MINUTE_MS,
  nightShare: 0.25,
  nightMinW: 500,
  nightBaselineNights: 14,
};

/** Fewer previous nights with data than this: there is no "usual" yet. */
export const MIN_BASELINE_NIGHTS = 3;
/** The night whose base load is compared: 00:00 to 05:00 site time. */
export const NIGHT_START_MINUTE = 0;
export const NIGHT_END_MINUTE = 5 * 60;

/** What an open alert says: where, since when, how bad. */
export interface Condition {
  kind: AlertKind;
  /** What the alert is about; one open alert per (kind, subject). */
  subject: string;
  space: string | null;
  device: string | null;
  /** When the condition began (CO2 first above, device last heard, lock unlocked, night began). */
  since: number;
  value: number | null;
  unit: string | null;
  detail: Record<string, string | number>;
}

export type Verdict =
  | { state: 'open'; condition: Condition }
  | { state: 'clear' | 'unknown'; kind: AlertKind; subject: string };

export function verdictKey(v: Verdict): { kind: AlertKind; subject: string } {
  return v.state === 'open' ? v.condition : v;
}

// CO2 -------------------------------------------------------------------------------------------------------

/** One CO2 sensor's recent history, as much as the rule needs of it. */
export interface Co2Run {
  device: string;
  space: string;
  value: number;
  /** When the newest reading was taken. */
  at: number;
  /** Start of the unbroken stretch of readings above the threshold that includes the newest; null if below. */
  aboveSince: number | null;
  /** A reading older than this says nothing about now (3× the sensor's reporting interval). */
  freshMs: number;
}

/**
 * The run after one more reading. "Continuously above" needs the sensor to have been heard throughout: after
 * a silence longer than `freshMs` the stretch starts again at this reading.
 */
export function followCo2(
  previous: Co2Run | undefined,
  reading: { device: string; space: string; value: number; at: number; freshMs: number },
  settings: Pick<AlertSettings, 'co2Ppm'>,
): Co2Run {
  if (previous && reading.at < previous.at) return previous;
  const above = reading.value > settings.co2Ppm;
  const unbroken = previous !== undefined && reading.at - previous.at <= reading.freshMs;
  const aboveSince = !above
    ? null
    : unbroken && previous.aboveSince !== null
      ? previous.aboveSince
      : reading.at;
  return { ...reading, aboveSince };
}

/** A room's verdict from all of its CO2 sensors: bad air if any of them has been above long enough. */
export function co2Verdict(
  space: string,
  runs: readonly Co2Run[],
  now: number,
  settings: Pick<AlertSettings, 'co2Ppm' | 'co2Ms'>,
): Verdict {
  const fresh = runs.filter((r) => r.space === space && now - r.at <= r.freshMs);
  const long = fresh.filter((r) => r.aboveSince !== null && now - r.aboveSince >= settings.co2Ms);
  if (long.length > 0) {
    const worst = long.reduce((a, b) => (b.value > a.value ? b : a));
    return {
      state: 'open',
      condition: {
        kind: 'co2_high',
        subject: space,
        space,
        device: worst.device,
        since: Math.min(...long.map((r) => r.aboveSince as number)),
        value: worst.value,
        unit: 'ppm',
        detail: { thresholdPpm: settings.co2Ppm },
      },
    };
  }
  // Above but not yet for long (or again after a silence): an open alert stays, none opens yet.
  if (fresh.length === 0 || fresh.some((r) => r.aboveSince !== null))
    return { state: 'unknown', kind: 'co2_high', subject: space };
  return { state: 'clear', kind: 'co2_high', subject: space };
}

// Devices offline -------------------------------------------------------------------------------------------

export interface DeviceSighting {
  device: string;
  space: string;
  /** The device profile's regular reporting interval. */
  intervalMs: number;
  /** When anything was last heard from it, null if never since the API started. */
  lastSeen: number | null;
}

export interface GatewaySighting {
  /** As the gateway last announced itself (its last will says offline); null before it said anything. */
  online: boolean | null;
  /** Since when it is known to be offline (when the watcher learnt it). */
  offlineSince: number | null;
}

export const GATEWAY_SUBJECT = 'gateway';

/**
 * Silence is the rule: offline once nothing has been heard for more than 3× the reporting interval (an
 * availability "offline" from the device stops its messages too, so it is caught the same way). The gateway's
 * own online flag is not trusted for devices, because a restarted gateway announces every device offline
 * until it hears from it again, which would raise a false alert for each. A device never heard since the
 * watcher started counts its silence from then. While the gateway itself is offline nothing is heard from any
 * device: that is one alert (subject "gateway"), and the devices' verdicts are unknown.
 */
export function offlineVerdicts(
  devices: readonly DeviceSighting[],
  gateway: GatewaySighting,
  now: number,
  watchingSince: number,
): Verdict[] {
  const verdicts: Verdict[] = [];
  if (gateway.online === false) {
    verdicts.push({
      state: 'open',
      condition: {
        kind: 'device_offline',
        subject: GATEWAY_SUBJECT,
        space: null,
        device: null,
        since: gateway.offlineSince ?? now,
        value: null,
        unit: null,
        detail: {},
      },
    });
    for (const d of devices) verdicts.push({ state: 'unknown', kind: 'device_offline', subject: d.device });
    return verdicts;
  }
  verdicts.push({
    state: gateway.online === true ? 'clear' : 'unknown',
    kind: 'device_offline',
    subject: GATEWAY_SUBJECT,
  });
  for (const d of devices) {
    const heardAt = d.lastSeen ?? watchingSince;
    const limit = MISSED_REPORTS * d.intervalMs;
    if (now - heardAt > limit) {
      verdicts.push({
        state: 'open',
        condition: {
          kind: 'device_offline',
          subject: d.device,
          space: d.space,
          device: d.device,
          since: heardAt,
          value: null,
          unit: null,
          detail: { limitMs: limit, ...(d.lastSeen !== null ? { lastSeen: d.lastSeen } : {}) },
        },
      });
    } else {
      // Never heard and not yet long enough: after an API restart the open alert must not be cleared blind.
      verdicts.push({
        state: d.lastSeen === null ? 'unknown' : 'clear',
        kind: 'device_offline',
        subject: d.device,
      });
    }
  }
  return verdicts;
}

// Doors left unlocked ---------------------------------------------------------------------------------------

export interface LockRun {
  device: string;
  /** The space the lock opens. */
  space: string;
  state: string;
  at: number;
  /** When the lock last went from a closed state to an unlocked one; null while it is not unlocked. */
  unlockedSince: number | null;
}

export function followLock(
  previous: LockRun | undefined,
  reading: { device: string; space: string; state: string; at: number },
): LockRun {
  if (previous && reading.at < previous.at) return previous;
  const unlocked = lockOpenToPush(reading.state);
  const unlockedSince = !unlocked ? null : (previous?.unlockedSince ?? reading.at);
  return { ...reading, unlockedSince };
}

/**
 * The spaces whose bookings also entitle an open door of a space that is not bookable: the bookable halls
 * on its floor (the event rooms). Staff book evening events there past the opening hours; the stairs, the
 * foyer or the café on the way to the event are in use then too, so their doors are not left unlocked.
 */
export function eventRoomsServedBy(
  space: { id: string; floor: string; bookable?: boolean | undefined },
  spaces: readonly { id: string; floor: string; kind: string; bookable?: boolean | undefined }[],
): string[] {
  if (space.bookable === true) return [];
  return spaces
    .filter((s) => s.floor === space.floor && s.kind === 'hall' && s.bookable === true)
    .map((s) => s.id);
}

/**
 * A door left unlocked: unlocked while nobody is entitled to an open door, for longer than `unlockedMs`.
 * `entitled` are the stretches in which an open door is expected — for a bookable space its bookings (its
 * opening hours are when one may book, and a Protel room is "open" 00:00–24:00), for any other space its
 * opening hours. The time counts from the later of the unlock and the end of the last such stretch, so a
 * door unlocked all afternoon is reported `unlockedMs` after closing, not at closing.
 */
export function doorVerdict(
  lock: LockRun | undefined,
  subject: string,
  entitled: readonly Interval[],
  now: number,
  settings: Pick<AlertSettings, 'unlockedMs'>,
): Verdict {
  if (!lock) return { state: 'unknown', kind: 'door_unlocked', subject };
  if (lock.unlockedSince === null) return { state: 'clear', kind: 'door_unlocked', subject };
  const stretches = mergeIntervals(entitled);
  if (stretches.some((s) => s.start <= now && now < s.end))
    return { state: 'clear', kind: 'door_unlocked', subject };
  const lastEnd = Math.max(-Infinity, ...stretches.filter((s) => s.end <= now).map((s) => s.end));
  const unattendedSince = Math.max(lock.unlockedSince, lastEnd);
  if (now - unattendedSince < settings.unlockedMs) return { state: 'clear', kind: 'door_unlocked', subject };
  return {
    state: 'open',
    condition: {
      kind: 'door_unlocked',
      subject,
      space: lock.space,
      device: lock.device,
      since: lock.unlockedSince,
      value: null,
      unit: null,
      detail: { state: lock.state, unattendedSince },
    },
  };
}

// Night base load -------------------------------------------------------------------------------------------

/** The night ending on the morning of `date`: 00:00 to 05:00 site time. */
export function nightWindow(date: LocalDate, timeZone: string): Interval {
  return {
    start: fromLocal(date, NIGHT_START_MINUTE, timeZone),
    end: fromLocal(date, NIGHT_END_MINUTE, timeZone),
  };
}

/** The newest night that is over at `now`: this morning's from 05:00 on, else the morning before. */
export function lastCompletedNight(now: number, timeZone: string): LocalDate {
  const local = toLocal(now, timeZone);
  const today = { year: local.year, month: local.month, day: local.day };
  return local.hour * 60 + local.minute >= NIGHT_END_MINUTE ? today : addDays(today, -1);
}

export function nightLabel(date: LocalDate): string {
  return `${date.year}-${String(date.month).padStart(2, '0')}-${String(date.day).padStart(2, '0')}`;
}

/**
 * The building's mean night load: the sum over its main meters of each meter's mean power in the window.
 * A night in which any main meter has no data is incomplete (null): a missing floor would look like a saving.
 */
export function buildingNightLoad(
  mainMeters: readonly string[],
  meanW: ReadonlyMap<string, number>,
): number | null {
  if (mainMeters.length === 0) return null;
  let sum = 0;
  for (const meter of mainMeters) {
    const w = meanW.get(meter);
    if (w === undefined || !Number.isFinite(w)) return null;
    sum += w;
  }
  return sum;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/**
 * Last night against the usual: the median of the previous nights (a median, so one odd night, a party in the
 * hall or a power cut, does not move the usual). Above by more than the share and by more than the watts.
 */
export function nightVerdict(
  subject: string,
  night: { date: LocalDate; window: Interval; loadW: number | null },
  previousLoadsW: readonly (number | null)[],
  settings: Pick<AlertSettings, 'nightShare' | 'nightMinW'>,
): Verdict {
  const usual = previousLoadsW.filter((w): w is number => w !== null);
  if (night.loadW === null || usual.length < MIN_BASELINE_NIGHTS)
    return { state: 'unknown', kind: 'night_base_load', subject };
  const baselineW = median(usual);
  const over = night.loadW - baselineW;
  if (night.loadW > baselineW * (1 + settings.nightShare) && over > settings.nightMinW) {
    return {
      state: 'open',
      condition: {
        kind: 'night_base_load',
        subject,
        space: null,
        device: null,
        since: night.window.start,
        value: Math.round(night.loadW),
        unit: 'W',
        detail: { baselineW: Math.round(baselineW), night: nightLabel(night.date), nights: usual.length },
      },
    };
  }
  return { state: 'clear', kind: 'night_base_load', subject };
}

// Stored alerts against verdicts ----------------------------------------------------------------------------

export interface OpenAlertRef {
  id: number;
  kind: AlertKind;
  subject: string;
  value: number | null;
  detail: Record<string, unknown>;
}

export interface AlertChanges {
  open: Condition[];
  update: { id: number; condition: Condition }[];
  clear: number[];
}

/** What to write: open what is newly open, update a changed value, clear what is known to be over. */
export function reconcile(openAlerts: readonly OpenAlertRef[], verdicts: readonly Verdict[]): AlertChanges {
  const byKey = new Map(openAlerts.map((a) => [`${a.kind}\0${a.subject}`, a]));
  const changes: AlertChanges = { open: [], update: [], clear: [] };
  for (const v of verdicts) {
    const { kind, subject } = verdictKey(v);
    const stored = byKey.get(`${kind}\0${subject}`);
    if (v.state === 'open') {
      if (!stored) changes.open.push(v.condition);
      else if (stored.value !== v.condition.value || !sameDetail(stored.detail, v.condition.detail))
        changes.update.push({ id: stored.id, condition: v.condition });
    } else if (v.state === 'clear' && stored) {
      changes.clear.push(stored.id);
    }
  }
  return changes;
}

function sameDetail(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  const keys = Object.keys(b);
  return keys.length === Object.keys(a).length && keys.every((k) => a[k] === b[k]);
}
