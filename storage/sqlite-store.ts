import Database from 'better-sqlite3';
import type { Quantity, Unit } from '../building/quantities.ts';
import { FIRST_CHANNEL } from '../building/reading.ts';
import { type CounterSample, consumptionByBucket } from './consumption.ts';
import { NeumaierSum } from './neumaier-sum.ts';
import {
  type BucketPartial,
  compareSeries,
  emptyPartial,
  finalValue,
  SeriesAccumulator,
  type SeriesId,
  seriesKey,
} from './partial-aggregate.ts';
import { type ReadingColumns, toColumns, WriteThread } from './sqlite-write-thread.ts';
import type {
  LatestFilter,
  MaintenanceReport,
  RollsUpHistory,
  Series,
  SeriesPoint,
  SeriesQuery,
  StoredReading,
} from './store.ts';

/**
 * The embedded default: one SQLite file (DATA_DIR/readings.db), no server.
 *
 * - `reading` keeps raw readings for `rawRetentionDays` (a view: `series` numbers each (site, device, channel,
 *   quantity), `series_reading` holds the readings keyed (series, ts), see SCHEMA); a series and a time make
 *   writes idempotent (a replayed reading replaces itself; the last write wins, as in InfluxDB).
 * - `rollup_hour` keeps, per series and UTC hour: count, numeric count, sum, min, max, last and counter
 *   consumption, for `rollupRetentionDays` (years: ~24 rows per series and day).
 * - `latest` keeps the newest reading per series, independent of retention.
 * - A file from before channels were part of a series (keyed by device, quantity) is migrated when opened:
 *   what it holds becomes channel 0 of its device, which is what the device profiles then decoded. A file
 *   whose readings are keyed by names rather than series ids is migrated too.
 *
 * `maintain(now)` rolls complete hours up, re-rolls hours that received late readings (the spool
 * replaying an outage), and prunes raw readings past retention. The gateway calls it periodically;
 * tests call it with a chosen `now`.
 *
 * Queries: buckets are aligned to epoch multiples of bucketMs (UTC). When the range reaches into
 * hours whose raw readings were pruned and the bucket is a whole number of hours (or one bucket for the
 * whole range), those hours come from the rollups and the rest from raw readings, combined per bucket;
 * otherwise only raw readings are used (sub-hour detail past retention is gone by design).
 *
 * Durability: WAL with synchronous=FULL: a committed write survives a crash of the process and a power loss
 * (the gateway's journal deletes what the store acknowledged, so nothing else would hold it).
 */
export interface SqliteStoreOptions {
  file: string;
  rawRetentionDays?: number;
  rollupRetentionDays?: number;
  /**
   * write() runs on a worker thread with a connection of its own (storage/sqlite-write-thread.ts), so that
   * SQLite's work on a batch (about a third of a reading's cost on the gateway's path) overlaps what the
   * event loop does meanwhile (the broker, the journal, decoding) on another core. Queries, maintain() and the
   * history stay on this thread's connection; WAL lets them read while the write thread writes.
   */
  writeThread?: boolean;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const floorHour = (ts: number): number => Math.floor(ts / HOUR) * HOUR;
const ceilHour = (ts: number): number => Math.ceil(ts / HOUR) * HOUR;

interface ReadingRow {
  device: string;
  channel: string;
  quantity: string;
  ts: number;
  site: string;
  space: string;
  unit: string;
  num: number | null;
  str: string | null;
}

interface PartialRow {
  site: string;
  device: string;
  channel: string;
  space: string;
  unit: string;
  bucket: number;
  count: number;
  numCount: number;
  sum: number | null;
  min: number | null;
  max: number | null;
  consumption?: number | null;
}

/** One series' points from rollups, before the raw readings' buckets are joined on. */
interface RolledUpSeries {
  id: SeriesId;
  space: string;
  unit: string;
  points: SeriesPoint[];
}

interface LastRow {
  site: string;
  device: string;
  channel: string;
  space: string;
  unit: string;
  bucket: number;
  last: number;
  lastTs: number;
}

export class SqliteStore implements RollsUpHistory {
  readonly kind = 'sqlite';
  /**
   * A batch costs SQLite about one page write per series it touches, however many readings each series
   * gets, so larger batches cost less per reading when many series are busy. Replaying
   * the bench's batches, a million readings in random device order: 3.8-5.0 µs CPU per reading in batches of
   * 10,000, 2.5-2.6 in batches of 30,000 (2026-12-07). Below a few hundred messages a second a batch is cut
   * by time, not by size, so a building's usual batches do not change.
   */
  readonly batchReadings = 30_000;
  private readonly db: Database.Database;
  private readonly rawRetentionMs: number;
  private readonly rollupRetentionMs: number;
  private readonly statements = new Map<string, Database.Statement>();
  private readonly writeBatch: (readings: readonly StoredReading[]) => void;
  /** With `writeThread`: where write() runs, on a connection of its own. */
  private readonly writeThread: WriteThread | undefined;
  /** Cached from `meta`: readings older than this land in already rolled-up hours. */
  private rolledUpUntil: number | null;
  private rawKeptFrom: number;

  constructor(options: SqliteStoreOptions) {
    this.rawRetentionMs = (options.rawRetentionDays ?? 30) * DAY;
    this.rollupRetentionMs = (options.rollupRetentionDays ?? 3650) * DAY;
    if (!(this.rawRetentionMs > 0) || !(this.rollupRetentionMs >= this.rawRetentionMs))
      throw new RangeError('retention: raw days must be > 0 and rollup days >= raw days');
    this.db = new Database(options.file);
    // Opening may migrate a file from before channels counted (about a minute for a year of the demo's
    // rollups): a second process opening the same file meanwhile waits for it, then finds it migrated,
    // rather than failing after the usual 5 s. Set before WAL, whose switch takes a lock too.
    this.db.pragma('busy_timeout = 600000');
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db
      .transaction(() => {
        if (hasTable(this.db, 'reading')) {
          if (hasColumn(this.db, 'reading', 'channel')) migrateToSeriesIds(this.db);
          else migrateToChannels(this.db);
        }
        this.db.exec(SCHEMA);
      })
      .immediate();
    this.db.pragma('busy_timeout = 5000');
    this.rolledUpUntil = this.meta('rolled_up_until');
    this.rawKeptFrom = this.meta('raw_kept_from') ?? Number.NEGATIVE_INFINITY;

    this.writeBatch = readingWriter(this.db, () => this.rolledUpUntil);
    this.writeThread = options.writeThread ? new WriteThread(options.file) : undefined;
  }

