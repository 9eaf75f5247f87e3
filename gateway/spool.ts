import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import type { StoredReading, TimeSeriesStore } from '../storage/store.ts';
import { settlesWithin, storeFailureReason, writeWithin } from './store-deadline.ts';

/**
 * The durable spool between the gateway and the time-series store: "the database goes down for an hour,
 * not one reading is lost".
 *
 * Normal path: readings are cut into batches (batchSize, or every flushIntervalMs) and written to the
 * store one batch at a time, in order. When a write fails (or does not answer within writeTimeoutMs),
 * that batch and every batch after it go to disk instead: append-only segment files in `dir`, one JSON
 * line per batch, fsync'd per batch. A replayer retries the oldest segment with exponential backoff (1 s
 * growing to 30 s) and,
 * once the store answers, writes the spool back in order, deleting a segment only after the store
 * acknowledged all of it; when the spool is empty, batches go straight to the store again.
 * A new SpooledWriter on the same dir replays what an earlier process left there.
 *
 * Exactly once in effect: a batch may reach the store twice (its acknowledgement lost, a replay
 * interrupted), which the store's idempotent (device, quantity, ts) key absorbs.
 * Stopping (close) gives a write under way closeTimeoutMs to be acknowledged; whatever the store has not
 * acknowledged by then goes to disk, so a stop fits in docker stop's 10 s even while the store hangs.
 * Not covered: readings still in memory (at most one batch plus batches waiting for the store) when the
 * gateway process itself dies without being asked to stop (SIGKILL, power). One writer per dir.
 *
 * Events: 'spooling' (error) when the store stopped answering, 'drained' when the spool is empty
 * again, 'written' (count) after each acknowledged batch.
 */
export interface SpoolLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface SpooledWriterOptions {
  store: TimeSeriesStore;
  dir: string;
  batchSize?: number;
  flushIntervalMs?: number;
  retryMinMs?: number;
  retryMaxMs?: number;
  writeTimeoutMs?: number;
  /** How long close() waits for the store before putting what it holds on disk (default 2 s). */
  closeTimeoutMs?: number;
  logger?: SpoolLogger;
}

export interface SpoolCounters {
  /** Readings acknowledged by the store (directly or replayed). */
  written: number;
  /** Readings appended to the spool on disk. */
  spooled: number;
  /** Readings acknowledged by the store from the spool. */
  replayed: number;
  /** Failed write attempts. */
  failures: number;
  /** Spool lines that could not be read back (a write torn by a crash); skipped. */
  corrupt: number;
}

const SEGMENT = /^(\d{12})\.spool\.jsonl$/;
const segmentName = (seq: number) => `${String(seq).padStart(12, '0')}.spool.jsonl`;

export class SpooledWriter extends EventEmitter {
  readonly counters: SpoolCounters = { written: 0, spooled: 0, replayed: 0, failures: 0, corrupt: 0 };
  private readonly store: TimeSeriesStore;
  private readonly dir: string;
  private readonly batchSize: number;
  private readonly retryMinMs: number;
  private readonly retryMaxMs: number;
  private readonly writeTimeoutMs: number;
  private readonly closeTimeoutMs: number;
  private readonly logger: SpoolLogger | undefined;
  private readonly timer: NodeJS.Timeout;

  private buffer: StoredReading[] = [];
  /** Batches waiting for a direct write (direct mode only). */
  private queue: StoredReading[][] = [];
  private spooling = false;
  private closed = false;
  private pumping: Promise<void> | undefined;
  private replaying: Promise<void> | undefined;
  /** Set and cleared synchronously, so a new outage right after a drain always starts a replayer. */
  private replayRunning = false;
  /** Segment sequence numbers on disk, oldest first; the last may be the one being appended to. */
  private segments: number[] = [];
  private active: { seq: number; fd: number } | undefined;
  private onDisk = 0;
  private wake: (() => void) | undefined;

