import fs from 'node:fs';
import path from 'node:path';
import { InfluxV1Store } from './influx-v1-store.ts';
import { SqliteStore } from './sqlite-store.ts';
import type { ManagedStore } from './store.ts';

/** An InfluxDB server (INFLUX_URL and its companions); only the v1 API is spoken so far. */
export type InfluxConnection =
  | { api: 'v1'; url: string; database: string; username?: string; password?: string }
  | { api: 'v2'; url: string; org: string; bucket: string; token: string };

/** Where the readings are kept: InfluxDB when `influx` is given, else the SQLite file `dataDir/readings.db`. */
export interface StoreLocation {
  dataDir: string;
  influx: InfluxConnection | undefined;
}

export interface OpenStoreOptions {
  /** Raw readings kept this many days (default 30); older ones live on as hourly rollups. */
  rawRetentionDays?: number;
  /** Hourly rollups kept this many days (SQLite only; default 3650). */
  rollupRetentionDays?: number;
  /** SQLite only: write() on a worker thread (SqliteStoreOptions.writeThread), for the gateway's store path. */
  writeThread?: boolean;
}

export class StoreNotSupportedError extends Error {
  override name = 'StoreNotSupportedError';
}

/** The embedded SQLite file DATA_DIR/readings.db, unless INFLUX_URL configures InfluxDB. */
export function openStore(location: StoreLocation, options: OpenStoreOptions = {}): ManagedStore {
  const influx = location.influx;
  if (influx === undefined) {
    fs.mkdirSync(location.dataDir, { recursive: true });
    const { writeThread, ...retention } = options;
    return new SqliteStore({
      file: path.join(location.dataDir, 'readings.db'),
      ...retention,
      ...(writeThread ? { writeThread } : {}),
    });
  }
  if (influx.api === 'v2') {
    throw new StoreNotSupportedError(
      'INFLUX_API=v2 is not supported yet: use INFLUX_API=v1 (InfluxDB 2.x and 3.x serve the v1 API too, ' +
        'with a DBRP mapping and the token as password)',
    );
  }
  return new InfluxV1Store({
    url: influx.url,
    database: influx.database,
    username: influx.username,
    password: influx.password,
    ...(options.rawRetentionDays !== undefined ? { rawRetentionDays: options.rawRetentionDays } : {}),
  });
}