  async write(readings: StoredReading[]): Promise<void> {
    // Resolves once the batch is committed, on this thread or on the write thread.
    if (this.writeThread) return this.writeThread.write(readings);
    this.writeBatch(readings);
  }

  async query(q: SeriesQuery): Promise<Series[]> {
    checkQuery(q);
    const acc = new SeriesAccumulator(q.quantity);
    const wholeHours = q.bucketMs === undefined || q.bucketMs % HOUR === 0;
    let rawFrom = q.from;
    let early: Map<string, RolledUpSeries> | undefined;
    if (wholeHours && q.from < this.rawKeptFrom) {
      const hoursFrom = ceilHour(q.from);
      const hoursTo = Math.min(this.rawKeptFrom, floorHour(q.to));
      rawFrom = Math.max(q.from, this.rawKeptFrom);
      // Buckets from the one holding rawFrom on may also get raw readings: those are combined in `acc`.
      const sharedFrom = rawFrom < q.to ? bucketStart(q, rawFrom) : Number.POSITIVE_INFINITY;
      if (hoursFrom < hoursTo) early = this.readRollups(acc, q, hoursFrom, hoursTo, sharedFrom);
    }
    if (rawFrom < q.to) this.addRaw(acc, q, rawFrom, q.to);
    const later = acc.series(q.aggregate);
    return early === undefined ? later : joinSeries(q.quantity, early, later);
  }

  async latest(filter: LatestFilter = {}): Promise<StoredReading[]> {
    const { where, params } = filters(filter);
    const rows = this.statement(
      `SELECT * FROM latest ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY device, channel, quantity, site`,
    ).all(params) as ReadingRow[];
    return rows.map((row) => ({
      device: row.device,
      channel: row.channel,
      quantity: row.quantity as Quantity,
      ts: row.ts,
      site: row.site,
      space: row.space,
      unit: row.unit as Unit,
      value: row.num ?? row.str ?? '',
    }));
  }

