import { utcOffsetMs } from '../site/local-time.ts';
import type { SpaceConfig } from '../site/site.ts';

/**
 * The physics and habits of the simulated building, as pure functions of (seed, space, time): who is
 * in which space, how the air responds, what the meters draw. No I/O and no hidden state, so the same
 * seed and the same simulated instant always give the same building, and the tests can check the
 * numbers by hand.
 */

export type SpaceKind = SpaceConfig['kind'];

// ---------------------------------------------------------------------------------------------------
// Deterministic randomness

/** FNV-1a over the parts: a stable 32-bit key for "this seed, this space, this slot". */
export function hashKey(...parts: (string | number)[]): number {
  let h = 0x811c9dc5;
  const text = parts.join('\u0000');
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A uniform number in [0, 1) fixed by the parts (mulberry32 finaliser over the FNV key). */
export function chance(...parts: (string | number)[]): number {
  let t = (hashKey(...parts) + 0x6d2b79f5) | 0;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

// ---------------------------------------------------------------------------------------------------
// Local time of the building

export interface LocalTime {
  /** ISO weekday, 1 = Monday … 7 = Sunday. */
  weekday: number;
  /** Hour of the day with fraction, 0 ≤ hour < 24. */
  hour: number;
  /** `YYYY-MM-DD` in the building's time zone. */
  date: string;
  /** `YYYY-MM-DDTHH:MM:SS` in the building's time zone, without offset (as Tasmota prints its Time). */
  isoLocal: string;
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

let lastLocal: { ms: number; timeZone: string; time: LocalTime } | undefined;

export function localTime(ms: number, timeZone: string): LocalTime {
  // Every space and meter of a building asks for the same instant in turn: Intl answers once.
  if (lastLocal?.ms === ms && lastLocal.timeZone === timeZone) return lastLocal.time;
  const time = wallClock(ms, timeZone);
  lastLocal = { ms, timeZone, time };
  return time;
}

function wallClock(ms: number, timeZone: string): LocalTime {
  // The instant shifted by the zone's offset reads, in UTC fields, as the building's wall clock.
  const wall = new Date(ms + utcOffsetMs(ms, timeZone));
  const hh = wall.getUTCHours();
  const mm = wall.getUTCMinutes();
  const ss = wall.getUTCSeconds();
  const date = `${pad(wall.getUTCFullYear(), 4)}-${pad(wall.getUTCMonth() + 1)}-${pad(wall.getUTCDate())}`;
  return {
    weekday: wall.getUTCDay() === 0 ? 7 : wall.getUTCDay(),
    hour: hh + mm / 60 + ss / 3600 + (ms % 1000) / 3_600_000,
    date,
    isoLocal: `${date}T${pad(hh)}:${pad(mm)}:${pad(ss)}`,
  };
}

// ---------------------------------------------------------------------------------------------------
// Occupancy

/**
 * Share of a space's capacity that is present, by hour (index 0 = 00:00–01:00), on a working day.
 * Coworking peaks late morning and mid-afternoon with a lunch dip; the Diskursraum lives in the
 * evenings; everything is empty at night.
 */
// biome-ignore format: one row of 24 hours reads better on one line
const WORKDAY_CURVES: Record<SpaceKind, number[]> = {
  desk:         [0, 0, 0, 0, 0, 0, 0, 0.05, 0.25, 0.55, 0.75, 0.85, 0.6, 0.65, 0.8, 0.8, 0.7, 0.45, 0.2, 0.08, 0.03, 0, 0, 0],
  desk_area:    [0, 0, 0, 0, 0, 0, 0, 0.05, 0.25, 0.55, 0.75, 0.85, 0.6, 0.65, 0.8, 0.8, 0.7, 0.45, 0.2, 0.08, 0.03, 0, 0, 0],
  protel:       [0, 0, 0, 0, 0, 0, 0, 0.05, 0.3, 0.6, 0.75, 0.75, 0.5, 0.6, 0.75, 0.75, 0.7, 0.6, 0.45, 0.3, 0.15, 0.05, 0, 0],
  meeting_room: [0, 0, 0, 0, 0, 0, 0, 0, 0.15, 0.45, 0.6, 0.5, 0.2, 0.3, 0.55, 0.6, 0.45, 0.25, 0.05, 0, 0, 0, 0, 0],
  office:       [0, 0, 0, 0, 0, 0, 0, 0.05, 0.4, 0.7, 0.75, 0.75, 0.5, 0.6, 0.75, 0.7, 0.6, 0.35, 0.1, 0.02, 0, 0, 0, 0],
  hall:         [0, 0, 0, 0, 0, 0, 0, 0, 0, 0.05, 0.15, 0.15, 0.1, 0.1, 0.2, 0.2, 0.15, 0.25, 0.55, 0.7, 0.65, 0.4, 0.1, 0],
  cafe:         [0, 0, 0, 0, 0, 0, 0, 0, 0.2, 0.4, 0.35, 0.4, 0.8, 0.7, 0.35, 0.5, 0.45, 0.3, 0.2, 0.25, 0.15, 0, 0, 0],
  locker:       [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
  circulation:  [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
  technical:    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
};

/** How busy each weekday is relative to a working day (index = ISO weekday). */
const WEEKDAY_FACTOR: Record<SpaceKind, [number, number, number, number, number, number, number]> = {
  desk: [1, 1, 1, 1, 0.75, 0.15, 0.05],
  desk_area: [1, 1, 1, 1, 0.75, 0.15, 0.05],
  protel: [1, 1, 1, 1, 0.8, 0.2, 0.1],
  meeting_room: [1, 1, 1, 1, 0.6, 0.05, 0],
  office: [1, 1, 1, 1, 0.7, 0.05, 0.02],
  // Discourse evenings Tuesday to Thursday; Saturday's afternoon Zukunftswerkstatt is as busy as a weekday.
  hall: [0.5, 1, 1, 1, 0.6, 0.8, 0.2],
  cafe: [1, 1, 1, 1, 1, 0.9, 0.4],
  locker: [0, 0, 0, 0, 0, 0, 0],
  circulation: [0, 0, 0, 0, 0, 0, 0],
  technical: [0, 0, 0, 0, 0, 0, 0],
};

/**
 * Probability that a place of this kind is in use (a desk taken; the share of a room's capacity
 * present), for an ISO weekday (1–7) and a local hour (0 ≤ hour < 24, fractions ignored).
 */
export function occupancyProbability(kind: SpaceKind, weekday: number, hour: number): number {
  const curve = WORKDAY_CURVES[kind];
  const h = Math.min(23, Math.max(0, Math.floor(hour)));
  const factor = WEEKDAY_FACTOR[kind][Math.min(7, Math.max(1, Math.trunc(weekday))) - 1] ?? 0;
  return Math.min(1, (curve[h] ?? 0) * factor);
}

/** People settle for a while: presence is drawn once per 30-minute slot. */
export const PRESENCE_SLOT_MS = 30 * 60_000;

export interface PresenceSpace {
  id: string;
  kind: SpaceKind;
  capacity?: number | undefined;
}

/**
 * How many people are in a space at a simulated instant. Desks hold one person or none. Protel and
 * meeting rooms are used by one team at a time (all or nothing, team size varies); halls, cafés and
 * offices fill person by person.
 */
export function peopleInSpace(
  seed: string | number,
  space: PresenceSpace,
  ms: number,
  timeZone: string,
): number {
  const t = localTime(ms, timeZone);
  const p = occupancyProbability(space.kind, t.weekday, t.hour);
  if (p <= 0) return 0;
  const slot = Math.floor(ms / PRESENCE_SLOT_MS);
  const capacity = space.kind === 'desk' ? 1 : (space.capacity ?? 0);
  if (capacity <= 0) return 0;
  if (space.kind === 'desk') return chance(seed, space.id, slot) < p ? 1 : 0;
  if (space.kind === 'protel' || space.kind === 'meeting_room') {
    if (chance(seed, space.id, slot) >= p) return 0;
    return Math.max(1, Math.ceil(capacity * (0.4 + 0.6 * chance(seed, space.id, slot, 'team'))));
  }
  let people = 0;
  for (let k = 0; k < capacity; k++) if (chance(seed, space.id, slot, k) < p) people++;
  return people;
}

// ---------------------------------------------------------------------------------------------------
// Air: CO2 mass balance

export const OUTDOOR_CO2_PPM = 420;
/** CO2 exhaled by a seated adult doing office work. */
export const CO2_LITRES_PER_PERSON_HOUR = 20;

/** Clear height of the converted store: the ground-floor hall keeps the old sales floor's height. */
export function ceilingHeightM(kind: SpaceKind): number {
  return kind === 'hall' || kind === 'cafe' ? 4.5 : 3.2;
}

export function spaceVolumeM3(areaM2: number, kind: SpaceKind): number {
  return areaM2 * ceilingHeightM(kind);
}

/**
 * Air changes per hour. Demand-controlled ventilation runs harder when people are in; empty spaces
 * get only night set-back and infiltration.
 *
 * Rates of a retrofitted store: the ground floor's hall and café got new air handling; the open floors
 * rely on the old one, whose large volume per person keeps them below 1000 ppm (30 people in 1344 m³ at
 * 1.5/h: 718 ppm steady); meeting rooms (2/h) and Protel rooms (1.5/h, old store rooms with a small
 * supply each) are modestly ventilated for how densely they fill, so a full one passes 1000 ppm after
 * an hour or so (12 people in the 48 m² meeting room: 1201 ppm steady), as real ones do (UBA).
 */
export function airChangesPerHour(kind: SpaceKind, occupied: boolean): number {
  if (!occupied) return 0.3;
  switch (kind) {
    case 'hall':
    case 'cafe':
      return 3;
    case 'desk_area':
    case 'desk':
    case 'protel':
      return 1.5;
    default:
      return 2;
  }
}

/**
 * CO2 generated by the people in a space, in ppm per hour: 20 L/h = 0.020 m³/h each, diluted in the
 * room's volume (m³), times 1e6 for ppm.
 */
export function co2GenerationPpmPerHour(people: number, volumeM3: number): number {
  return (people * (CO2_LITRES_PER_PERSON_HOUR / 1000) * 1e6) / volumeM3;
}

/**
 * One step of dC/dt = G − ach·(C − C_out), solved exactly over `hours` (people and ventilation
 * constant during the step), so a long step does not overshoot the way an Euler step would.
 */
export function co2After(
  ppm: number,
  people: number,
  volumeM3: number,
  ach: number,
  hours: number,
  outdoorPpm = OUTDOOR_CO2_PPM,
): number {
  const g = co2GenerationPpmPerHour(people, volumeM3);
  if (ach <= 0) return ppm + g * hours;
  const steady = outdoorPpm + g / ach;
  return steady + (ppm - steady) * Math.exp(-ach * hours);
}

/** Steady-state CO2 with constant people and ventilation: C_out + G / ach. */
export function co2SteadyState(people: number, volumeM3: number, ach: number): number {
  return OUTDOOR_CO2_PPM + co2GenerationPpmPerHour(people, volumeM3) / ach;
}

/** Longest step the CO2 and energy integrations take, so that presence changes are followed. */
export const MAX_STEP_MS = 5 * 60_000;

/**
 * Advances a space's CO2 from `fromMs` to `toMs`, sampling who is present at each sub-step.
 */
export function advanceCo2(
  ppm: number,
  fromMs: number,
  toMs: number,
  volumeM3: number,
  kind: SpaceKind,
  peopleAt: (ms: number) => number,
): number {
  let c = ppm;
  for (let t = fromMs; t < toMs; ) {
    const next = Math.min(toMs, t + MAX_STEP_MS);
    const people = peopleAt(t);
    c = co2After(c, people, volumeM3, airChangesPerHour(kind, people > 0), (next - t) / 3_600_000);
    t = next;
  }
  return c;
}

// ---------------------------------------------------------------------------------------------------
// Electricity

export interface MeterLoad {
  /** Always-on load: ventilation, fridges, network, emergency lighting, standby. */
  baseW: number;
  /** Laptops, screens, kettles: per person present. */
  perPersonW: number;
  /** Lighting while the served spaces are open. */
  lightingW: number;
}

export function meterPowerW(load: MeterLoad, people: number, open: boolean): number {
  return load.baseW + people * load.perPersonW + (open ? load.lightingW : 0);
}

/** A floor's main meter: base 1.5 W/m², 60 W per person, LED lighting 6 W/m² during opening hours. */
export function floorMainLoad(floorAreaM2: number): MeterLoad {
  return { baseW: 1.5 * floorAreaM2, perPersonW: 60, lightingW: 6 * floorAreaM2 };
}

/** A socket meter: the appliance on it depends on where it is plugged in. */
export function plugLoad(kind: SpaceKind): MeterLoad {
  switch (kind) {
    case 'cafe':
      // espresso machine + dishwasher: heating element kept warm, each guest a coffee
      return { baseW: 45, perPersonW: 18, lightingW: 120 };
    case 'hall':
      // projector and sound system during events
      return { baseW: 6, perPersonW: 2, lightingW: 350 };
    case 'desk_area':
    case 'desk':
      // a printer / monitor strip
      return { baseW: 4, perPersonW: 6, lightingW: 25 };
    case 'protel':
      // a team room's sockets: four docking stations and monitors in standby around the clock (about 2 W
      // each) and a coffee machine's 1 W, the standby a plug switched off saves; laptops and screens per person
      return { baseW: 9, perPersonW: 20, lightingW: 15 };
    default:
      return { baseW: 2, perPersonW: 8, lightingW: 15 };
  }
}

export interface OpeningHoursRule {
  days: number[];
  open: string;
  close: string;
}

function minutesOf(hhmm: string): number {
  const [h, m] = hhmm.split(':');
  return Number(h) * 60 + Number(m);
}

/** Is the space open at this local weekday/hour? No rules means open around the clock. */
export function isOpen(rules: OpeningHoursRule[] | undefined, weekday: number, hour: number): boolean {
  if (!rules || rules.length === 0) return true;
  const minute = hour * 60;
  return rules.some(
    (r) => r.days.includes(weekday) && minute >= minutesOf(r.open) && minute < minutesOf(r.close),
  );
}

/** Energy counter in Wh after drawing `powerW` for `seconds`. */
export function integrateEnergyWh(counterWh: number, powerW: number, seconds: number): number {
  return counterWh + (powerW * seconds) / 3600;
}

export const DAY_MS = 86_400_000;

/**
 * Meters reboot now and then (firmware update, power cut) and their counter restarts at 0. Returns the
 * instant within simulated UTC day `dayIndex` (days since the epoch) at which this meter reboots, or
 * undefined for most days. Deterministic given the seed.
 */
export function meterRebootAt(
  seed: string | number,
  meterId: string,
  dayIndex: number,
  probabilityPerDay = 0.02,
): number | undefined {
  if (chance(seed, meterId, dayIndex, 'reboot') >= probabilityPerDay) return undefined;
  return dayIndex * DAY_MS + Math.floor(chance(seed, meterId, dayIndex, 'reboot-at') * DAY_MS);
}

export interface CounterState {
  /** Cumulative energy since the last (re)start, Wh. */
  wh: number;
  /** Simulated instant of the last restart (or of the counter's creation). */
  startedAt: number;
  reboots: number;
}

/**
 * Advances an energy counter from `fromMs` to `toMs` with the power drawn at each sub-step, restarting
 * it at 0 at any reboot instant that falls inside the interval.
 */
export function advanceCounter(
  counter: CounterState,
  fromMs: number,
  toMs: number,
  powerAt: (ms: number) => number,
  rebootAt: (dayIndex: number) => number | undefined,
): CounterState {
  let { wh, startedAt, reboots } = counter;
  for (let t = fromMs; t < toMs; ) {
    let next = Math.min(toMs, t + MAX_STEP_MS);
    // a step may cross midnight: the reboot may fall on either day
    const reboot = [rebootAt(Math.floor(t / DAY_MS)), rebootAt(Math.floor(next / DAY_MS))].find(
      (r) => r !== undefined && r > t && r <= next,
    );
    const rebootsNow = reboot !== undefined;
    if (reboot !== undefined) next = reboot;
    wh = integrateEnergyWh(wh, powerAt(t), (next - t) / 1000);
    if (rebootsNow) {
      wh = 0;
      startedAt = next;
      reboots++;
    }
    t = next;
  }
  return { wh, startedAt, reboots };
}
