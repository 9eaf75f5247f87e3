import { InfluxDB, type IPoint } from 'influx';
import type { IBackoffStrategy } from 'influx/lib/src/backoff/backoff.js';
import type { Quantity, Unit } from '../device-profiles/reading.ts';
import { type CounterSample, consumptionByBucket } from './consumption.ts';
import { checkQuery } from './sqlite-store.ts';
import type {
  LatestFilter,
  Series,
  SeriesPoint,
  SeriesQuery,
  StoredReading,
  TimeSeriesStore,
} from './store.ts';

/**
 * InfluxDB through its v1 HTTP API (/write, /query with InfluxQL), which InfluxDB 1.x, 2.x (compat
 * endpoints) and 3.x all serve. Tested against Debian's influxdb 1.6.7.
 *
 * Schema: one measurement per quantity (`co2`, `energy`, `lock`, …); tags `site`, `space`, `device`,
 * `unit`; field `value` (float) for numbers or `state` (string) for lock/door states, so a field never
 * changes type; timestamps in ms. A point's key is measurement + tags + time, so writing the same
 * reading twice stores it once (idempotent replay).
 *
 * Retention (when the store may manage the database): retention policy `raw` (DEFAULT, rawRetentionDays)
 * receives the writes; retention policy `rollup` (infinite) is filled by the continuous query
 * `wesprint_hourly` with per-hour mean/min/max/last/count of every measurement, tags kept. InfluxDB's
 * continuous queries cannot compute reset-aware consumption (no `increase()` in InfluxQL 1.x, and CQs
 * take no subqueries), so counters are rolled up by their hourly `last` and `max`. query() reads the
 * `raw` policy only: ranges older than the raw retention are answered from `rollup` by InfluxQL directly.
 *
 * Identifiers and strings are escaped for InfluxQL; tag values go through the line protocol escaping of
 * the `influx` package. The line protocol cannot carry a newline in a tag: CR/LF in ids are written
 * (and filtered) as the two characters `\n`/`\r`.
 */
export interface InfluxV1StoreOptions {
  url: string;
  database: string;
  username?: string | undefined;
  password?: string | undefined;
  /** Create database, retention policies and continuous query when missing (needs admin rights). */
  manageDatabase?: boolean;
  rawRetentionDays?: number;
  requestTimeoutMs?: number;
}

/** The spool owns retries and backoff: the client must neither retry nor park the host. */
const noBackoff: IBackoffStrategy = {
  getDelay: () => 0,
  next: () => noBackoff,
  reset: () => noBackoff,
};

/** An identifier in double quotes: the InfluxQL scanner knows \\ \" \n escapes. */
export function influxIdentifier(name: string): string {
  return `"${name.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

/** A string literal in single quotes. */
export function influxString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n')}'`;
}

/**
 * Tag values as stored. InfluxDB 1.x's line protocol has no escape for CR/LF, and a tag value ending in
 * a backslash would escape the delimiter after it: such a value gets an invisible WORD JOINER appended,
 * removed again when read back.
 */
const GUARD = '\u2060';
function tagValue(value: string): string {
  const flat = value.replace(/\r/g, '\\r').replace(/\n/g, '\\n');
  return flat.endsWith('\\') ? flat + GUARD : flat;
}
function fromTag(value: string | undefined): string {
  if (value === undefined) return '';
  return value.endsWith(`\\${GUARD}`) ? value.slice(0, -GUARD.length) : value;
}

interface RawSeries {
  name: string;
  tags?: Record<string, string>;
  columns: string[];
  values: unknown[][];
}

interface RawResult {
  statement_id?: number;
  error?: string;
  series?: RawSeries[];
}

const FUNCTIONS: Record<Exclude<SeriesQuery['aggregate'], 'consumption'>, string> = {
  mean: 'mean("value")',
  min: 'min("value")',
  max: 'max("value")',
  last: 'last("value")',
  count: 'count("value"), count("state")',
};

export class InfluxV1Store implements TimeSeriesStore {
  readonly kind = 'influxdb-v1';
  private readonly influx: InfluxDB;
  private readonly database: string;
  private readonly manage: boolean;
  private readonly rawRetentionDays: number;
  private ready: Promise<void> | undefined;

  constructor(options: InfluxV1StoreOptions) {
    const url = new URL(options.url);
    this.database = options.database;
    this.manage = options.manageDatabase ?? true;
    this.rawRetentionDays = options.rawRetentionDays ?? 30;
    this.influx = new InfluxDB({
      host: url.hostname,
      port: Number(url.port || (url.protocol === 'https:' ? 443 : 80)),
      protocol: url.protocol === 'https:' ? 'https' : 'http',
      ...(url.pathname !== '/' ? { path: url.pathname } : {}),
      database: options.database,
      ...(options.username ? { username: options.username } : {}),
      ...(options.password ? { password: options.password } : {}),
      pool: { maxRetries: 0, requestTimeout: options.requestTimeoutMs ?? 10_000, backoff: noBackoff },
    });
  }