  async ping(): Promise<boolean> {
    try {
      return this.db.open && this.db.prepare('SELECT 1 AS one').get() !== undefined;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    // The writes handed to the write thread finish (or fail) first.
    await this.writeThread?.close();
    if (this.db.open) this.db.close();
  }

  /**
   * Rolls complete hours up, re-rolls hours that received late readings, prunes raw readings older
   * than the raw retention (only hours already rolled up) and rollups older than the rollup retention.
   */
  async maintain(now: number = Date.now()): Promise<MaintenanceReport> {
    return this.db.transaction(() => this.maintainNow(now)).immediate();
  }

  private maintainNow(now: number): MaintenanceReport {
    const hourEnd = floorHour(now);
    let rolledUp = 0;
    // Each series' first reading, one index step each: the readings have no index by time alone.
    const oldest = (
      this.db
        .prepare(
          'SELECT min((SELECT min(ts) FROM series_reading r WHERE r.series = s.id)) AS ts FROM series s',
        )
        .get() as { ts: number | null }
    ).ts;
    const watermark = this.rolledUpUntil ?? (oldest === null ? hourEnd : floorHour(oldest));

    // Late readings in hours already rolled up: recompute the hour and the next one (its consumption
    // baseline may have changed) while raw readings are still there; past raw retention, fold them in.
    const dirty = this.db
      .prepare('SELECT site, device, channel, quantity, hour FROM dirty_hour')
      .all() as (Only & {
      hour: number;
    })[];
    const hasRollup = this.statement(`SELECT 1 FROM rollup_hour WHERE ${ONE_SERIES} AND hour = @hour`);
    for (const d of dirty) {
      if (d.hour >= this.rawKeptFrom) {
        rolledUp += this.rollUp(d.hour, Math.min(d.hour + 2 * HOUR, watermark), d);
      } else if (hasRollup.get(d) === undefined) {
        // Nothing of that hour was rolled up before: its raw readings are all of it (a history written
        // after the fact), so they roll up whole, consumption included.
        rolledUp += this.rollUp(d.hour, d.hour + HOUR, d);
      } else {
        rolledUp += this.foldLateIntoRollup(d);
      }
    }
    this.db.prepare('DELETE FROM dirty_hour').run();

    if (watermark < hourEnd) rolledUp += this.rollUp(watermark, hourEnd);
    const rolledUpUntil = Math.max(watermark, hourEnd);
    this.setMeta('rolled_up_until', rolledUpUntil);
    this.rolledUpUntil = rolledUpUntil;

    const keepFrom = Math.max(
      this.rawKeptFrom,
      Math.min(floorHour(now - this.rawRetentionMs), rolledUpUntil),
    );
    const prunedReadings = this.db
      .prepare(`DELETE FROM series_reading WHERE ${EVERY_SERIES} AND ts < ?`)
      .run(keepFrom).changes;
    if (Number.isFinite(keepFrom)) {
      this.setMeta('raw_kept_from', keepFrom);
      this.rawKeptFrom = keepFrom;
    }
    const prunedRollups = this.db
      .prepare('DELETE FROM rollup_hour WHERE hour < ?')
      .run(floorHour(now - this.rollupRetentionMs)).changes;
    return { rolledUp, prunedReadings, prunedRollups, rolledUpUntil, rawKeptFrom: this.rawKeptFrom };
  }

  /**
   * Rolls up the hours of [from, to) after readings were written into them after the fact (the simulated
   * building's history, simulations/history/), however far maintain() has got, and drops their raw
   * readings past the raw retention at `now`. Called chunk by chunk in time order, a long history never
   * holds more raw readings than the retention keeps; the hourly rollups (consumption included) stay.
   */
  async rollUpHistory(from: number, to: number, now: number = Date.now()): Promise<number> {
    return this.db
      .transaction(() => {
        const start = floorHour(from);
        const end = ceilHour(to);
        const rolledUp = this.rollUp(start, end);
        this.statement('DELETE FROM dirty_hour WHERE hour >= ? AND hour < ?').run(start, end);
        // A history written in order into a store nothing else rolled up yet: its complete hours are done,
        // so that maintain() does not roll the retained raw readings up a second time.
        const complete = floorHour(to);
        const nothingBefore =
          this.rolledUpUntil === null &&
          this.statement('SELECT 1 FROM reading WHERE ts < ? LIMIT 1').get(start) === undefined;
        if ((nothingBefore || this.rolledUpUntil === start) && complete > (this.rolledUpUntil ?? start)) {
          this.setMeta('rolled_up_until', complete);
          this.rolledUpUntil = complete;
        }
        const pruneBefore = Math.min(end, floorHour(now - this.rawRetentionMs));
        if (pruneBefore > start) {
          this.statement(`DELETE FROM series_reading WHERE ${EVERY_SERIES} AND ts >= ? AND ts < ?`).run(
            start,
            pruneBefore,
          );
          if (pruneBefore > this.rawKeptFrom) {
            this.setMeta('raw_kept_from', pruneBefore);
            this.rawKeptFrom = pruneBefore;
          }
        }
        return rolledUp;
      })
      .immediate();
  }

  /** (Re)computes rollups of [from, to) from raw readings, for all series or one. */
  private rollUp(from: number, to: number, only?: Only): number {
    if (from >= to) return 0;
    const one = only ? `AND ${ONE_SERIES}` : '';
    const params = only
      ? { from, to, site: only.site, device: only.device, channel: only.channel, quantity: only.quantity }
      : { from, to };
    const rows = this.statement(`
      SELECT site, device, channel, quantity, space, unit, (ts / ${HOUR}) * ${HOUR} AS hour,
        count(*) AS count, count(num) AS numCount, total(num) AS sum, min(num) AS min, max(num) AS max
      FROM reading WHERE ts >= @from AND ts < @to ${one}
      GROUP BY site, device, channel, quantity, hour`).all(params) as (PartialRow & {
      quantity: string;
      hour: number;
    })[];
    const lasts = this.statement(`
      SELECT site, device, channel, quantity, (ts / ${HOUR}) * ${HOUR} AS hour, num AS last, max(ts) AS lastTs
      FROM reading WHERE ts >= @from AND ts < @to AND num IS NOT NULL ${one}
      GROUP BY site, device, channel, quantity, hour`).all(params) as (LastRow & {
      quantity: string;
      hour: number;
    })[];
    const key = (s: Only, hour: number) => JSON.stringify([s.site, s.device, s.channel, s.quantity, hour]);
    const lastBy = new Map(lasts.map((l) => [key(l, l.hour), l]));
    const consumptionBy = new Map<string, number>();
    for (const [series, samples] of this.numericSamples(from, to, only)) {
      const [site, device, channel, quantity] = JSON.parse(series) as [string, string, string, string];
      const s = { site, device, channel, quantity };
      const baseline = this.baseline(s, from);
      const points = consumptionByBucket(baseline ? [baseline, ...samples] : samples, {
        from,
        to,
        bucketMs: HOUR,
      });
      for (const p of points) consumptionBy.set(key(s, p.ts), p.value);
    }
    if (only) {
      this.statement(`DELETE FROM rollup_hour WHERE ${ONE_SERIES} AND hour >= @from AND hour < @to`).run(
        params,
      );
    }
    const put = this.statement(`
      INSERT OR REPLACE INTO rollup_hour
        (site, device, channel, quantity, hour, space, unit, count, num_count, sum, min, max, last, last_ts, consumption)
      VALUES (@site, @device, @channel, @quantity, @hour, @space, @unit, @count, @numCount, @sum, @min, @max, @last, @lastTs, @consumption)`);
    for (const row of rows) {
      const k = key(row, row.hour);
      const last = lastBy.get(k);
      put.run({
        ...row,
        last: last?.last ?? null,
        lastTs: last?.lastTs ?? null,
        consumption: consumptionBy.get(k) ?? null,
      });
    }
    return rows.length;
  }

  /** Readings that arrived after their hour's raw readings were pruned: added to the hour's rollup. */
  private foldLateIntoRollup(d: Only & { hour: number }): number {
    const late = this.statement(`
      SELECT space, unit, count(*) AS count, count(num) AS numCount, total(num) AS sum, min(num) AS min, max(num) AS max
      FROM reading WHERE ${ONE_SERIES} AND ts >= @hour AND ts < @hour + ${HOUR}`).get(d) as
      | PartialRow
      | undefined;
    if (late === undefined || late.count === 0) return 0;
    const last = this.statement(`
      SELECT num AS last, max(ts) AS lastTs FROM reading
      WHERE ${ONE_SERIES} AND ts >= @hour AND ts < @hour + ${HOUR} AND num IS NOT NULL`).get(d) as {
      last: number | null;
      lastTs: number | null;
    };
    // Counter consumption is not recomputed here: without the hour's other raw readings, a late counter
    // value cannot be placed between them. This only happens to readings later than the raw retention.
    this.statement(`
      INSERT INTO rollup_hour (site, device, channel, quantity, hour, space, unit, count, num_count, sum, min, max, last, last_ts, consumption)
      VALUES (@site, @device, @channel, @quantity, @hour, @space, @unit, @count, @numCount, @sum, @min, @max, @last, @lastTs, NULL)
      ON CONFLICT (site, device, channel, quantity, hour) DO UPDATE SET
        count = count + excluded.count, num_count = num_count + excluded.num_count, sum = sum + excluded.sum,
        min = min(coalesce(min, excluded.min), coalesce(excluded.min, min)),
        max = max(coalesce(max, excluded.max), coalesce(excluded.max, max)),
        last = CASE WHEN excluded.last_ts >= coalesce(last_ts, excluded.last_ts) THEN excluded.last ELSE last END,
        last_ts = max(coalesce(last_ts, excluded.last_ts), coalesce(excluded.last_ts, last_ts))`).run({
      ...d,
      ...late,
      last: last.last,
      lastTs: last.lastTs,
    });
    return 1;
  }

  /** The last numeric reading before `before`: raw if still kept, else the last of a rollup. */
  private baseline(series: Only, before: number): CounterSample | undefined {
    const params = { ...series, before };
    const raw = this.statement(`
      SELECT ts, num AS value FROM reading
      WHERE ${ONE_SERIES} AND ts < @before AND num IS NOT NULL ORDER BY ts DESC LIMIT 1`).get(params) as
      | CounterSample
      | undefined;
    if (raw !== undefined) return raw;
    return this.statement(`
      SELECT last_ts AS ts, last AS value FROM rollup_hour
      WHERE ${ONE_SERIES} AND hour < @before AND last_ts IS NOT NULL ORDER BY hour DESC LIMIT 1`).get(
      params,
    ) as CounterSample | undefined;
  }

  /** Numeric samples per series (key: JSON [site, device, channel, quantity]) in [from, to), ordered by ts. */
  private numericSamples(from: number, to: number, only?: Filter): Map<string, CounterSample[]> {
    const { where, params } = filters(only ?? {});
    const rows = this.statement(`
      SELECT site, device, channel, quantity, ts, num AS value FROM reading
      WHERE ts >= @from AND ts < @to AND num IS NOT NULL ${where.map((w) => `AND ${w}`).join(' ')}
      ORDER BY site, device, channel, quantity, ts`).iterate({ ...params, from, to }) as IterableIterator<
      CounterSample & Only
    >;
    const out = new Map<string, CounterSample[]>();
    for (const row of rows) {
      const k = JSON.stringify([row.site, row.device, row.channel, row.quantity]);
      let list = out.get(k);
      if (list === undefined) {
        list = [];
        out.set(k, list);
      }
      list.push({ ts: row.ts, value: row.value });
    }
    return out;
  }

  private addRaw(acc: SeriesAccumulator, q: SeriesQuery, from: number, to: number): void {
    const { where, params } = filters({
      quantity: q.quantity,
      device: q.device,
      channel: q.channel,
      space: q.space,
    });
    const origin = q.bucketMs === undefined ? q.from : 0;
    const width = q.bucketMs ?? q.to - q.from;
    const bucket = `CAST((ts - @origin) / @width AS INTEGER) * @width + @origin`;
    const cond = `ts >= @from AND ts < @to AND ${where.join(' AND ')}`;
    const all = { ...params, from, to, origin, width };
    if (q.aggregate === 'last') {
      const rows = this.statement(`
        SELECT site, device, channel, space, unit, ${bucket} AS bucket, num AS last, max(ts) AS lastTs
        FROM reading WHERE ${cond} AND num IS NOT NULL GROUP BY site, device, channel, bucket`).all(
        all,
      ) as LastRow[];
      for (const r of rows) acc.add(r, r.space, r.unit, r.bucket, { last: r.last, lastTs: r.lastTs });
    } else if (q.aggregate === 'consumption') {
      const meta = new Map(
        (
          this.statement(
            `SELECT site, device, channel, space, unit FROM reading WHERE ${cond} GROUP BY site, device, channel`,
          ).all(all) as (SeriesId & { space: string; unit: string })[]
        ).map((m) => [seriesKey(m), m]),
      );
      const range = { from, to, bucketMs: q.bucketMs };
      for (const [series, samples] of this.numericSamples(from, to, {
        quantity: q.quantity,
        device: q.device,
        channel: q.channel,
        space: q.space,
      })) {
        const [site, device, channel] = JSON.parse(series) as [string, string, string];
        const m = meta.get(seriesKey({ site, device, channel }));
        if (m === undefined) continue;
        const baseline = this.baseline({ site, device, channel, quantity: q.quantity }, from);
        for (const p of consumptionByBucket(baseline ? [baseline, ...samples] : samples, range)) {
          // consumptionByBucket aligns single buckets to `from`; the query's single bucket is q.from.
          const ts = q.bucketMs === undefined ? q.from : p.ts;
          acc.add(m, m.space, m.unit, ts, { consumption: p.value });
        }
      }
    } else {
      const rows = this.statement(`
        SELECT site, device, channel, space, unit, ${bucket} AS bucket, count(*) AS count, count(num) AS numCount,
          total(num) AS sum, min(num) AS min, max(num) AS max
        FROM reading WHERE ${cond} GROUP BY site, device, channel, bucket`).all(all) as PartialRow[];
      for (const r of rows) acc.add(r, r.space, r.unit, r.bucket, { ...r, sum: r.sum ?? 0 });
    }
  }

  /**
   * The rollup hours [from, to) of the query, read series by series along the primary key (site, device,
   * channel, quantity, hour) in hour order, so that buckets are folded as the rows stream by: no GROUP BY sort, no
   * object per hour. Buckets before `sharedFrom` are complete and become points here; later ones may also
   * hold raw readings and go into `acc` as partials.
   */
  private readRollups(
    acc: SeriesAccumulator,
    q: SeriesQuery,
    from: number,
    to: number,
    sharedFrom: number,
  ): Map<string, RolledUpSeries> {
    const last = q.aggregate === 'last';
    const columns = last
      ? 'space, unit, hour, last, last_ts'
      : 'space, unit, hour, count, num_count, sum, min, max, consumption';
    const rows = this.statement(`
      SELECT ${columns} FROM rollup_hour
      WHERE ${ONE_SERIES} AND hour >= @from AND hour < @to
        ${last ? 'AND last_ts IS NOT NULL' : ''} ${q.space === undefined ? '' : 'AND space = @space'}
      ORDER BY hour`).raw(true);
    const params: Record<string, unknown> = {
      quantity: q.quantity,
      from,
      to,
      site: '',
      device: '',
      channel: '',
    };
    if (q.space !== undefined) params.space = q.space;
    const origin = q.bucketMs === undefined ? q.from : 0;
    const width = q.bucketMs ?? q.to - q.from;
    const hourly = width === HOUR && origin === 0;
    // Hour buckets: each rollup row is its bucket, and none is shared with raw readings (the raw ones start
    // at a whole hour), so SQLite computes the value and only points cross into JavaScript.
    if (hourly) return this.readHourlyRollups(q, params, last);
    const out = new Map<string, RolledUpSeries>();
    const p = emptyPartial();
    const sum = new NeumaierSum();
    const consumption = new NeumaierSum();
    for (const id of this.rollupSeries(q)) {
      Object.assign(params, id);
      let series: RolledUpSeries | undefined;
      let bucket = Number.NaN;
      const flush = () => {
        if (series === undefined || Number.isNaN(bucket)) return;
        p.sum = sum.value() ?? 0;
        p.consumption = consumption.value();
        if (bucket >= sharedFrom) {
          acc.add(id, series.space, series.unit, bucket, { ...p });
        } else {
          const value = finalValue(p, q.aggregate);
          if (value !== null) series.points.push({ ts: bucket, value });
        }
      };
      for (const row of rows.iterate(params) as IterableIterator<unknown[]>) {
        const hour = row[2] as number;
        const b = hourly ? hour : Math.trunc((hour - origin) / width) * width + origin;
        if (series === undefined) {
          series = { id, space: row[0] as string, unit: row[1] as string, points: [] };
          out.set(seriesKey(id), series);
        }
        if (b !== bucket) {
          flush();
          bucket = b;
          resetPartial(p);
          sum.reset();
          consumption.reset();
        }
        if (last) {
          const lastTs = row[4] as number;
          if (row[3] !== null && (p.lastTs === null || lastTs >= p.lastTs)) {
            p.last = row[3] as number;
            p.lastTs = lastTs;
          }
        } else {
          p.count += row[3] as number;
          p.numCount += row[4] as number;
          sum.add(row[5] as number);
          const min = row[6] as number | null;
          const max = row[7] as number | null;
          if (min !== null) p.min = p.min === null ? min : Math.min(p.min, min);
          if (max !== null) p.max = p.max === null ? max : Math.max(p.max, max);
          if (row[8] !== null) consumption.add(row[8] as number);
        }
      }
      flush();
    }
    return out;
  }

  private readHourlyRollups(
    q: SeriesQuery,
    params: Record<string, unknown>,
    last: boolean,
  ): Map<string, RolledUpSeries> {
    const value = HOURLY_VALUE[q.aggregate];
    const where = `${ONE_SERIES} AND hour >= @from AND hour < @to
        ${last ? 'AND last_ts IS NOT NULL' : ''} ${q.space === undefined ? '' : 'AND space = @space'}`;
    // Space and unit as the first row has them, whether or not it has a value (as the accumulator did).
    const first = this.statement(`SELECT space, unit FROM rollup_hour WHERE ${where} ORDER BY hour LIMIT 1`);
    const values = this.statement(
      `SELECT hour, ${value} AS value FROM rollup_hour WHERE ${where} AND ${value} IS NOT NULL ORDER BY hour`,
    ).raw(true);
    const out = new Map<string, RolledUpSeries>();
    for (const id of this.rollupSeries(q)) {
      Object.assign(params, id);
      const head = first.get(params) as { space: string; unit: string } | undefined;
      if (head === undefined) continue;
      const rows = values.all(params) as [number, number][];
      const points: SeriesPoint[] = new Array(rows.length);
      for (let i = 0; i < rows.length; i++) {
        const row = rows[i] as [number, number];
        points[i] = { ts: row[0], value: row[1] };
      }
      out.set(seriesKey(id), { id, space: head.space, unit: head.unit, points });
    }
    return out;
  }

  /**
   * Every series (of any quantity) with rollups that the query's device and channel allow, by skipping
   * along the primary key: one index step per series.
   */
  private rollupSeries(q: { device?: string | undefined; channel?: string | undefined }): SeriesId[] {
    const first = this.statement(
      'SELECT site, device, channel FROM rollup_hour ORDER BY site, device, channel LIMIT 1',
    );
    const next = this.statement(`
      SELECT site, device, channel FROM rollup_hour WHERE (site, device, channel) > (@site, @device, @channel)
      ORDER BY site, device, channel LIMIT 1`);
    const out: SeriesId[] = [];
    for (
      let id = first.get() as SeriesId | undefined;
      id !== undefined;
      id = next.get(id) as SeriesId | undefined
    ) {
      if (
        (q.device === undefined || id.device === q.device) &&
        (q.channel === undefined || id.channel === q.channel)
      )
        out.push(id);
    }
    return out;
  }

  private statement(sql: string): Database.Statement {
    let s = this.statements.get(sql);
    if (s === undefined) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  private meta(key: string): number | null {
    const row = this.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as
      | { value: number }
      | undefined;
    return row?.value ?? null;
  }

  private setMeta(key: string, value: number): void {
    this.db
      .prepare(
        'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      )
      .run(key, value);
  }
}

/** One series of one quantity, as the tables key it. */
interface Only extends SeriesId {
  quantity: string;
}
const ONE_SERIES = 'site = @site AND device = @device AND channel = @channel AND quantity = @quantity';

interface Filter {
  device?: string | undefined;
  channel?: string | undefined;
  space?: string | undefined;
  quantity?: string | undefined;
}

function filters(f: Filter): {
  where: string[];
  params: Record<string, string>;
} {
  const where: string[] = [];
  const params: Record<string, string> = {};
  for (const key of ['device', 'channel', 'space', 'quantity'] as const) {
    const value = f[key];
    if (value !== undefined) {
      where.push(`${key} = @${key}`);
      params[key] = value;
    }
  }
  return { where, params };
}

/**
 * A reading's series as stored. A reading without a channel (spooled to disk by a gateway from before
 * channels counted, and replayed after the upgrade) is channel 0, as the migrated file's readings are.
 */
function storedKey(r: StoredReading): [string, string, string, string] {
  return [String(r.site ?? ''), String(r.device), String(r.channel ?? FIRST_CHANNEL), String(r.quantity)];
}

/**
 * The write of a batch of readings on connection `db`, one IMMEDIATE transaction: the reading, the series'
 * `latest`, and the dirty hours of readings that land in hours already rolled up. `rolledUpUntil` is the
 * caller's cached watermark, or undefined to read it from `meta` inside the transaction (a connection that
 * does not run maintain() itself, the write thread's). The batch as objects; columnsWriter's batch as the
 * write thread receives it.
 */
export function readingWriter(
  db: Database.Database,
  rolledUpUntil?: () => number | null,
): (readings: readonly StoredReading[]) => void {
  const write = columnsWriter(db, rolledUpUntil);
  return (readings) => write(toColumns(readings));
}

/**
 * readingWriter on a batch in columns (storage/sqlite-write-thread.ts's ReadingColumns), read where it lies:
 * no reading object is made of it.
 *
 * A reading row is keyed by its series' integer id and its time: the ids are looked up once per series and
 * connection (rows of `series` are never deleted or renumbered, so an id stays valid), and a new series gets
 * its row in the transaction of its first reading. Within a batch, a series is found by its four names'
 * indexes into the batch's `names`, so a reading costs no string key.
 *
 * IMMEDIATE: take the write lock first. The first start's history is written by a second process into the
 * same file; a deferred transaction that read before the other committed cannot upgrade
 * (SQLITE_BUSY_SNAPSHOT, which busy_timeout does not wait out), an immediate one waits its turn.
 */
export function columnsWriter(
  db: Database.Database,
  rolledUpUntil?: () => number | null,
): (columns: ReadingColumns) => void {
  // Positional parameters: the write path binds six values per reading without building an object. (Many
  // rows to a statement, VALUES (…), (…) with the same upsert, 64 a statement, cost the write thread ~10 %
  // more CPU per reading than one row at a time: 2026-12-07, the bench's batches replayed.)
  const insert = db.prepare(`
    INSERT INTO series_reading (series, ts, space, unit, num, str) VALUES (?, ?, ?, ?, ?, ?)
    ON CONFLICT (series, ts) DO UPDATE SET
      space = excluded.space, unit = excluded.unit, num = excluded.num, str = excluded.str
    WHERE excluded.num IS NOT series_reading.num OR excluded.str IS NOT series_reading.str
      OR excluded.space IS NOT series_reading.space`);
  const latest = db.prepare(`
    INSERT INTO latest (site, device, channel, quantity, ts, space, unit, num, str)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (site, device, channel, quantity) DO UPDATE SET
      ts = excluded.ts, space = excluded.space, unit = excluded.unit, num = excluded.num, str = excluded.str
    WHERE excluded.ts >= latest.ts`);
  const dirty = db.prepare(
    'INSERT OR IGNORE INTO dirty_hour (site, device, channel, quantity, hour) VALUES (?, ?, ?, ?, ?)',
  );
  const watermark = db.prepare("SELECT value FROM meta WHERE key = 'rolled_up_until'").pluck();
  const findSeries = db
    .prepare('SELECT id FROM series WHERE site = ? AND device = ? AND channel = ? AND quantity = ?')
    .pluck();
  const addSeries = db.prepare('INSERT INTO series (site, device, channel, quantity) VALUES (?, ?, ?, ?)');
  // Keyed as stored (storedKey's four parts; NUL cannot occur in them: MQTT forbids it in topics, and the site
  // file's ids are plain names).
  const ids = new Map<string, number>();
  const seriesOf = (key: [string, string, string, string]): number => {
    const k = key.join('\u0000');
    let id = ids.get(k);
    if (id === undefined) {
      id = (findSeries.get(...key) as number | undefined) ?? Number(addSeries.run(...key).lastInsertRowid);
      ids.set(k, id);
    }
    return id;
  };
  const transaction = db.transaction((columns: ReadingColumns) => {
    const { names, refs, ts: times, values } = columns;
    const until =
      (rolledUpUntil ? rolledUpUntil() : (watermark.get() as number | undefined)) ?? Number.NEGATIVE_INFINITY;
    const name = (ref: number): string | undefined => (ref < 0 ? undefined : names[ref]);
    // The batch's series, each once: found by its four names' indexes (a number while four indexes fit in
    // 2^53), two index tuples naming one series (no channel and channel 0) sharing it. Each with the newest
    // reading of the batch, for `latest` (on equal ts the later).
    const base = names.length + 1;
    const numericKeys = base ** 4 < Number.MAX_SAFE_INTEGER;
    const local = new Map<number | string, number>();
    const localOfId = new Map<number, number>();
    const localSeries: number[] = [];
    const localKey: [string, string, string, string][] = [];
    const newest: number[] = [];
    // Each local series' readings, by their index in the batch, in arrival order.
    const readingsOf: number[][] = [];
    for (let i = 0, k = 0; i < times.length; i++, k += 6) {
      const ts = Math.round(times[i] as number);
      const value = values[i];
      // Readings the schema cannot hold (no finite time, NaN) are skipped rather than failing the batch.
      if (!Number.isFinite(ts) || (typeof value === 'number' && !Number.isFinite(value))) continue;
      const lk = numericKeys
        ? (((refs[k] as number) + 1) * base + (refs[k + 1] as number) + 1) * base ** 2 +
          ((refs[k + 2] as number) + 1) * base +
          (refs[k + 3] as number) +
          1
        : `${refs[k]},${refs[k + 1]},${refs[k + 2]},${refs[k + 3]}`;
      let l = local.get(lk);
      if (l === undefined) {
        const key = storedKey({
          site: name(refs[k] as number),
          device: name(refs[k + 1] as number),
          channel: name(refs[k + 2] as number),
          quantity: name(refs[k + 3] as number),
        } as StoredReading);
        const id = seriesOf(key);
        l = localOfId.get(id);
        if (l === undefined) {
          l = localSeries.length;
          localOfId.set(id, l);
          localSeries.push(id);
          localKey.push(key);
          newest.push(i);
          readingsOf.push([]);
        }
        local.set(lk, l);
      }
      if (ts >= Math.round(times[newest[l] as number] as number)) newest[l] = i;
      (readingsOf[l] as number[]).push(i);
    }
    // The rows go in in key order: series by series (by id), in arrival order within one (so on equal ts the
    // later still wins). In arrival order each row lands on another series' page of the B-tree; in key order
    // on the page the row before it did. Synthetic batches of 10,000 readings of 3,500 series in a scattered
    // order, 36 into a fresh file: 3.5-4.4 -> 2.4-3.0 µs CPU per reading (2026-12-07, three runs a side,
    // alternating).
    const inKeyOrder = [...localSeries.keys()].sort(
      (a, b) => (localSeries[a] as number) - (localSeries[b] as number),
    );
    for (const l of inKeyOrder)
      for (const i of readingsOf[l] as number[]) {
        const k = i * 6;
        const ts = Math.round(times[i] as number);
        const value = values[i];
        const isNumber = typeof value === 'number';
        const changed = insert.run(
          localSeries[l] as number,
          ts,
          String(name(refs[k + 4] as number) ?? ''),
          String(name(refs[k + 5] as number) ?? ''),
          isNumber ? value : null,
          isNumber ? null : String(value),
        ).changes;
        if (changed > 0 && ts < until)
          dirty.run(...(localKey[l] as [string, string, string, string]), floorHour(ts));
      }
    // `latest` once per series of the batch, with its newest reading: the same outcome as upserting every
    // reading in order.
    for (const [l, key] of localKey.entries()) {
      const i = newest[l] as number;
      const value = values[i];
      const isNumber = typeof value === 'number';
      latest.run(
        ...key,
        Math.round(times[i] as number),
        String(name(refs[i * 6 + 4] as number) ?? ''),
        String(name(refs[i * 6 + 5] as number) ?? ''),
        isNumber ? value : null,
        isNumber ? null : String(value),
      );
    }
  });
  return (columns) => {
    try {
      transaction.immediate(columns);
    } catch (error) {
      // The series rows this transaction added were rolled back with it: their ids are not to be used.
      ids.clear();
      throw error;
    }
  };
}

/** An hour's final value from its rollup row, as finalValue() takes it from the row's partial. */
const HOURLY_VALUE: Record<SeriesQuery['aggregate'], string> = {
  mean: 'CASE WHEN num_count > 0 THEN sum / num_count END',
  min: '"min"',
  max: '"max"',
  last: '"last"',
  count: 'CASE WHEN count > 0 THEN count END',
  consumption: 'consumption',
};

/** The start of the query's bucket holding `ts`, as addRaw's SQL computes it. */
function bucketStart(q: SeriesQuery, ts: number): number {
  const origin = q.bucketMs === undefined ? q.from : 0;
  const width = q.bucketMs ?? q.to - q.from;
  return Math.trunc((ts - origin) / width) * width + origin;
}

function resetPartial(p: BucketPartial): void {
  p.count = 0;
  p.numCount = 0;
  p.sum = 0;
  p.min = null;
  p.max = null;
  p.last = null;
  p.lastTs = null;
  p.consumption = null;
}

/**
 * Rollup series (points before the raw buckets) and the accumulator's series joined into the interface's
 * order: series sorted, points by time; space and unit from the rollups, which the accumulator also saw
 * first.
 */
function joinSeries(quantity: string, early: Map<string, RolledUpSeries>, later: Series[]): Series[] {
  const laterOf = new Map(later.map((s) => [seriesKey(s), s]));
  const ids = new Map<string, SeriesId>();
  for (const [k, e] of early) ids.set(k, e.id);
  for (const [k, l] of laterOf) ids.set(k, l);
  const out: Series[] = [];
  for (const [k, id] of [...ids].sort(([, a], [, b]) => compareSeries(a, b))) {
    const e = early.get(k);
    const l = laterOf.get(k);
    const points =
      e === undefined ? (l?.points ?? []) : l === undefined ? e.points : [...e.points, ...l.points];
    if (points.length === 0) continue;
    const space = e?.space ?? l?.space ?? '';
    const unit = e?.unit ?? l?.unit ?? '';
    out.push({ site: id.site, device: id.device, channel: id.channel, space, quantity, unit, points });
  }
  return out;
}

/**
 * `reading` is a view of the raw readings with their series' names, for every query (and whoever reads the
 * file); they are stored as `series_reading` rows keyed (series id, ts), which SQLite writes at about a third of
 * the cost of rows keyed by the four names with an index by (quantity, ts) (40,000 Tasmota messages in batches
 * of 10,000 readings: 6–9 µs CPU per message against 17–22). Queries by quantity or time find the series first
 * (CROSS JOIN keeps `series` the outer loop), then each series' readings by time along the key.
 */
const SCHEMA = `
  CREATE TABLE IF NOT EXISTS series (
    id INTEGER PRIMARY KEY,
    site TEXT NOT NULL, device TEXT NOT NULL, channel TEXT NOT NULL, quantity TEXT NOT NULL,
    UNIQUE (site, device, channel, quantity)
  );
  CREATE TABLE IF NOT EXISTS series_reading (
    series INTEGER NOT NULL, ts INTEGER NOT NULL,
    space TEXT NOT NULL, unit TEXT NOT NULL, num REAL, str TEXT,
    PRIMARY KEY (series, ts)
  ) WITHOUT ROWID;
  CREATE VIEW IF NOT EXISTS reading AS
    SELECT s.site, s.device, s.channel, s.quantity, r.ts, r.space, r.unit, r.num, r.str
    FROM series s CROSS JOIN series_reading r ON r.series = s.id;
  CREATE TABLE IF NOT EXISTS rollup_hour (
    site TEXT NOT NULL, device TEXT NOT NULL, channel TEXT NOT NULL, quantity TEXT NOT NULL, hour INTEGER NOT NULL,
    space TEXT NOT NULL, unit TEXT NOT NULL,
    count INTEGER NOT NULL, num_count INTEGER NOT NULL, sum REAL NOT NULL, min REAL, max REAL,
    last REAL, last_ts INTEGER, consumption REAL,
    PRIMARY KEY (site, device, channel, quantity, hour)
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS rollup_by_quantity_hour ON rollup_hour (quantity, hour);
  CREATE TABLE IF NOT EXISTS latest (
    site TEXT NOT NULL, device TEXT NOT NULL, channel TEXT NOT NULL, quantity TEXT NOT NULL, ts INTEGER NOT NULL,
    space TEXT NOT NULL, unit TEXT NOT NULL, num REAL, str TEXT,
    PRIMARY KEY (site, device, channel, quantity)
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS dirty_hour (
    site TEXT NOT NULL, device TEXT NOT NULL, channel TEXT NOT NULL, quantity TEXT NOT NULL, hour INTEGER NOT NULL,
    PRIMARY KEY (site, device, channel, quantity, hour)
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);`;

function hasTable(db: Database.Database, table: string): boolean {
  return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table) !== undefined;
}

function hasColumn(db: Database.Database, table: string, column: string): boolean {
  return (db.pragma(`table_info(${table})`) as { name: string }[]).some((c) => c.name === column);
}

/** Readings of every series: lets SQLite step along series_reading's key (series, ts) series by series. */
const EVERY_SERIES = 'series IN (SELECT id FROM series)';

/**
 * Readings from `source` (a table or subquery with the view's nine columns) into series and series_reading,
 * the series numbered in the source's order.
 */
function storeReadingsFrom(db: Database.Database, source: string): void {
  db.exec(`
    INSERT OR IGNORE INTO series (site, device, channel, quantity)
      SELECT DISTINCT site, device, channel, quantity FROM ${source};
    INSERT INTO series_reading (series, ts, space, unit, num, str)
      SELECT s.id, o.ts, o.space, o.unit, o.num, o.str
      FROM ${source} o JOIN series s USING (site, device, channel, quantity);`);
}

/**
 * A file whose readings are keyed by their series' names (site, device, channel, quantity, ts), with an index
 * by (quantity, ts): its readings move into series and series_reading. Runs inside the opening transaction: a
 * crash leaves the old file as it was.
 */
function migrateToSeriesIds(db: Database.Database): void {
  db.exec('ALTER TABLE reading RENAME TO old_reading; DROP INDEX IF EXISTS reading_by_quantity_ts;');
  db.exec(SCHEMA);
  storeReadingsFrom(db, 'old_reading');
  db.exec('DROP TABLE old_reading');
}

/**
 * A file written before channels counted: keyed (device, quantity[, ts|hour]), rollups and dirty hours
 * without a site. Everything in it came from a device's channel 0 (the profiles decoded nothing else), and
 * its site is the one `latest` names for the series (rollups outlive raw readings, `latest` outlives both).
 * Runs inside the opening transaction: a crash leaves the old file as it was.
 */
function migrateToChannels(db: Database.Database): void {
  const siteOf = `coalesce(
    (SELECT l.site FROM old_latest l WHERE l.device = o.device AND l.quantity = o.quantity),
    (SELECT l.site FROM old_latest l LIMIT 1), '')`;
  for (const table of ['reading', 'rollup_hour', 'latest', 'dirty_hour']) {
    if (hasTable(db, table)) db.exec(`ALTER TABLE ${table} RENAME TO old_${table}`);
  }
  db.exec('DROP INDEX IF EXISTS reading_by_quantity_ts; DROP INDEX IF EXISTS rollup_by_quantity_hour;');
  db.exec(SCHEMA);
  const channel = `'${FIRST_CHANNEL}'`;
  storeReadingsFrom(
    db,
    `(SELECT site, device, ${channel} AS channel, quantity, ts, space, unit, num, str FROM old_reading)`,
  );
  db.exec(`
    INSERT INTO latest (site, device, channel, quantity, ts, space, unit, num, str)
      SELECT site, device, ${channel}, quantity, ts, space, unit, num, str FROM old_latest;`);
  if (hasTable(db, 'old_rollup_hour'))
    db.exec(`
      INSERT INTO rollup_hour (site, device, channel, quantity, hour, space, unit, count, num_count, sum, min, max,
          last, last_ts, consumption)
        SELECT ${siteOf}, device, ${channel}, quantity, hour, space, unit, count, num_count, sum, min, max,
          last, last_ts, consumption FROM old_rollup_hour o;`);
  if (hasTable(db, 'old_dirty_hour'))
    db.exec(`
      INSERT OR IGNORE INTO dirty_hour (site, device, channel, quantity, hour)
        SELECT ${siteOf}, device, ${channel}, quantity, hour FROM old_dirty_hour o;`);
  for (const table of ['reading', 'rollup_hour', 'latest', 'dirty_hour'])
    db.exec(`DROP TABLE IF EXISTS old_${table}`);
}

export function checkQuery(q: SeriesQuery): void {
  if (!Number.isFinite(q.from) || !Number.isFinite(q.to) || q.from >= q.to)
    throw new RangeError('query: from and to must be epoch ms with from < to');
  if (q.bucketMs !== undefined && !(Number.isInteger(q.bucketMs) && q.bucketMs > 0))
    throw new RangeError('query: bucketMs must be a positive integer');
}