  constructor(options: SpooledWriterOptions) {
    super();
    this.store = options.store;
    this.dir = options.dir;
    this.batchSize = options.batchSize ?? 1000;
    this.retryMinMs = options.retryMinMs ?? 1000;
    this.retryMaxMs = options.retryMaxMs ?? 30_000;
    this.writeTimeoutMs = options.writeTimeoutMs ?? 15_000;
    this.closeTimeoutMs = options.closeTimeoutMs ?? 2000;
    this.logger = options.logger;
    fs.mkdirSync(this.dir, { recursive: true });
    for (const name of fs.readdirSync(this.dir).sort()) {
      const match = SEGMENT.exec(name);
      if (!match) continue;
      this.segments.push(Number(match[1]));
      for (const batch of this.readSegment(path.join(this.dir, name), false)) this.onDisk += batch.length;
    }
    if (this.segments.length > 0) {
      this.logger?.info({ readings: this.onDisk, segments: this.segments.length }, 'replaying from disk');
      this.spooling = true;
      this.startReplay();
    }
    this.timer = setInterval(() => this.cut(), options.flushIntervalMs ?? 200);
    this.timer.unref();
  }

  /** Called per reading: cheap and synchronous. Throws only after close(). */
  add(reading: StoredReading): void {
    if (this.closed) throw new Error('SpooledWriter is closed');
    this.buffer.push(reading);
    if (this.buffer.length >= this.batchSize) this.cut();
  }

  /** Readings not yet acknowledged by the store (in memory or on disk). */
  pending(): number {
    let n = this.buffer.length + this.onDisk;
    for (const batch of this.queue) n += batch.length;
    return n;
  }

  /** True while the store is unreachable or the spool is being replayed. */
  isSpooling(): boolean {
    return this.spooling;
  }

  /** Resolves when everything added so far is acknowledged by the store or safe on disk. */
  async flush(): Promise<void> {
    this.cut();
    while (this.pumping !== undefined) await this.pumping;
  }

  /** Resolves when everything added so far is acknowledged by the store. */
  async drained(): Promise<void> {
    await this.flush();
    while (this.pending() > 0) {
      await new Promise<void>((resolve) => {
        const done = () => {
          this.off('written', done);
          this.off('closed', done);
          resolve();
        };
        this.on('written', done);
        this.on('closed', done);
      });
      if (this.closed) return;
    }
  }

