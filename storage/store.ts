import type { Aggregate } from '../building/quantities.ts';
import type { Reading } from '../building/reading.ts';

export type { Aggregate };

/**
 * The one interface every time-series backend implements (embedded SQLite, InfluxDB v1 API,
 * InfluxDB 2.x). One contract test suite (storage/contract.ts) runs against each of them.
 */

/**
 * A reading with the tags it is stored and queried by. A series is identified by (site, device, channel,
 * quantity) and a reading within it by its ts: two channels of one meter are two series, and several sites
 * in one store never meet. `space` and `unit` describe a reading, they do not identify its series (a device
 * that moves to another space stays one series).
 */
export interface StoredReading extends Reading {
  site: string;
  space: string;
}

export interface SeriesQuery {
  quantity: string;
  /** Restrict to one device (and one of its channels) or one space (or neither: all of the site). */
  device?: string;
  channel?: string;
  space?: string;
  /** Epoch ms, inclusive. */
  from: number;
  /** Epoch ms, exclusive. */
  to: number;
  /** Bucket width in ms; buckets are aligned to epoch multiples of bucketMs. Omitted: one bucket from..to. */
  bucketMs?: number;
  aggregate: Aggregate;
}

export interface SeriesPoint {
  /** Start of the bucket, epoch ms. */
  ts: number;
  value: number;
}

/**
 * One series per (site, device, channel), sorted by device, channel, site; buckets without data are absent
 * (not zero). A meter with three phases answers three series: who wants the meter adds them up.
 */
export interface Series {
  site: string;
  device: string;
  channel: string;
  space: string;
  quantity: string;
  unit: string;
  points: SeriesPoint[];
}

export interface LatestFilter {
  device?: string;
  channel?: string;
  space?: string;
  quantity?: string;
}

export interface TimeSeriesStore {
  /** e.g. `sqlite`, `influxdb-v1`, `influxdb-v2`. */
  readonly kind: string;
  /**
   * Stores readings. Idempotent on (site, device, channel, quantity, ts): writing the same reading twice keeps one,
   * which is what lets the gateway's spool replay a batch whose acknowledgement was lost.
   * Rejects when the backend is unreachable; then nothing of the batch may be assumed stored.
   */
  write(readings: StoredReading[]): Promise<void>;
  query(q: SeriesQuery): Promise<Series[]>;
  /** The newest reading per series (site, device, channel, quantity) matching the filter. */
  latest(filter?: LatestFilter): Promise<StoredReading[]>;
  /** True when the backend answers. Never throws. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}
