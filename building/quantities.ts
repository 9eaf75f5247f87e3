/**
 * What each quantity the building measures means, as data: its one canonical unit, its class and how its
 * series aggregate. Every part answers "is this a counter?", "which aggregate by default?" or "is this a
 * word the lock can be in?" from here, the way Home Assistant's `state_class` answers it once for all
 * integrations (https://developers.home-assistant.io/docs/core/entity/sensor/#available-state-classes):
 *
 * - `measurement`: a value at an instant (CO2, temperature, power); buckets average it.
 * - `total_increasing`: a counter that only grows, except when the meter restarts from zero; what a
 *   period used is the sum of its increases, never the mean of its values.
 * - `binary`: yes/no, stored as 1/0 (presence, battery low); a bucket's mean is the share of time it was yes.
 * - `state`: one word out of a known list (a lock's or door's state); only counted, never averaged.
 *
 * Vendor codes (Nuki's `3`, a Zigbee contact's `true`) are the device families' business; they map them
 * onto the words below, and a family's tests check that every word they produce is listed here.
 */

/**
 * How a series is reduced to one value per time bucket. mean/min/max/last: of the values in the bucket.
 * consumption: for counters, what was used within the bucket, correct across counter resets (a meter reboot
 * restarts the counter at 0: the value after the reset counts as used). count: readings in the bucket.
 */
export type Aggregate = 'mean' | 'min' | 'max' | 'last' | 'consumption' | 'count';

export type QuantityClass = 'measurement' | 'total_increasing' | 'binary' | 'state';

export interface QuantityDescription {
  readonly unit: string;
  readonly class: QuantityClass;
  /** The aggregate a series of this quantity gets when the caller names none. */
  readonly aggregate: Aggregate;
  /** For `state` quantities: every word a reading may carry. */
  readonly states?: readonly string[];
  /** What people call it, for pages that show a quantity they were not written for. */
  readonly label: { readonly de: string; readonly en: string };
  /** Decimals worth showing; more would be noise the sensor does not resolve. */
  readonly decimals: number;
  /**
   * What a reading tells about: the device's surroundings (the air, presence, a door, the current through
   * a meter) or the device itself (its battery, its radio link), which belongs with the device's health.
   */
  readonly about: 'surroundings' | 'device';
  /** For `state` quantities: what people call each word. */
  readonly stateLabels?: Readonly<Record<string, Label>>;
}

export interface Label {
  readonly de: string;
  readonly en: string;
}

/**
 * Lock states, in Nuki's words (Nuki BLE API "Lock States"), the most detailed lock vocabulary the
 * building has; another lock family maps its own states onto these.
 */
export const LOCK_STATES = [
  'uncalibrated',
  'locked',
  'unlocking',
  'unlocked',
  'locking',
  'unlatched',
  'unlocked_lock_n_go',
  'unlatching',
  'calibration',
  'boot_run',
  'motor_blocked',
  'undefined',
] as const;
export type LockState = (typeof LOCK_STATES)[number];

const LOCK_STATE_LABELS: Record<LockState, Label> = {
  uncalibrated: { de: 'nicht kalibriert', en: 'uncalibrated' },
  locked: { de: 'verriegelt', en: 'locked' },
  unlocking: { de: 'entriegelt gerade', en: 'unlocking' },
  unlocked: { de: 'entriegelt', en: 'unlocked' },
  locking: { de: 'verriegelt gerade', en: 'locking' },
  unlatched: { de: 'Falle gezogen', en: 'unlatched' },
  unlocked_lock_n_go: { de: "entriegelt (Lock 'n' Go)", en: "unlocked (lock 'n' go)" },
  unlatching: { de: 'zieht die Falle', en: 'unlatching' },
  calibration: { de: 'kalibriert gerade', en: 'calibrating' },
  boot_run: { de: 'startet', en: 'starting' },
  motor_blocked: { de: 'Motor blockiert', en: 'motor blocked' },
  undefined: { de: 'unbestimmt', en: 'undefined' },
};

/** Lock states in which the door can be pushed open (lock 'n' go and unlatching included). */
export const LOCK_STATES_OPEN_TO_PUSH = [
  'unlocked',
  'unlatched',
  'unlatching',
  'unlocked_lock_n_go',
] as const satisfies readonly LockState[];

/** Door states: `open` and `closed` from a contact, the rest from a lock's door sensor (Nuki). */
export const DOOR_STATES = [
  'open',
  'closed',
  'unavailable',
  'deactivated',
  'unknown',
  'calibrating',
  'uncalibrated',
  'tampered',
] as const;
export type DoorState = (typeof DOOR_STATES)[number];

const DOOR_STATE_LABELS: Record<DoorState, Label> = {
  open: { de: 'offen', en: 'open' },
  closed: { de: 'geschlossen', en: 'closed' },
  unavailable: { de: 'kein Türsensor', en: 'no door sensor' },
  deactivated: { de: 'Türsensor aus', en: 'door sensor off' },
  unknown: { de: 'unbekannt', en: 'unknown' },
  calibrating: { de: 'kalibriert gerade', en: 'calibrating' },
  uncalibrated: { de: 'nicht kalibriert', en: 'uncalibrated' },
  tampered: { de: 'manipuliert', en: 'tampered' },
};

/** A switched output (relay, plug), in the building's words; vendors say `on`/`ON`/`true`. */
export const SWITCH_STATES = ['on', 'off'] as const;
export type SwitchState = (typeof SWITCH_STATES)[number];