  /**
   * Writes what is buffered to the store, or to disk when the store does not acknowledge it within
   * closeTimeoutMs; stops replaying (the next writer on this dir goes on).
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.cut();
    this.closed = true;
    clearInterval(this.timer);
    this.wake?.();
    const deadline = Date.now() + this.closeTimeoutMs;
    await settlesWithin(this.pumping, deadline - Date.now());
    if (this.queue.length > 0) {
      // Not acknowledged in time, or refused: to disk. The batch being written stays first in the queue
      // until acknowledged, so it goes too; should the late write land, the store's idempotent key absorbs
      // the replay.
      let readings = 0;
      for (const batch of this.queue) readings += batch.length;
      this.spooling = true;
      for (const batch of this.queue) this.append(batch);
      this.queue = [];
      this.logger?.warn({ readings }, 'the store did not answer while stopping; readings kept on disk');
    }
    // A replay under way holds nothing that is not on disk already: no need to wait for a slow store.
    await settlesWithin(this.replaying, deadline - Date.now());
    if (this.active !== undefined) fs.closeSync(this.active.fd);
    this.active = undefined;
    this.emit('closed');
  }

  private cut(): void {
    if (this.buffer.length === 0) return;
    const batch = this.buffer;
    this.buffer = [];
    if (this.spooling) {
      this.append(batch);
    } else {
      this.queue.push(batch);
      this.pumping ??= this.pump().finally(() => {
        this.pumping = undefined;
      });
    }
  }

  private async pump(): Promise<void> {
    while (this.queue.length > 0 && !this.spooling) {
      const batch = this.queue[0] as StoredReading[];
      try {
        await this.writeToStore(batch);
        this.queue.shift();
        this.counters.written += batch.length;
        this.emit('written', batch.length);
      } catch (error) {
        this.counters.failures++;
        if (this.closed) return; // close() has put the queue on disk already
        this.startSpooling(error);
      }
    }
  }

  private startSpooling(error: unknown): void {
    this.spooling = true;
    this.logger?.warn(
      { err: storeFailureReason(error) },
      'the time-series store does not answer; spooling to disk',
    );
    for (const batch of this.queue) this.append(batch);
    this.queue = [];
    this.emit('spooling', error);
    this.startReplay();
  }

  private startReplay(): void {
    if (this.replayRunning || this.closed) return;
    this.replayRunning = true;
    this.replaying = this.replay();
  }

  private append(batch: StoredReading[]): void {
    if (this.active === undefined) {
      const seq = (this.segments[this.segments.length - 1] ?? 0) + 1;
      const fd = fs.openSync(path.join(this.dir, segmentName(seq)), 'a');
      this.active = { seq, fd };
      this.segments.push(seq);
    }
    fs.writeSync(this.active.fd, `${JSON.stringify(batch)}\n`);
    fs.fsyncSync(this.active.fd);
    this.onDisk += batch.length;
    this.counters.spooled += batch.length;
  }

  private async replay(): Promise<void> {
    let failures = 0;
    while (!this.closed) {
      const seq = this.segments[0];
      if (seq === undefined) {
        // Nothing on disk and no append can come in between (appends are synchronous): go direct.
        this.spooling = false;
        this.replayRunning = false;
        this.logger?.info({}, 'drained, writing directly again');
        this.emit('drained');
        return;
      }
      if (this.active?.seq === seq) {
        // Seal the segment being appended to: new batches go to a new one while this one replays.
        fs.closeSync(this.active.fd);
        this.active = undefined;
      }
      const file = path.join(this.dir, segmentName(seq));
      const batches = this.readSegment(file, true);
      let done = 0;
      while (done < batches.length && !this.closed) {
        // Small batches (cut by the flush interval during the outage) are replayed together.
        const group: StoredReading[] = [...(batches[done] as StoredReading[])];
        let lines = 1;
        for (let next = batches[done + lines]; next && group.length + next.length <= this.batchSize; ) {
          group.push(...next);
          lines++;
          next = batches[done + lines];
        }
        try {
          await this.writeToStore(group);
          failures = 0;
          done += lines;
          this.onDisk -= group.length;
          this.counters.written += group.length;
          this.counters.replayed += group.length;
          this.emit('written', group.length);
        } catch (error) {
          this.counters.failures++;
          failures++;
          const delay = Math.min(this.retryMaxMs, this.retryMinMs * 2 ** Math.min(failures - 1, 20));
          if (failures === 1)
            this.logger?.warn(
              { err: storeFailureReason(error), retryInMs: delay },
              'replay failed, retrying',
            );
          if (this.closed) break;
          await this.sleep(delay);
        }
      }
      if (done < batches.length) break; // closed mid-segment: the next writer replays it (idempotent)
      fs.unlinkSync(file);
      this.segments.shift();
    }
    this.replayRunning = false;
  }

  private readSegment(file: string, count: boolean): StoredReading[][] {
    const batches: StoredReading[][] = [];
    for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
      if (line === '') continue;
      try {
        const batch = JSON.parse(line) as unknown;
        if (!Array.isArray(batch)) throw new Error('not a batch');
        batches.push(batch as StoredReading[]);
      } catch {
        // A line torn by a crash while it was written: it was never acknowledged to anyone.
        if (count) {
          this.counters.corrupt++;
          this.logger?.warn({ file }, 'skipping an unreadable line');
        }
      }
    }
    return batches;
  }

  private writeToStore(batch: StoredReading[]): Promise<void> {
    // A late rejection after the timeout is already handled by spooling.
    return writeWithin(this.store.write(batch), this.writeTimeoutMs);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = () => {
        this.wake = undefined;
        done();
      };
    });
  }
}
