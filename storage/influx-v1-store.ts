import http from 'node:http';
import https from 'node:https';
import { InfluxDB, type IPoint, escape as lineProtocol } from 'influx';
import type { IBackoffStrategy } from 'influx/lib/src/backoff/backoff.js';
import type { Quantity, Unit } from '../building/quantities.ts';
import { FIRST_CHANNEL } from '../building/reading.ts';
import { type CounterSample, consumptionByBucket } from './consumption.ts';
import { type HourRollup, rollUpHours, type SeriesSample } from './hourly-rollup.ts';
import {
  type BucketPartial,
  SeriesAccumulator,
  type SeriesId,
  seriesKey as seriesIdKey,
} from './partial-aggregate.ts';
import { checkQuery } from './sqlite-store.ts';
import type {
  LatestFilter,
  MaintenanceReport,
  Series,
  SeriesQuery,
  StoredReading,
  TakesHistoryWhole,
} from './store.ts';

/**
 * InfluxDB through its v1 HTTP API (/write, /query with InfluxQL), which InfluxDB 1.x, 2.x (compat
 * endpoints) and 3.x all serve. Tested against Debian's influxdb 1.6.7.
 *
 * Schema: one measurement per quantity (`co2`, `energy`, `lock`, …); tags `site`, `space`, `device`,
 * `channel`, `unit`; field `value` (float) for numbers or `state` (string) for lock/door states, so a field
 * never changes type; timestamps in ms. A point's key is measurement + tags + time, so writing the same
 * reading twice stores it once (idempotent replay).
 *
 * Series identity, as in every store: (site, device, channel) per measurement. Queries, rollups and latest
 * group by these three tags (SERIES_TAGS); rollup points carry them as tags too. Channel 0 is written
 * without a `channel` tag (an absent tag reads as '' in InfluxQL, and '' is read back as channel 0), so the
 * points written before channels counted are channel 0 of their device without rewriting them, and a
 * device with one channel keeps the series keys it always had.
 *
 * Retention: retention policy `raw` (DEFAULT, rawRetentionDays) receives the writes; retention policy
 * `hourly` (infinite) holds the hourly rollups, the same rows as SqliteStore's rollup_hour (count, sum,
 * min, max, last and reset-aware counter consumption, storage/hourly-rollup.ts), one point per series
 * and hour (tags `site`, `device`, `channel`; space and unit as fields, so a device that moves keeps one
 * point per hour). The application writes them, not a continuous query: a CQ runs on the database's clock over
 * the hour just past, so it never rolls up what arrives late (the spool replaying an outage) or is written
 * into the past (the history backfill), and InfluxQL 1.x cannot compute reset-aware consumption.
 * `maintain(now)` rolls complete hours up from `raw` (the gateway calls it periodically, as for SQLite),
 * `writeHistory` rolls a history up as it is written. How far rollups reach is kept in the `hourly`
 * policy (measurement `wesprint_rollup`), so every process reading the database knows it.
 *
 * Queries: as SqliteStore, hours older than the raw retention (and already rolled up) come from `hourly`
 * when the bucket is a whole number of hours (or one bucket for the whole range), the rest from `raw`,
 * combined per bucket. "Older than the raw retention" is judged by the application's clock (`now`), never
 * the database's: influxd is a Go program and runs on the real clock whatever the application's is.
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
  /**
   * Create database and retention policies when missing (needs admin rights). Without, the operator
   * creates `raw` (DEFAULT, rawRetentionDays) and `hourly` (INF).
   */
  manageDatabase?: boolean;
  rawRetentionDays?: number;
  requestTimeoutMs?: number;
  /** The application's clock (epoch ms): which retention policy holds a period is judged by it. */
  now?: () => number;
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

