import type { Aggregate } from '../building/quantities.ts';
import type { Reading } from '../building/reading.ts';

export type { Aggregate };

/**
 * The one interface every time-series backend implements: the embedded SQLite store and InfluxDB through its
 * v1 HTTP API (1.x, or 2.x and 3.x through their v1 compatibility; `storage/open.ts` refuses INFLUX_API=v2).
 * One contract test suite (storage/contract.ts) runs against each of them.
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
   * How many readings a write takes best when more are waiting: the gateway cuts its batches at this size
   * (gateway/journal-reader.ts; 10,000 when unset).
   */
  readonly batchReadings?: number;
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

/** What maintain() did. */
export interface MaintenanceReport {
  /** Series-hours (re)computed. */
  rolledUp: number;
  prunedReadings: number;
  prunedRollups: number;
  /** Hours before this have rollups. */
  rolledUpUntil: number;
  /** Raw readings before this were pruned. */
  rawKeptFrom: number;
}

/**
 * A store as the gateway keeps it and the simulated building's history (simulations/history/) writes
 * into it: `maintain(now)` rolls complete hours up (both stores) and prunes raw readings past retention
 * (SQLite; InfluxDB's retention policy drops them itself). A history comes after the fact, one chunk
 * [from, to) after the other in time order, `now` being where the history ends; each store takes it the
 * way it can (its two kinds below), and is maintained at the end.
 */
export type ManagedStore = RollsUpHistory | TakesHistoryWhole;

interface MaintainedStore extends TimeSeriesStore {
  maintain(now?: number): Promise<MaintenanceReport>;
}

/**
 * SQLite: a history's readings come in through write() like live ones (the gateway's spool), and after
 * each chunk the store rolls its hours up from its own table and drops the raw readings past retention.
 */
export interface RollsUpHistory extends MaintainedStore {
  rollUpHistory(from: number, to: number, now?: number): Promise<number>;
}

/**
 * InfluxDB: a chunk's readings come whole, since InfluxDB refuses raw points past its retention and the
 * rollups of those hours can only come from the readings themselves.
 */
export interface TakesHistoryWhole extends MaintainedStore {
  writeHistory(readings: readonly StoredReading[], from: number, to: number, now: number): Promise<number>;
}
