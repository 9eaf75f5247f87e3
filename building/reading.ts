import type { Quantity, Unit } from './quantities.ts';

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

/** The channel of a device with a single measuring point, and of everything stored before channels counted. */
export const FIRST_CHANNEL = '0';
