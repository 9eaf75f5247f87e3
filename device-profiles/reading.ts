/**
 * A reading is one normalised measurement of one device: what every part after decoding speaks.
 * Units are normalised at decode time (energy kWh, power W, CO2 ppm, temperature °C) so that
 * storage, reports and the dashboard never convert.
 */
export interface Reading {
  /** Device id as named in the site file (or derived from the topic when the device is unknown). */
  device: string;
  /**
   * The device's measuring point as its firmware numbers it: relay or switch output, meter phase
   * (`emeter/1`, `switch:2` are channel `1`, `2`); `0` for a device with one. Part of a series' identity.
   */
  channel: string;
  quantity: Quantity;
  /** Numbers for measurements; booleans are stored as 1/0; lock states are strings. */
  value: number | string;
  unit: Unit;
  /** Epoch milliseconds: the device's own timestamp when it sends one, else the time of receipt. */
  ts: number;
}

/** Quantities and their one canonical unit. */
export const QUANTITY_UNITS = {
  occupancy: 'bool',
  co2: 'ppm',
  temperature: '°C',
  humidity: '%',
  illuminance: 'lx',
  voc: 'ppb',
  pm25: 'µg/m³',
  power: 'W',
  /** Cumulative meter counter as the device reports it; consumption is derived by storage. */
  energy: 'kWh',
  voltage: 'V',
  current: 'A',
  lock: 'state',
  door: 'state',
  battery: '%',
  battery_low: 'bool',
  linkquality: 'lqi',
} as const;

export type Quantity = keyof typeof QUANTITY_UNITS;
export type Unit = (typeof QUANTITY_UNITS)[Quantity];

export function isQuantity(name: string): name is Quantity {
  return Object.hasOwn(QUANTITY_UNITS, name);
}

/** The channel of a device with a single measuring point, and of everything stored before channels counted. */
export const FIRST_CHANNEL = '0';