  /** Statements of the retention setup, exported so a test can run the continuous query's SELECT. */
  rollupSelect(): string {
    const db = influxIdentifier(this.database);
    return `SELECT mean("value") AS "mean", min("value") AS "min", max("value") AS "max", last("value") AS "last",
      count("value") AS "count", count("state") AS "count_state"
      INTO ${db}."rollup".:MEASUREMENT FROM ${db}."raw"./.*/ GROUP BY time(1h), *`;
  }

  private async setUp(): Promise<void> {
    const db = influxIdentifier(this.database);
    try {
      await this.run(`CREATE DATABASE ${db}`, 'POST');
      const policies = await this.run(`SHOW RETENTION POLICIES ON ${db}`);
      const names = new Set((policies[0]?.series?.[0]?.values ?? []).map((row) => row[0]));
      const raw = `ON ${db} DURATION ${this.rawRetentionDays}d REPLICATION 1 DEFAULT`;
      await this.run(
        names.has('raw') ? `ALTER RETENTION POLICY "raw" ${raw}` : `CREATE RETENTION POLICY "raw" ${raw}`,
        'POST',
      );
      if (!names.has('rollup'))
        await this.run(`CREATE RETENTION POLICY "rollup" ON ${db} DURATION INF REPLICATION 1`, 'POST');
      const cqs = await this.run('SHOW CONTINUOUS QUERIES');
      const exists = (cqs[0]?.series ?? []).some(
        (s) => s.name === this.database && (s.values ?? []).some((row) => row[0] === 'wesprint_hourly'),
      );
      if (!exists)
        await this.run(
          `CREATE CONTINUOUS QUERY "wesprint_hourly" ON ${db} BEGIN ${this.rollupSelect()} END`,
          'POST',
        );
    } catch (error) {
      // Without admin rights the operator sets the database up; writes and queries still work.
      if (/authoriz|permission|forbidden/i.test(String((error as Error).message))) return;
      throw error;
    }
  }

  private ensureReady(): Promise<void> {
    if (!this.manage) return Promise.resolve();
    if (this.ready === undefined) {
      this.ready = this.setUp().catch((error: unknown) => {
        this.ready = undefined; // try again on the next call (the server may come back)
        throw error;
      });
    }
    return this.ready;
  }

  private async run(q: string, method: 'GET' | 'POST' = 'GET'): Promise<RawResult[]> {
    const response = (await this.influx.queryRaw(q, {
      database: this.database,
      precision: 'ms',
      method,
    })) as {
      results?: RawResult[];
      error?: string;
    };
    if (response.error) throw new Error(`InfluxDB: ${response.error}`);
    const results = response.results ?? [];
    for (const r of results) if (r.error) throw new Error(`InfluxDB: ${r.error} (in: ${q.slice(0, 200)})`);
    return results;
  }

  async write(readings: StoredReading[]): Promise<void> {
    await this.ensureReady();
    const points: IPoint[] = [];
    for (const r of readings) {
      const ts = Math.round(r.ts);
      if (!Number.isFinite(ts)) continue;
      if (typeof r.value === 'number' && !Number.isFinite(r.value)) continue;
      const tags: Record<string, string> = {};
      // The line protocol has no empty tag value: an absent tag reads back as ''.
      for (const key of ['site', 'space', 'device', 'unit'] as const) {
        const v = tagValue(String(r[key] ?? ''));
        if (v !== '') tags[key] = v;
      }
      points.push({
        measurement: String(r.quantity),
        tags,
        fields: typeof r.value === 'number' ? { value: r.value } : { state: String(r.value) },
        timestamp: ts,
      });
    }
    if (points.length > 0)
      await this.influx.writePoints(points, { precision: 'ms', database: this.database });
  }

  private where(q: { device?: string | undefined; space?: string | undefined }, time?: string): string {
    const clauses = time === undefined ? [] : [time];
    if (q.device !== undefined) clauses.push(`"device" = ${influxString(tagValue(q.device))}`);
    if (q.space !== undefined) clauses.push(`"space" = ${influxString(tagValue(q.space))}`);
    return clauses.join(' AND ');
  }