interface SeriesFilter {
  device?: string | undefined;
  channel?: string | undefined;
  space?: string | undefined;
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

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const floorHour = (ts: number): number => Math.floor(ts / HOUR) * HOUR;
const ceilHour = (ts: number): number => Math.ceil(ts / HOUR) * HOUR;

const RAW = 'raw';
const HOURLY = 'hourly';
/** In `hourly`, at time 0: hours before `rolled_up_until` have their rollups. */
const ROLLUP_STATE = 'wesprint_rollup';
/** What earlier versions rolled up with (without consumption, on the database's clock): dropped at setup. */
const OLD_CONTINUOUS_QUERY = 'wesprint_hourly';
const ROLLUP_POINTS_PER_WRITE = 5000;

/** One series' readings read back from `raw`, with the tags of each. */
interface TaggedSample extends SeriesSample {
  site: string;
  space: string;
  unit: string;
}

/** The tags that identify a series (with the measurement, which is the quantity). */
const SERIES_TAGS = '"site", "device", "channel"';
const seriesKey = (id: SeriesId, quantity: string) =>
  JSON.stringify([id.site, id.device, id.channel, quantity]);
const num = (v: unknown): number | null => (typeof v === 'number' ? v : null);

/** Channel 0 is stored without the tag: see the schema note above. */
function channelTag(channel: string): string {
  return channel === FIRST_CHANNEL ? '' : tagValue(channel);
}

/** The series a result series (grouped by SERIES_TAGS, or by *) belongs to. */
function seriesOf(s: { tags?: Record<string, string> }): SeriesId {
  const channel = fromTag(s.tags?.channel);
  return {
    site: fromTag(s.tags?.site),
    device: fromTag(s.tags?.device),
    channel: channel === '' ? FIRST_CHANNEL : channel,
  };
}

/** The series of a reading as stored (one spooled before channels counted is channel 0). */
function seriesOfReading(r: StoredReading): SeriesId {
  return {
    site: String(r.site ?? ''),
    device: String(r.device),
    channel: String(r.channel ?? FIRST_CHANNEL),
  };
}

/** The tags of a series on a point (no empty values: the line protocol has none). */
function seriesTags(id: SeriesId): Record<string, string> {
  const tags: Record<string, string> = {};
  const site = tagValue(id.site);
  if (site !== '') tags.site = site;
  tags.device = tagValue(id.device);
  const channel = channelTag(id.channel);
  if (channel !== '') tags.channel = channel;
  return tags;
}

/** One series of one quantity. */
interface Only extends SeriesId {
  quantity: string;
}

export class InfluxV1Store implements TakesHistoryWhole {
  readonly kind = 'influxdb-v1';
  private readonly influx: InfluxDB;
  private readonly database: string;
  private readonly manage: boolean;
  private readonly rawRetentionMs: number;
  private readonly now: () => number;
  private ready: Promise<void> | undefined;
  /** rolled_up_until as last read or written by this process (undefined: not known yet). */
  private rolledUpUntil: number | null | undefined;
  /** Series-hours that received readings after they were rolled up (the spool replaying an outage). */
  private readonly dirty = new Map<string, Only & { hour: number }>();
  /** A history's readings of its last, unfinished hour, kept for the next chunk, which goes on from `to`. */
  private historyTail: { to: number; readings: StoredReading[] } | undefined;
  /** The last numeric value of each series at the end of the last history chunk: the next one's baseline. */
  private historyBaselines: { to: number; last: Map<string, CounterSample> } | undefined;
  /** Where raw readings are posted (/write of the database, its default policy), and how. */
  private readonly writeUrl: URL;
  private readonly writeHeaders: Record<string, string>;
  private readonly requestTimeoutMs: number;
  /** Each series' line start (measurement and tags, escaped), by its quantity, site, space, device, unit, channel. */
  private readonly lineStarts = new Map<string, string>();

  constructor(options: InfluxV1StoreOptions) {
    const url = new URL(options.url);
    this.requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
    const write = new URL(`${url.pathname.replace(/\/$/, '')}/write`, url);
    write.search = new URLSearchParams({ db: options.database, precision: 'ms' }).toString();
    this.writeUrl = write;
    this.writeHeaders = { 'content-type': 'text/plain; charset=utf-8' };
    if (options.username)
      this.writeHeaders.authorization = `Basic ${Buffer.from(`${options.username}:${options.password ?? ''}`).toString('base64')}`;
    this.database = options.database;
    this.manage = options.manageDatabase ?? true;
    this.rawRetentionMs = (options.rawRetentionDays ?? 30) * DAY;
    this.now = options.now ?? Date.now;
    this.influx = new InfluxDB({
      host: url.hostname,
      port: Number(url.port || (url.protocol === 'https:' ? 443 : 80)),
      protocol: url.protocol === 'https:' ? 'https' : 'http',
      ...(url.pathname !== '/' ? { path: url.pathname } : {}),
      database: options.database,
      ...(options.username ? { username: options.username } : {}),
      ...(options.password ? { password: options.password } : {}),
      pool: { maxRetries: 0, requestTimeout: this.requestTimeoutMs, backoff: noBackoff },
    });
  }

  /** `"db"."rp"."measurement"`, or a regex over all measurements of the policy. */
  private from(policy: string, quantity?: string): string {
    const m = quantity === undefined ? '/.*/' : influxIdentifier(quantity);
    return `${influxIdentifier(this.database)}.${influxIdentifier(policy)}.${m}`;
  }

