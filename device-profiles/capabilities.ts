import {
  QUANTITIES,
  type Quantity,
  type QuantityDescription,
  type Unit,
  unitOf,
} from '../building/quantities.ts';
import { DecodeError } from './profile.ts';

/**
 * Capability blocks: the reusable pieces a device family is assembled from (in the spirit of
 * zigbee-herdsman-converters' `exposes`/modern extends). A block knows
 *   - which quantity it yields, in the one canonical unit of reading.ts,
 *   - where a vendor puts it (JSON key paths, first one present wins),
 *   - how to turn the vendor's raw value into the canonical value, and which raw values are impossible
 *     for real hardware (those throw DecodeError so the message is quarantined, not stored).
 * Families only say "this report carries occupancy(), co2(), energyCounter('Wh') at these keys".
 */

export type RawKind = 'number' | 'boolean' | 'code';

export interface Capability {
  readonly quantity: Quantity;
  readonly unit: Unit;
  /** What the vendor sends: decides how a plain-text payload is parsed before `normalise`. */
  readonly kind: RawKind;
  /** Alternative key paths in a JSON report; the first one present (and not null) is used. */
  readonly paths: readonly (readonly string[])[];
  /** Raw vendor value (already JSON-typed) to canonical value. `where` names the field for errors. */
  normalise(raw: unknown, where: string): number | string;
}

interface NumberRule {
  min: number;
  max: number;
  /** Multiply the vendor value by this to reach the canonical unit. */
  factor?: number;
}

function finiteNumber(raw: unknown, where: string): number {
  if (typeof raw !== 'number') throw new DecodeError(`${where}: expected a number, got ${describe(raw)}`);
  // JSON cannot carry NaN/Infinity, but plain-text topics can ("nan" is refused earlier; this is the net).
  if (!Number.isFinite(raw)) throw new DecodeError(`${where}: ${raw} is not a finite number`);
  return raw;
}

function numberBlock(quantity: Quantity, paths: string[][], rule: NumberRule): Capability {
  const factor = rule.factor ?? 1;
  return {
    quantity,
    unit: unitOf(quantity),
    kind: 'number',
    paths,
    normalise(raw, where) {
      const value = finiteNumber(raw, where);
      if (value < rule.min || value > rule.max) {
        throw new DecodeError(
          `${where}: ${value} is outside the range a real device reports (${rule.min}…${rule.max})`,
        );
      }
      return factor === 1 ? value : value * factor;
    },
  };
}

function booleanBlock(quantity: Quantity, paths: string[][]): Capability {
  return {
    quantity,
    unit: unitOf(quantity),
    kind: 'boolean',
    paths,
    normalise(raw, where) {
      if (typeof raw !== 'boolean')
        throw new DecodeError(`${where}: expected true/false, got ${describe(raw)}`);
      return raw ? 1 : 0;
    },
  };
}

/** A vendor's numeric status code mapped to the building's state word (lock and door states). */
function codeBlock(
  quantity: Quantity,
  paths: string[][],
  codes: Readonly<Record<number, string>>,
): Capability {
  return {
    quantity,
    unit: unitOf(quantity),
    kind: 'code',
    paths,
    normalise(raw, where) {
      const code = finiteNumber(raw, where);
      const state = Number.isInteger(code) ? codes[code] : undefined;
      if (state === undefined) throw new DecodeError(`${where}: ${code} is not a documented state code`);
      return state;
    },
  };
}

/**
 * A vendor's true/false mapped to the building's state words (a contact's `true` is the door `closed` in
 * Zigbee2MQTT's convention). Both words must be words of the quantity (building/quantities.ts), which is
 * checked when the family is defined, not when the first message arrives.
 */
function booleanWordBlock(
  quantity: Quantity,
  paths: string[][],
  words: { readonly true: string; readonly false: string },
): Capability {
  const description: QuantityDescription = QUANTITIES[quantity];
  for (const word of [words.true, words.false]) {
    if (!description.states?.includes(word))
      throw new Error(`"${word}" is not a word of ${quantity} (building/quantities.ts)`);
  }
  return {
    quantity,
    unit: unitOf(quantity),
    kind: 'boolean',
    paths,
    normalise(raw, where) {
      if (typeof raw !== 'boolean')
        throw new DecodeError(`${where}: expected true/false, got ${describe(raw)}`);
      return raw ? words.true : words.false;
    },
  };
}

const at = (paths: (string | string[])[]): string[][] => paths.map((p) => (Array.isArray(p) ? p : [p]));

type Where = string | string[];

// --- building blocks, named in the building's words ---------------------------------------------

export const occupancy = (...paths: Where[]) =>
  booleanBlock('occupancy', at(paths.length ? paths : ['occupancy']));

/** NDIR room sensors top out at 5 000–10 000 ppm; 40 000 ppm is already lethal, so beyond is a fault. */
export const co2 = (...paths: Where[]) =>
  numberBlock('co2', at(paths.length ? paths : ['co2']), { min: 0, max: 40_000 });

/** Covers room sensors and the internal temperature meters report (relays run warm, up to ~100 °C). */
export const temperature = (...paths: Where[]) =>
  numberBlock('temperature', at(paths.length ? paths : ['temperature']), { min: -60, max: 150 });