  async query(q: SeriesQuery): Promise<Series[]> {
    checkQuery(q);
    await this.ensureReady();
    const from = Math.round(q.from);
    const to = Math.round(q.to);
    const measurement = influxIdentifier(q.quantity);
    const range = this.where(q, `time >= ${from}ms AND time < ${to}ms`);
    // Aggregates are grouped by device alone, so a device that moved to another space stays one series
    // (as in SQLite); its space and unit are those it has the most readings with in the range.
    const byDevice = 'GROUP BY "device"';
    const [labels, ...results] = await this.run(
      `SELECT count(*) FROM ${measurement} WHERE ${range} GROUP BY "device", "space", "unit";${
        q.aggregate === 'consumption'
          ? `SELECT "value" FROM ${measurement} WHERE ${range} ${byDevice};` +
            `SELECT last("value") FROM ${measurement} WHERE ${this.where(q, `time < ${from}ms`)} ${byDevice}`
          : `SELECT ${FUNCTIONS[q.aggregate]} FROM ${measurement} WHERE ${range} ${
              q.bucketMs === undefined ? byDevice : `${byDevice}, time(${q.bucketMs}ms) fill(none)`
            }`
      }`,
    );
    const label = new Map<string, { space: string; unit: string; n: number }>();
    for (const s of labels?.series ?? []) {
      const n = (s.values[0] ?? []).slice(1).reduce<number>((a, v) => a + (typeof v === 'number' ? v : 0), 0);
      const device = fromTag(s.tags?.device);
      if ((label.get(device)?.n ?? -1) < n)
        label.set(device, { space: fromTag(s.tags?.space), unit: fromTag(s.tags?.unit), n });
    }
    const series: Series[] = [];
    const add = (s: RawSeries, points: SeriesPoint[]) => {
      const device = fromTag(s.tags?.device);
      const l = label.get(device);
      if (points.length > 0)
        series.push({ device, space: l?.space ?? '', quantity: q.quantity, unit: l?.unit ?? '', points });
    };

    if (q.aggregate === 'consumption') {
      const [inRange, before] = results;
      const baselines = new Map<string, CounterSample>();
      for (const s of before?.series ?? []) {
        const row = s.values[0];
        if (row && typeof row[1] === 'number')
          baselines.set(fromTag(s.tags?.device), { ts: Number(row[0]), value: row[1] });
      }
      for (const s of inRange?.series ?? []) {
        const samples = s.values
          .filter((row) => typeof row[1] === 'number')
          .map((row) => ({ ts: Number(row[0]), value: row[1] as number }));
        const baseline = baselines.get(fromTag(s.tags?.device));
        add(
          s,
          consumptionByBucket(baseline ? [baseline, ...samples] : samples, {
            from,
            to,
            bucketMs: q.bucketMs,
          }),
        );
      }
    } else {
      for (const s of results[0]?.series ?? []) {
        const points: SeriesPoint[] = [];
        for (const row of s.values) {
          const numbers = row.slice(1).filter((v): v is number => typeof v === 'number');
          if (numbers.length === 0) continue;
          const value = q.aggregate === 'count' ? numbers.reduce((a, b) => a + b, 0) : (numbers[0] as number);
          if (q.aggregate === 'count' && value === 0) continue;
          // Without GROUP BY time, selectors (min/max/last) answer with the point's time.
          points.push({ ts: q.bucketMs === undefined ? from : Number(row[0]), value });
        }
        add(s, points);
      }
    }
    return series.sort((a, b) => (a.device < b.device ? -1 : a.device > b.device ? 1 : 0));
  }

  async latest(filter: LatestFilter = {}): Promise<StoredReading[]> {
    await this.ensureReady();
    const from = filter.quantity === undefined ? '/.*/' : influxIdentifier(filter.quantity);
    const where = this.where(filter);
    const tail = `${where ? `WHERE ${where}` : ''} GROUP BY "device", "space", "site", "unit"`;
    const results = await this.run(
      `SELECT last("value") FROM ${from} ${tail};SELECT last("state") FROM ${from} ${tail}`,
    );
    const newest = new Map<string, StoredReading>();
    for (const result of results) {
      for (const s of result.series ?? []) {
        const row = s.values[0];
        if (!row || row[1] === null || row[1] === undefined) continue;
        const reading: StoredReading = {
          site: fromTag(s.tags?.site),
          space: fromTag(s.tags?.space),
          device: fromTag(s.tags?.device),
          quantity: s.name as Quantity,
          unit: fromTag(s.tags?.unit) as Unit,
          ts: Number(row[0]),
          value: row[1] as number | string,
        };
        const key = JSON.stringify([reading.device, reading.quantity]);
        const known = newest.get(key);
        if (!known || reading.ts > known.ts) newest.set(key, reading);
      }
    }
    const key = (r: StoredReading) => `${r.device}\u0000${r.quantity}`;
    return [...newest.values()].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  }

  async ping(): Promise<boolean> {
    try {
      const hosts = await this.influx.ping(2000);
      return hosts.some((h) => h.online);
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    // HTTP only: nothing is held open between requests.
  }
}