const SWITCH_STATE_LABELS: Record<SwitchState, Label> = {
  on: { de: 'ein', en: 'on' },
  off: { de: 'aus', en: 'off' },
};

const measurement = (unit: string, de: string, en: string, decimals: number) =>
  ({
    unit,
    class: 'measurement',
    aggregate: 'mean',
    label: { de, en },
    decimals,
    about: 'surroundings',
  }) as const;
const binary = (de: string, en: string) =>
  ({
    unit: 'bool',
    class: 'binary',
    aggregate: 'mean',
    label: { de, en },
    decimals: 0,
    about: 'surroundings',
  }) as const;
/** The device's own condition, not its surroundings'. */
const ofTheDevice = <D extends QuantityDescription>(description: D) =>
  ({ ...description, about: 'device' }) as const;

export const QUANTITIES = {
  occupancy: binary('Belegung', 'Occupancy'),
  co2: measurement('ppm', 'CO₂', 'CO₂', 0),
  temperature: measurement('°C', 'Temperatur', 'Temperature', 1),
  humidity: measurement('%', 'Luftfeuchte', 'Humidity', 0),
  illuminance: measurement('lx', 'Helligkeit', 'Illuminance', 0),
  voc: measurement('ppb', 'VOC', 'VOC', 0),
  pm25: measurement('µg/m³', 'Feinstaub PM2,5', 'Particulate matter PM2.5', 0),
  power: measurement('W', 'Leistung', 'Power', 0),
  /** The meter's own counter as the device reports it; what a period used is derived from it. */
  energy: {
    unit: 'kWh',
    class: 'total_increasing',
    aggregate: 'consumption',
    label: { de: 'Energie', en: 'Energy' },
    decimals: 1,
    about: 'surroundings',
  },
  voltage: measurement('V', 'Spannung', 'Voltage', 0),
  current: measurement('A', 'Strom', 'Current', 2),
  lock: {
    unit: 'state',
    class: 'state',
    aggregate: 'count',
    states: LOCK_STATES,
    stateLabels: LOCK_STATE_LABELS,
    label: { de: 'Schloss', en: 'Lock' },
    decimals: 0,
    about: 'surroundings',
  },
  door: {
    unit: 'state',
    class: 'state',
    aggregate: 'count',
    states: DOOR_STATES,
    stateLabels: DOOR_STATE_LABELS,
    label: { de: 'Tür', en: 'Door' },
    decimals: 0,
    about: 'surroundings',
  },
  /** A relay or plug output: on or off (the current through it is `power`). */
  switch: {
    unit: 'state',
    class: 'state',
    aggregate: 'count',
    states: SWITCH_STATES,
    stateLabels: SWITCH_STATE_LABELS,
    label: { de: 'Schalter', en: 'Switch' },
    decimals: 0,
    about: 'surroundings',
  },
  /** The temperature a thermostat heats the room to. */
  setpoint: measurement('°C', 'Solltemperatur', 'Setpoint', 1),
  /** How far a radiator valve is open (its heating demand), 0 closed to 100 fully open. */
  valve: measurement('%', 'Ventilöffnung', 'Valve opening', 0),
  battery: ofTheDevice(measurement('%', 'Batterie', 'Battery', 0)),
  battery_low: ofTheDevice(binary('Batterie schwach', 'Battery low')),
  linkquality: ofTheDevice(measurement('lqi', 'Funkqualität', 'Link quality', 0)),
} as const satisfies Record<string, QuantityDescription>;

export type Quantity = keyof typeof QUANTITIES;
export type Unit = (typeof QUANTITIES)[Quantity]['unit'];

export const QUANTITY_NAMES = Object.keys(QUANTITIES) as Quantity[];

export function isQuantity(name: string): name is Quantity {
  return Object.hasOwn(QUANTITIES, name);
}

export function unitOf(quantity: Quantity): Unit {
  return QUANTITIES[quantity].unit;
}

/** A counter: what a period used is the sum of its increases (an energy meter). */
export function isCounter(quantity: Quantity): boolean {
  return QUANTITIES[quantity].class === 'total_increasing';
}

/** A device measures energy when one of the quantities its family reports is a counter. */
export function reportsCounter(quantities: readonly Quantity[]): boolean {
  return quantities.some(isCounter);
}

/** Says something about where the device is (air, presence, a door), not about the device's own condition. */
export function isAboutSurroundings(quantity: Quantity): boolean {
  return QUANTITIES[quantity].about === 'surroundings';
}

/**
 * Is this a value a reading of the quantity can carry? A word of its list for a state, a finite number
 * for everything else (booleans are 1/0).
 */
export function fitsQuantity(quantity: Quantity, value: unknown): boolean {
  const description: QuantityDescription = QUANTITIES[quantity];
  if (description.class === 'state')
    return typeof value === 'string' && (description.states ?? []).includes(value);
  return typeof value === 'number' && Number.isFinite(value);
}

/** Why an aggregate does not apply to a quantity, or undefined when it does. */
export function aggregateRefusal(quantity: Quantity, aggregate: Aggregate): string | undefined {
  const description = QUANTITIES[quantity];
  if (aggregate === 'consumption' && description.class !== 'total_increasing')
    return `aggregate consumption needs a cumulative counter (total_increasing), and ${quantity} is a ${description.class}`;
  if (description.class === 'state' && aggregate !== 'count')
    return `${quantity} is a state, not a number: only aggregate count applies`;
  return undefined;
}

/** Does a lock in this state let the door be pushed open? */
export function lockOpenToPush(state: string): boolean {
  return (LOCK_STATES_OPEN_TO_PUSH as readonly string[]).includes(state);
}