export const humidity = (...paths: Where[]) =>
  numberBlock('humidity', at(paths.length ? paths : ['humidity']), { min: 0, max: 100 });

/** Direct sunlight is ~100 000 lx. */
export const illuminance = (...paths: Where[]) =>
  numberBlock('illuminance', at(paths.length ? paths : ['illuminance']), { min: 0, max: 200_000 });

export const voc = (...paths: Where[]) =>
  numberBlock('voc', at(paths.length ? paths : ['voc']), { min: 0, max: 100_000 });

/** Particle counters (PMS5003 and kin) saturate at ~1000 µg/m³. */
export const pm25 = (...paths: Where[]) =>
  numberBlock('pm25', at(paths.length ? paths : ['pm25']), { min: 0, max: 2000 });

export const battery = (...paths: Where[]) =>
  numberBlock('battery', at(paths.length ? paths : ['battery']), { min: 0, max: 100 });

export const batteryLow = (...paths: Where[]) =>
  booleanBlock('battery_low', at(paths.length ? paths : ['battery_low']));

/** Zigbee LQI is one byte. */
export const linkquality = (...paths: Where[]) =>
  numberBlock('linkquality', at(paths.length ? paths : ['linkquality']), { min: 0, max: 255 });

/**
 * Active power in W. A plug only draws; a grid meter (EM) also measures export, hence `bidirectional`.
 * 1 MW bounds any meter in a building.
 */
export const power = (opts: { bidirectional?: boolean } = {}, ...paths: Where[]) =>
  numberBlock('power', at(paths.length ? paths : ['power']), {
    min: opts.bidirectional ? -1_000_000 : 0,
    max: 1_000_000,
  });

/** What a vendor counts energy in; every counter is stored in kWh. */
export type EnergyUnit = 'kWh' | 'Wh' | 'Wmin';
export const KWH_PER: Record<EnergyUnit, number> = { kWh: 1, Wh: 1 / 1000, Wmin: 1 / 60_000 };

/**
 * A cumulative energy counter. Counters never run backwards except by a reset (reboot), which is a
 * new non-negative value, so negative is impossible. Storage derives consumption across resets.
 */
export const energyCounter = (unit: EnergyUnit, ...paths: Where[]) =>
  numberBlock('energy', at(paths.length ? paths : ['energy']), {
    min: 0,
    max: Number.MAX_SAFE_INTEGER,
    factor: KWH_PER[unit],
  });

export const voltage = (...paths: Where[]) =>
  numberBlock('voltage', at(paths.length ? paths : ['voltage']), { min: 0, max: 1000 });

export const current = (...paths: Where[]) =>
  numberBlock('current', at(paths.length ? paths : ['current']), { min: 0, max: 1000 });

/**
 * A radiator thermostat's setpoint, °C. Valves take 5…30 °C (some report 0 or 4.5 for "off", and floor
 * controllers go to 35), so 0…50 holds every real one.
 */
export const setpoint = (...paths: Where[]) =>
  numberBlock('setpoint', at(paths.length ? paths : ['setpoint']), { min: 0, max: 50 });

/** How far a radiator valve is open, %. */
export const valve = (...paths: Where[]) =>
  numberBlock('valve', at(paths.length ? paths : ['valve']), { min: 0, max: 100 });

/** A switched output's state from the vendor's true/false (Shelly Gen2 `output`): on or off. */
export const switchState = (...paths: Where[]) =>
  booleanWordBlock('switch', at(paths.length ? paths : ['output']), { true: 'on', false: 'off' });

export const lockState = (codes: Readonly<Record<number, string>>, ...paths: Where[]) =>
  codeBlock('lock', at(paths.length ? paths : ['state']), codes);

export const doorState = (codes: Readonly<Record<number, string>>, ...paths: Where[]) =>
  codeBlock('door', at(paths.length ? paths : ['door']), codes);

/**
 * A state a vendor reports as true/false, in the building's words: a door contact is
 * `booleanState('door', { true: 'closed', false: 'open' }, 'contact')` where true means the magnet is near.
 */
export const booleanState = (
  quantity: Quantity,
  words: { readonly true: string; readonly false: string },
  ...paths: Where[]
) => booleanWordBlock(quantity, at(paths.length ? paths : [quantity]), words);

// --- plain-value topics ----------------------------------------------------------------------------

const NUMBER_TEXT = /^-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** Parses the text of a plain-value topic (Shelly Gen1, Nuki) into the raw JSON-like value a block expects. */
export function parsePlain(text: string, kind: RawKind, where: string): unknown {
  const t = text.trim();
  if (kind === 'boolean') {
    if (t === 'true') return true;
    if (t === 'false') return false;
    throw new DecodeError(`${where}: expected "true" or "false", got ${quote(t)}`);
  }
  if (!NUMBER_TEXT.test(t)) throw new DecodeError(`${where}: expected a number, got ${quote(t)}`);
  return Number(t);
}

export function describe(raw: unknown): string {
  if (raw === null) return 'null';
  if (Array.isArray(raw)) return 'an array';
  if (typeof raw === 'string') return `the string ${quote(raw)}`;
  if (typeof raw === 'object') return 'an object';
  return `${typeof raw} ${String(raw)}`;
}

export function quote(text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
}