  private async setUp(): Promise<void> {
    const db = influxIdentifier(this.database);
    try {
      await this.run(`CREATE DATABASE ${db}`, 'POST');
      const policies = await this.run(`SHOW RETENTION POLICIES ON ${db}`);
      const names = new Set((policies[0]?.series?.[0]?.values ?? []).map((row) => row[0]));
      const raw = `ON ${db} DURATION ${this.rawRetentionMs / HOUR}h REPLICATION 1 DEFAULT`;
      await this.run(
        names.has(RAW) ? `ALTER RETENTION POLICY "${RAW}" ${raw}` : `CREATE RETENTION POLICY "${RAW}" ${raw}`,
        'POST',
      );
      if (!names.has(HOURLY))
        await this.run(`CREATE RETENTION POLICY "${HOURLY}" ON ${db} DURATION INF REPLICATION 1`, 'POST');
      const cqs = await this.run('SHOW CONTINUOUS QUERIES');
      const old = (cqs[0]?.series ?? []).some(
        (s) => s.name === this.database && (s.values ?? []).some((row) => row[0] === OLD_CONTINUOUS_QUERY),
      );
      if (old) await this.run(`DROP CONTINUOUS QUERY "${OLD_CONTINUOUS_QUERY}" ON ${db}`, 'POST');
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

  /**
   * Readings of hours already rolled up that lie past the raw retention (the spool replaying a long outage)
   * are folded into their hours' rollups, as SqliteStore folds them; so are the ones InfluxDB itself refuses
   * as past its retention (by its own clock, which may be ahead of the application's): otherwise the spool
   * would offer that batch again for ever, and every batch after it would wait behind it.
   */
  async write(readings: StoredReading[]): Promise<void> {
    await this.ensureReady();
    const heldFrom = this.rawHeldFrom(this.now());
    let rolledUpUntil = this.rolledUpUntil ?? Number.NEGATIVE_INFINITY;
    if (this.rolledUpUntil === undefined && readings.some((r) => Math.round(r.ts) < heldFrom))
      rolledUpUntil = (await this.readRolledUpUntil()) ?? Number.NEGATIVE_INFINITY;
    const raw: StoredReading[] = [];
    const past: StoredReading[] = [];
    for (const r of readings) {
      const ts = Math.round(r.ts);
      if (!Number.isFinite(ts)) continue;
      if (typeof r.value === 'number' && !Number.isFinite(r.value)) continue;
      if (ts < heldFrom && ts < rolledUpUntil) {
        past.push(r);
        continue;
      }
      raw.push(r);
      if (ts < rolledUpUntil) {
        const late = { ...seriesOfReading(r), quantity: String(r.quantity), hour: floorHour(ts) };
        this.dirty.set(JSON.stringify(late), late);
      }
    }
    try {
      await this.writeRaw(raw);
    } catch (error) {
      const refused = /points beyond retention policy dropped=(\d+)/.exec(String((error as Error).message));
      if (refused === null) throw error;
      // InfluxDB kept the rest of the batch; what it dropped are the oldest points, all older than its cut.
      const oldest = [...raw].sort((a, b) => a.ts - b.ts).slice(0, Number(refused[1]));
      past.push(...oldest);
    }
    if (past.length > 0) await this.foldIntoRollups(past);
  }

  /**
   * Raw readings as line protocol, posted in one request. Each series' measurement and tags are escaped once
   * (as the `influx` package escapes them: tag values by `escape.tag`, strings by `escape.quoted`), not per
   * reading: building and escaping a point object per reading cost the gateway's event loop 4.7–6.4 µs CPU per
   * Tasmota message (3.5 readings), the line from its cached start 1.1–1.5.
   */
  private async writeRaw(readings: readonly StoredReading[]): Promise<void> {
    if (readings.length === 0) return;
    const lines = new Array<string>(readings.length);
    for (let i = 0; i < readings.length; i++) {
      const r = readings[i] as StoredReading;
      const field =
        typeof r.value === 'number' ? `value=${r.value}` : `state=${lineProtocol.quoted(String(r.value))}`;
      lines[i] = `${this.lineStart(r)} ${field} ${Math.round(r.ts)}`;
    }
    await this.post(lines.join('\n'));
  }

  /**
   * A /write request with node:http(s) (fetch refuses ports a server may well listen on, 6000 or 6665–6669):
   * resolves on 2xx, rejects with InfluxDB's answer or the connection's error.
   */
  private post(body: string): Promise<void> {
    const url = this.writeUrl;
    const request = url.protocol === 'https:' ? https.request : http.request;
    return new Promise<void>((resolve, reject) => {
      const req = request(
        url,
        {
          method: 'POST',
          headers: { ...this.writeHeaders, 'content-length': Buffer.byteLength(body) },
          timeout: this.requestTimeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', reject);
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) resolve();
            else reject(new Error(`InfluxDB /write answered ${status}: ${Buffer.concat(chunks).toString()}`));
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.requestTimeoutMs} ms`)));
      req.on('error', (error: Error & { code?: string }) =>
        reject(new Error(`InfluxDB /write: ${error.code ?? error.message}`, { cause: error })),
      );
      req.end(body);
    });
  }

  /** The line's measurement and tags; the line protocol has no empty tag value: an absent tag reads back as ''. */
  private lineStart(r: StoredReading): string {
    const channel = String(r.channel ?? FIRST_CHANNEL);
    const key = `${r.quantity}\u0000${r.site}\u0000${r.space}\u0000${r.device}\u0000${r.unit}\u0000${channel}`;
    let start = this.lineStarts.get(key);
    if (start === undefined) {
      start = String(r.quantity);
      for (const tag of ['site', 'space', 'device', 'unit'] as const) {
        const v = tagValue(String(r[tag] ?? ''));
        if (v !== '') start += `,${tag}=${lineProtocol.tag(v)}`;
      }
      const c = channelTag(channel);
      if (c !== '') start += `,channel=${lineProtocol.tag(c)}`;
      // A building's series are a few thousand; a store fed names without end forgets them now and then.
      if (this.lineStarts.size >= 100_000) this.lineStarts.clear();
      this.lineStarts.set(key, start);
    }
    return start;
  }

  /**
   * Late readings whose raw hours InfluxDB no longer keeps, added to their hours' rollups: count, sum,
   * min, max and last; the hour's consumption stays as it was (without the hour's other readings a late
   * counter value cannot be placed between them). An hour without a rollup gets one from them whole,
   * consumption included, from the last rolled-up value before it.
   */
  private async foldIntoRollups(readings: readonly StoredReading[]): Promise<void> {
    const groups = new Map<
      string,
      { id: SeriesId; quantity: string; hour: number; byTs: Map<number, TaggedSample> }
    >();
    for (const r of readings) {
      const id = seriesOfReading(r);
      const quantity = String(r.quantity);
      const ts = Math.round(r.ts);
      const hour = floorHour(ts);
      const key = JSON.stringify([seriesKey(id, quantity), hour]);
      let group = groups.get(key);
      if (group === undefined) {
        group = { id, quantity, hour, byTs: new Map() };
        groups.set(key, group);
      }
      const value = typeof r.value === 'number' ? r.value : String(r.value);
      group.byTs.set(ts, {
        ts,
        value,
        site: String(r.site ?? ''),
        space: String(r.space ?? ''),
        unit: String(r.unit ?? ''),
      });
    }
    const list = [...groups.values()];
    const points: IPoint[] = [];
    // Two statements per hour: its rollup, and the last rolled-up value before it (a new hour's baseline).
    for (let i = 0; i < list.length; i += 100) {
      const slice = list.slice(i, i + 100);
      const results = await this.run(
        slice
          .map((g) => {
            const source = this.from(HOURLY, g.quantity);
            const series = this.whereSeries(g.id);
            return (
              `SELECT "count", "num_count", "sum", "min", "max", "last", "last_ts" FROM ${source} WHERE time = ${g.hour}ms${series};` +
              `SELECT last("last"), last("last_ts") FROM ${source} WHERE time < ${g.hour}ms${series}`
            );
          })
          .join(';'),
      );
      slice.forEach((g, k) => {
        const samples = [...g.byTs.values()].sort((a, b) => a.ts - b.ts);
        const row = results[2 * k]?.series?.[0]?.values[0];
        if (row === undefined) {
          const before = results[2 * k + 1]?.series?.[0]?.values[0];
          const baseline =
            before && typeof before[1] === 'number' && typeof before[2] === 'number'
              ? { ts: before[2], value: before[1] }
              : undefined;
          points.push(...rollupPoints(g.id, g.quantity, samples, baseline));
          return;
        }
        const late = rollUpHours(samples)[0] as HourRollup;
        const fields: Record<string, number> = {
          count: (num(row[1]) ?? 0) + late.count,
          num_count: (num(row[2]) ?? 0) + late.numCount,
          sum: (num(row[3]) ?? 0) + late.sum,
        };
        const min = [num(row[4]), late.min].filter((v): v is number => v !== null);
        const max = [num(row[5]), late.max].filter((v): v is number => v !== null);
        if (min.length > 0) fields.min = Math.min(...min);
        if (max.length > 0) fields.max = Math.max(...max);
        const lastTs = num(row[7]);
        if (late.last !== null && late.lastTs !== null && (lastTs === null || late.lastTs >= lastTs)) {
          fields.last = late.last;
          fields.last_ts = late.lastTs;
        }
        // Fields not written keep their values (InfluxDB merges a point's fields): consumption, space, unit.
        points.push({ measurement: g.quantity, tags: seriesTags(g.id), fields, timestamp: String(g.hour) });
      });
    }
    await this.writeRollupPoints(points);
  }

  private where(q: SeriesFilter, time?: string): string {
    const clauses = time === undefined ? [] : [time];
    if (q.device !== undefined) clauses.push(`"device" = ${influxString(tagValue(q.device))}`);
    if (q.channel !== undefined) clauses.push(`"channel" = ${influxString(channelTag(q.channel))}`);
    if (q.space !== undefined) clauses.push(`"space" = ${influxString(tagValue(q.space))}`);
    return clauses.join(' AND ');
  }

  /** As where(), for `hourly`, where the space is a field. */
  private whereHourly(q: SeriesFilter, time: string): string {
    const clauses = [time];
    if (q.device !== undefined) clauses.push(`"device" = ${influxString(tagValue(q.device))}`);
    if (q.channel !== undefined) clauses.push(`"channel" = ${influxString(channelTag(q.channel))}`);
    if (q.space !== undefined) clauses.push(`"space_id" = ${influxString(q.space)}`);
    return clauses.join(' AND ');
  }

  /** Exactly one series, in `raw` or `hourly`. */
  private whereSeries(only: SeriesId): string {
    return ` AND "site" = ${influxString(tagValue(only.site))} AND "device" = ${influxString(tagValue(only.device))} AND "channel" = ${influxString(channelTag(only.channel))}`;
  }

  async query(q: SeriesQuery): Promise<Series[]> {
    checkQuery(q);
    await this.ensureReady();
    const from = Math.round(q.from);
    const to = Math.round(q.to);
    const acc = new SeriesAccumulator(q.quantity);
    const wholeHours = q.bucketMs === undefined || q.bucketMs % HOUR === 0;
    let rawFrom = from;
    const byRetention = this.rawHeldFrom(this.now());
    if (wholeHours && from < byRetention) {
      const rolledUpUntil = await this.readRolledUpUntil();
      const rawKeptFrom =
        rolledUpUntil === null ? Number.NEGATIVE_INFINITY : Math.min(byRetention, rolledUpUntil);
      if (from < rawKeptFrom) {
        rawFrom = Math.max(from, rawKeptFrom);
        const hoursFrom = ceilHour(from);
        const hoursTo = Math.min(rawKeptFrom, floorHour(to));
        if (hoursFrom < hoursTo) await this.addRollups(acc, q, hoursFrom, hoursTo);
      }
    }
    if (rawFrom < to) await this.addRaw(acc, q, rawFrom, to);
    return acc.series(q.aggregate);
  }

  /**
   * The first whole hour within the raw retention at `now`: InfluxDB refuses raw points older than its
   * retention, so an hour reaching past it is answered from its rollup.
   */
  private rawHeldFrom(now: number): number {
    return ceilHour(now - this.rawRetentionMs);
  }

  /** The query's bucket holding `ts`: epoch-aligned, or the one bucket from..to stamped with from. */
  private bucketOf(q: SeriesQuery, ts: number): number {
    return q.bucketMs === undefined ? Math.round(q.from) : Math.floor(ts / q.bucketMs) * q.bucketMs;
  }

  /** Rollup hours [from, to) folded into the query's buckets by InfluxDB, as partials. */
  private async addRollups(acc: SeriesAccumulator, q: SeriesQuery, from: number, to: number): Promise<void> {
    const where = this.whereHourly(q, `time >= ${from}ms AND time < ${to}ms`);
    const source = this.from(HOURLY, q.quantity);
    // Hour buckets: each rollup point is its bucket, read as it is (InfluxDB 1.6 takes ~8x as long to
    // aggregate a month of hours with GROUP BY time(1h) as to return them). Wider buckets and one bucket for
    // the range: aggregated by InfluxDB, so only a row per bucket crosses.
    const values =
      q.bucketMs === HOUR
        ? `SELECT "count", "num_count", "sum", "min", "max", "last", "last_ts", "consumption" FROM ${source}
            WHERE ${where} GROUP BY ${SERIES_TAGS}`
        : `SELECT sum("count"), sum("num_count"), sum("sum"), min("min"), max("max"), last("last"),
            last("last_ts"), sum("consumption") FROM ${source} WHERE ${where} GROUP BY ${SERIES_TAGS}${
              q.bucketMs === undefined ? '' : `, time(${q.bucketMs}ms) fill(none)`
            }`;
    const [labels, rows] = await this.run(
      // Space and unit as the first hour has them, as SqliteStore answers from its rollups.
      `SELECT first("space_id"), first("unit_symbol") FROM ${source} WHERE ${where} GROUP BY ${SERIES_TAGS};${values}`,
    );
    const labelOf = new Map<string, { space: string; unit: string }>();
    for (const s of labels?.series ?? []) {
      const row = s.values[0] ?? [];
      labelOf.set(seriesIdKey(seriesOf(s)), { space: String(row[1] ?? ''), unit: String(row[2] ?? '') });
    }
    for (const s of rows?.series ?? []) {
      const id = seriesOf(s);
      const label = labelOf.get(seriesIdKey(id)) ?? { space: '', unit: '' };
      for (const row of s.values) {
        const partial: Partial<BucketPartial> = {
          count: num(row[1]) ?? 0,
          numCount: num(row[2]) ?? 0,
          sum: num(row[3]) ?? 0,
          min: num(row[4]),
          max: num(row[5]),
          last: num(row[6]),
          lastTs: num(row[7]),
          consumption: num(row[8]),
        };
        acc.add(id, label.space, label.unit, this.bucketOf(q, Number(row[0])), partial);
      }
    }
  }

  /** Raw readings [from, to): aggregated per bucket by InfluxDB, counters read sample by sample. */
  private async addRaw(acc: SeriesAccumulator, q: SeriesQuery, from: number, to: number): Promise<void> {
    const measurement = this.from(RAW, q.quantity);
    const range = this.where(q, `time >= ${from}ms AND time < ${to}ms`);
    const byDevice = `GROUP BY ${SERIES_TAGS}`;
    // Aggregates are grouped by the series' identity alone, so a device that moved to another space stays
    // one series (as in SQLite); its space and unit are those it has the most readings with in the range.
    const [labels, ...results] = await this.run(
      `SELECT count(*) FROM ${measurement} WHERE ${range} GROUP BY ${SERIES_TAGS}, "space", "unit";${
        q.aggregate === 'consumption'
          ? `SELECT "value" FROM ${measurement} WHERE ${range} ${byDevice};` +
            `SELECT last("value") FROM ${measurement} WHERE ${this.where(q, `time < ${from}ms`)} ${byDevice};` +
            `SELECT last("last"), last("last_ts") FROM ${this.from(HOURLY, q.quantity)} WHERE ${this.whereHourly(q, `time < ${from}ms`)} ${byDevice}`
          : `SELECT count("value"), count("state"), sum("value"), min("value"), max("value"), last("value")
              FROM ${measurement} WHERE ${range} ${
                q.bucketMs === undefined ? byDevice : `${byDevice}, time(${q.bucketMs}ms) fill(none)`
              }`
      }`,
    );
    const label = new Map<string, { space: string; unit: string; n: number }>();
    for (const s of labels?.series ?? []) {
      const n = (s.values[0] ?? []).slice(1).reduce<number>((a, v) => a + (typeof v === 'number' ? v : 0), 0);
      const id = seriesIdKey(seriesOf(s));
      if ((label.get(id)?.n ?? -1) < n)
        label.set(id, { space: fromTag(s.tags?.space), unit: fromTag(s.tags?.unit), n });
    }
    const add = (id: SeriesId, bucket: number, partial: Partial<BucketPartial>) => {
      const l = label.get(seriesIdKey(id));
      acc.add(id, l?.space ?? '', l?.unit ?? '', bucket, partial);
    };

    if (q.aggregate === 'consumption') {
      const [inRange, rawBefore, hourlyBefore] = results;
      // The last value before `from`: raw while InfluxDB still holds it, else the last rolled-up hour's.
      const baselines = new Map<string, CounterSample>();
      for (const s of hourlyBefore?.series ?? []) {
        const row = s.values[0];
        if (row && typeof row[1] === 'number' && typeof row[2] === 'number')
          baselines.set(seriesIdKey(seriesOf(s)), { ts: row[2], value: row[1] });
      }
      for (const s of rawBefore?.series ?? []) {
        const row = s.values[0];
        if (row && typeof row[1] === 'number')
          baselines.set(seriesIdKey(seriesOf(s)), { ts: Number(row[0]), value: row[1] });
      }
      for (const s of inRange?.series ?? []) {
        const id = seriesOf(s);
        const samples = s.values
          .filter((row) => typeof row[1] === 'number')
          .map((row) => ({ ts: Number(row[0]), value: row[1] as number }));
        const baseline = baselines.get(seriesIdKey(id));
        const range = { from, to, bucketMs: q.bucketMs };
        for (const p of consumptionByBucket(baseline ? [baseline, ...samples] : samples, range))
          add(id, this.bucketOf(q, p.ts), { consumption: p.value });
      }
    } else {
      for (const s of results[0]?.series ?? []) {
        const id = seriesOf(s);
        for (const row of s.values) {
          const numCount = num(row[1]) ?? 0;
          const count = numCount + (num(row[2]) ?? 0);
          if (count === 0) continue;
          const bucket = this.bucketOf(q, Number(row[0]));
          // Raw readings are newer than any rolled-up hour they share a bucket with.
          const last = num(row[6]);
          add(id, bucket, {
            count,
            numCount,
            sum: num(row[3]) ?? 0,
            min: num(row[4]),
            max: num(row[5]),
            last,
            lastTs: last === null ? null : to,
          });
        }
      }
    }
  }

  private async readRolledUpUntil(): Promise<number | null> {
    const [result] = await this.run(`SELECT "rolled_up_until" FROM ${this.from(HOURLY, ROLLUP_STATE)}`);
    const value = result?.series?.[0]?.values[0]?.[1];
    this.rolledUpUntil = typeof value === 'number' ? value : null;
    return this.rolledUpUntil;
  }

  private async writeRolledUpUntil(until: number): Promise<void> {
    // The point's time is 0 (a string: the client takes a numeric 0 for "no time" and stamps it now).
    await this.influx.writePoints(
      [{ measurement: ROLLUP_STATE, fields: { rolled_up_until: until }, timestamp: '0' }],
      {
        precision: 'ms',
        database: this.database,
        retentionPolicy: HOURLY,
      },
    );
    this.rolledUpUntil = until;
  }

  /**
   * Rolls complete hours up from `raw` (in days, so that a long pause is caught up in pieces), re-rolls
   * hours this process wrote late readings into (and the hour after: its consumption baseline may have
   * changed). A store never maintained starts at its oldest raw reading.
   * Pruning is InfluxDB's: the retention policy drops raw shards past rawRetentionDays.
   */
  async maintain(now: number = this.now()): Promise<MaintenanceReport> {
    await this.ensureReady();
    const hourEnd = floorHour(now);
    const byRetention = this.rawHeldFrom(now);
    const known = await this.readRolledUpUntil();
    let rolledUp = 0;
    if (known !== null) {
      const late = [...this.dirty.values()];
      this.dirty.clear();
      for (const d of late) {
        // Past retention InfluxDB has dropped (and refuses) the raw readings: an hour without any keeps its rollup.
        if (d.hour >= known) continue;
        rolledUp += await this.rollUpFromRaw(d.hour, Math.min(d.hour + 2 * HOUR, known), d);
      }
    }
    let until = known ?? (await this.oldestRawHour()) ?? hourEnd;
    while (until < hourEnd) {
      const next = Math.min(hourEnd, until + DAY);
      rolledUp += await this.rollUpFromRaw(until, next);
      await this.writeRolledUpUntil(next);
      until = next;
    }
    return {
      rolledUp,
      prunedReadings: 0,
      prunedRollups: 0,
      rolledUpUntil: until,
      rawKeptFrom: Math.min(byRetention, until),
    };
  }

  /** The hour of the oldest raw reading, if any. */
  private async oldestRawHour(): Promise<number | undefined> {
    const source = this.from(RAW);
    const results = await this.run(
      `SELECT first("value") FROM ${source};SELECT first("state") FROM ${source}`,
    );
    let oldest = Number.POSITIVE_INFINITY;
    for (const result of results)
      for (const s of result.series ?? []) oldest = Math.min(oldest, Number(s.values[0]?.[0]));
    return Number.isFinite(oldest) ? floorHour(oldest) : undefined;
  }

  /** (Re)computes the rollups of [from, to) from `raw`, for all series or one. */
  private async rollUpFromRaw(from: number, to: number, only?: Only): Promise<number> {
    const source = this.from(RAW, only?.quantity);
    const series = only === undefined ? '' : this.whereSeries(only);
    const [inRange, rawBefore, hourlyBefore] = await this.run(
      `SELECT "value", "state" FROM ${source} WHERE time >= ${from}ms AND time < ${to}ms${series} GROUP BY *;` +
        `SELECT last("value") FROM ${source} WHERE time < ${from}ms${series} GROUP BY ${SERIES_TAGS};` +
        `SELECT last("last"), last("last_ts") FROM ${this.from(HOURLY, only?.quantity)} WHERE time < ${from}ms${series} GROUP BY ${SERIES_TAGS}`,
    );
    const samples = new Map<string, { id: SeriesId; quantity: string; samples: TaggedSample[] }>();
    for (const s of inRange?.series ?? []) {
      if (s.name === ROLLUP_STATE) continue;
      const id = seriesOf(s);
      const key = seriesKey(id, s.name);
      let entry = samples.get(key);
      if (entry === undefined) {
        entry = { id, quantity: s.name, samples: [] };
        samples.set(key, entry);
      }
      const tags = {
        site: fromTag(s.tags?.site),
        space: fromTag(s.tags?.space),
        unit: fromTag(s.tags?.unit),
      };
      for (const row of s.values) {
        const value = typeof row[1] === 'number' ? row[1] : typeof row[2] === 'string' ? row[2] : null;
        if (value !== null) entry.samples.push({ ts: Number(row[0]), value, ...tags });
      }
    }
    const baselines = new Map<string, CounterSample>();
    for (const s of hourlyBefore?.series ?? []) {
      const row = s.values[0];
      if (row && typeof row[1] === 'number' && typeof row[2] === 'number')
        baselines.set(seriesKey(seriesOf(s), s.name), { ts: row[2], value: row[1] });
    }
    for (const s of rawBefore?.series ?? []) {
      const row = s.values[0];
      if (row && typeof row[1] === 'number')
        baselines.set(seriesKey(seriesOf(s), s.name), { ts: Number(row[0]), value: row[1] });
    }
    const points: IPoint[] = [];
    for (const [key, entry] of samples) {
      // A device that moved within the range has a series per space: one sample per instant, as SQLite's key.
      const byTs = new Map(entry.samples.map((x) => [x.ts, x]));
      const ordered = [...byTs.values()].sort((a, b) => a.ts - b.ts);
      points.push(...rollupPoints(entry.id, entry.quantity, ordered, baselines.get(key)));
    }
    await this.writeRollupPoints(points);
    return points.length;
  }

  /**
   * A history written after the fact (simulations/history/), one chunk [from, to) at a time in time
   * order, `now` being the end of the history: readings from the raw retention before `now` on go into
   * `raw` and are rolled up from there (with whatever else arrived in their hours); every older hour is
   * rolled up from the chunk's readings themselves, since InfluxDB refuses raw points past its retention.
   * A history written into a database nothing rolled up yet leaves rolled_up_until at its last complete
   * hour, so that maintain() goes on from there.
   */
  async writeHistory(
    readings: readonly StoredReading[],
    from: number,
    to: number,
    now: number,
  ): Promise<number> {
    await this.ensureReady();
    const rawFrom = this.rawHeldFrom(now);
    const tail = this.historyTail?.to === from ? this.historyTail.readings : [];
    this.historyTail = undefined;
    const older: StoredReading[] = [...tail];
    const recent: StoredReading[] = [];
    for (const r of readings) {
      const ts = Math.round(r.ts);
      if (!Number.isFinite(ts) || (typeof r.value === 'number' && !Number.isFinite(r.value))) continue;
      if (ts >= rawFrom) recent.push(r);
      else if (ts >= floorHour(to)) {
        // The chunk ends within this hour: its rollup waits for the rest of the hour, in the next chunk.
        this.historyTail ??= { to, readings: [] };
        this.historyTail.readings.push(r);
      } else older.push(r);
    }
    const known = await this.readRolledUpUntil();
    let rolledUp = 0;
    if (older.length > 0) {
      const baselines =
        this.historyBaselines?.to === from
          ? this.historyBaselines.last
          : await this.rolledUpLasts(floorHour(from));
      const bySeries = new Map<string, { id: SeriesId; quantity: string; byTs: Map<number, TaggedSample> }>();
      for (const r of older) {
        const id = seriesOfReading(r);
        const key = seriesKey(id, String(r.quantity));
        let entry = bySeries.get(key);
        if (entry === undefined) {
          entry = { id, quantity: String(r.quantity), byTs: new Map() };
          bySeries.set(key, entry);
        }
        // One reading per instant and series, the later written winning, as the stores keep them.
        const ts = Math.round(r.ts);
        const value = typeof r.value === 'number' ? r.value : String(r.value);
        entry.byTs.set(ts, {
          ts,
          value,
          site: String(r.site ?? ''),
          space: String(r.space ?? ''),
          unit: String(r.unit ?? ''),
        });
      }
      const points: IPoint[] = [];
      const last = new Map(baselines);
      for (const [key, entry] of bySeries) {
        const ordered = [...entry.byTs.values()].sort((a, b) => a.ts - b.ts);
        points.push(...rollupPoints(entry.id, entry.quantity, ordered, baselines.get(key)));
        for (let i = ordered.length - 1; i >= 0; i--) {
          const x = ordered[i] as TaggedSample;
          if (typeof x.value === 'number') {
            last.set(key, { ts: x.ts, value: x.value });
            break;
          }
        }
      }
      await this.writeRollupPoints(points);
      rolledUp += points.length;
      this.historyBaselines = { to, last };
    }
    if (recent.length > 0) {
      // Straight into `raw`, whatever the clock says by now: these hours are rolled up from there just below.
      for (let i = 0; i < recent.length; i += ROLLUP_POINTS_PER_WRITE)
        await this.writeRaw(recent.slice(i, i + ROLLUP_POINTS_PER_WRITE));
      this.historyBaselines = undefined;
      const first = floorHour(Math.max(from, rawFrom));
      rolledUp += await this.rollUpFromRaw(first, ceilHour(to));
    }
    const complete = floorHour(to);
    if ((known === null || known === floorHour(from)) && complete > (known ?? Number.NEGATIVE_INFINITY))
      await this.writeRolledUpUntil(complete);
    return rolledUp;
  }

  /** Each series' last rolled-up value before `before`. */
  private async rolledUpLasts(before: number): Promise<Map<string, CounterSample>> {
    const [result] = await this.run(
      `SELECT last("last"), last("last_ts") FROM ${this.from(HOURLY)} WHERE time < ${before}ms GROUP BY ${SERIES_TAGS}`,
    );
    const out = new Map<string, CounterSample>();
    for (const s of result?.series ?? []) {
      const row = s.values[0];
      if (row && typeof row[1] === 'number' && typeof row[2] === 'number')
        out.set(seriesKey(seriesOf(s), s.name), { ts: row[2], value: row[1] });
    }
    return out;
  }

  private async writeRollupPoints(points: IPoint[]): Promise<void> {
    for (let i = 0; i < points.length; i += ROLLUP_POINTS_PER_WRITE)
      await this.influx.writePoints(points.slice(i, i + ROLLUP_POINTS_PER_WRITE), {
        precision: 'ms',
        database: this.database,
        retentionPolicy: HOURLY,
      });
  }

  async latest(filter: LatestFilter = {}): Promise<StoredReading[]> {
    await this.ensureReady();
    const from = filter.quantity === undefined ? '/.*/' : influxIdentifier(filter.quantity);
    const where = this.where(filter);
    const tail = `${where ? `WHERE ${where}` : ''} GROUP BY ${SERIES_TAGS}, "space", "unit"`;
    const results = await this.run(
      `SELECT last("value") FROM ${from} ${tail};SELECT last("state") FROM ${from} ${tail}`,
    );
    const newest = new Map<string, StoredReading>();
    for (const result of results) {
      for (const s of result.series ?? []) {
        const row = s.values[0];
        if (!row || row[1] === null || row[1] === undefined) continue;
        const reading: StoredReading = {
          ...seriesOf(s),
          space: fromTag(s.tags?.space),
          quantity: s.name as Quantity,
          unit: fromTag(s.tags?.unit) as Unit,
          ts: Number(row[0]),
          value: row[1] as number | string,
        };
        const key = seriesKey(reading, reading.quantity);
        const known = newest.get(key);
        if (!known || reading.ts > known.ts) newest.set(key, reading);
      }
    }
    // As SqliteStore orders them: device, channel, quantity, site.
    const key = (r: StoredReading) => [r.device, r.channel, r.quantity, r.site];
    return [...newest.values()].sort((a, b) => {
      const [x, y] = [key(a), key(b)];
      for (let i = 0; i < x.length; i++)
        if (x[i] !== y[i]) return (x[i] as string) < (y[i] as string) ? -1 : 1;
      return 0;
    });
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

/**
 * The hourly rollup points of one series' samples (ordered, one per instant); an hour's site, space and
 * unit are those of its last reading.
 */
function rollupPoints(
  id: SeriesId,
  quantity: string,
  samples: readonly TaggedSample[],
  baseline: CounterSample | undefined,
): IPoint[] {
  const labels = new Map<number, TaggedSample>();
  for (const s of samples) labels.set(floorHour(s.ts), s);
  const tags = seriesTags(id);
  return rollUpHours(samples, baseline).map((row: HourRollup) => {
    const label = labels.get(row.hour) as TaggedSample;
    const fields: Record<string, string | number> = {
      site_id: label.site,
      space_id: label.space,
      unit_symbol: label.unit,
      count: row.count,
      num_count: row.numCount,
      sum: row.sum,
    };
    for (const [field, value] of [
      ['min', row.min],
      ['max', row.max],
      ['last', row.last],
      ['last_ts', row.lastTs],
      ['consumption', row.consumption],
    ] as const)
      if (value !== null) fields[field] = value;
    return { measurement: quantity, tags, fields, timestamp: String(row.hour) };
  });
}
