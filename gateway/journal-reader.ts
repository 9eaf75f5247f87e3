import type { JournalEntry, MessageJournal } from '../journal/journal.ts';
import type { StoredReading, TimeSeriesStore } from '../storage/store.ts';
import { settlesWithin, storeFailureReason, WriteTimeout, writeWithin } from './store-deadline.ts';

/**
 * The gateway's store path: the readings of the journal's messages go to the time-series store in journal
 * order, and the journal's cursor `store` moves only past what the store acknowledged (issue 10).
 *
 * Live: the gateway's live path hands each entry it decoded over (`handOff`, in journal order), and batches
 * of up to `batchSize` readings, whole entries each, go to the store one at a time: never two batches in
 * flight, never out of order, a write `lingerMs` after the previous one started unless a whole batch waits
 * or nothing was handed over for `quietMs` (the devices went quiet: no larger batch is coming).
 * After the store acknowledged a batch, `journal.advance('store', lastSeq)`.
 *
 * Behind: when a write fails or does not answer within `writeTimeoutMs`, what is held in memory is dropped
 * and the writer retries with backoff (1 s doubling to 30 s, ±20 % jitter) reading the journal on disk from
 * the cursor, decoding each entry again (`decode`: the journal's arrival time makes the very same readings,
 * which the store's idempotent key keeps once). Each retry is a probe: the next few entries from the cursor
 * (up to `probeReadings`), not a whole batch, and whole batches again once the store took one. During a long
 * outage the writer so holds a few readings per retry, not a batch for the length of a failing write (a
 * batch of 10,000 readings held for SQLite's 5 s busy timeout lives through many scavenges and is promoted,
 * so every retry left some megabytes of garbage in V8's old space: issue 10, memory while the store is
 * down). Hand-offs meanwhile only move the mark of how far the live
 * path got; once the writer has caught up with that mark it takes hand-offs again. A store that is merely
 * slower than the devices does the same once more than `maxHeldReadings` wait in memory: memory stays
 * bounded however long the store is down or slow, the journal on disk is the spool.
 *
 * At start the writer catches up from the cursor to where the live path starts (`start(from)`): what an
 * earlier process journaled and did not get stored (it crashed, it was stopped while the store hung).
 *
 * Stop: the write under way gets `stopGraceMs` to be acknowledged, then the writer stops; what the store has
 * not acknowledged is read again from the journal by the next start.
 */
export interface StoreWriterLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface JournalStoreWriterOptions {
  journal: MessageJournal;
  store: Pick<TimeSeriesStore, 'write' | 'batchReadings'>;
  /** An entry's readings, decoded again from the journal (no republishing, no device health). */
  decode: (entry: JournalEntry) => StoredReading[];
  /** The journal consumer whose cursor this writer moves (default `store`). */
  consumer?: string;
  /**
   * Readings per store write at most (default: the store's batchReadings, else 10,000; an entry with more goes
   * alone). A write takes whatever
   * waits, up to this: a store that keeps up gets small batches, a busy one large ones, which cost it less
   * per reading: each page of the store's B-tree and each series' `latest` row is written once per batch
   * (SQLite, 40,000 Tasmota messages: batches of 1,000 readings 41 µs CPU per message, of 10,000 21 µs with
   * readings keyed by names; 6-9 µs of 10,000 since they are keyed by series id, 2026-12-07).
   */
  batchSize?: number;
  /** Readings waiting in memory beyond which the writer reads from the journal instead (default 3 batches). */
  maxHeldReadings?: number;
  /** After a failure, the next write carries about this many readings, whole entries (default 64). */
  probeReadings?: number;
  /**
   * Live, a write starts at most this long after the previous one started, unless a whole batch waits
   * (default 500 ms): the store gets fewer, larger writes, and a reading is in it that much later (the live
   * feed does not wait for the store; PUBACK waited for the journal, never for this).
   */
  lingerMs?: number;
  /**
   * The linger ends early once no entry was handed over for this long (default 50 ms): the devices went
   * quiet, so no larger batch is coming, and what waits is written now rather than up to `lingerMs` later.
   * Under a steady load the hand-offs come every few milliseconds and the linger runs its course.
   */
  quietMs?: number;
  retryMinMs?: number;
  retryMaxMs?: number;
  /** A write not acknowledged by then counts as failed (default 15 s). */
  writeTimeoutMs?: number;
  /** How long stop() waits for the write under way (default 2 s). */
  stopGraceMs?: number;
  logger?: StoreWriterLogger;
  /** For the jitter (default Math.random). */
  random?: () => number;
}

export interface StoreWriterStats {
  /** Readings the store acknowledged since start, and the writes that carried them. */
  stored: number;
  writes: number;
  /** The journal's cursor for the store: every entry up to it is stored. */
  cursor: number;
  /** Entries committed to the journal and not yet stored (committed − cursor). */
  lag: number;
  /** Readings held in memory now, waiting for the store, and the most ever held. */
  held: number;
  peakHeld: number;
  /** Failed or timed-out writes since start. */
  failures: number;
  /** The store failed and the writer has not caught up since: the heartbeat's "spooling". */
  behind: boolean;
}

/** Entries read from the journal at a time while behind. */
const READ_ENTRIES = 1000;

interface Held {
  seq: number;
  readings: StoredReading[];
}

export class JournalStoreWriter {
  readonly #journal: MessageJournal;
  readonly #store: Pick<TimeSeriesStore, 'write' | 'batchReadings'>;
  readonly #decode: (entry: JournalEntry) => StoredReading[];
  readonly #consumer: string;
  readonly #batchSize: number;
  readonly #maxHeld: number;
  readonly #probeReadings: number;
  readonly #retryMinMs: number;
  readonly #retryMaxMs: number;
  readonly #writeTimeoutMs: number;
  readonly #stopGraceMs: number;
  readonly #lingerMs: number;
  readonly #quietMs: number;
  readonly #logger: StoreWriterLogger | undefined;
  readonly #random: () => number;

  /** Entries waiting for the store, in journal order, from #head on (a queue without O(n) shifts). */
  #queue: Held[] = [];
  #head = 0;
  #held = 0;
  #peakHeld = 0;
  /** Taking hand-offs (live) or reading the journal (behind, or not yet caught up after the start). */
  #live = false;
  /** The last entry the live path handed over (or where it started). */
  #handed = 0;
  /** The last entry in the queue, in the write under way, or acknowledged: where reading the journal goes on. */
  #tail = 0;
  /** The last entry the store acknowledged (the cursor). */
  #acked = 0;
  #stored = 0;
  #writes = 0;
  #failures = 0;
  #behind = false;
  /** The last write failed: the next one is a probe of a few readings, not a whole batch. */
  #probing = false;
  #started = false;
  #stopping = false;
  #stopped = false;
  #loop: Promise<void> | undefined;
  #writing: Promise<void> | undefined;
  /** A write that timed out and may still be under way in the store. */
  #stale: Promise<void> | undefined;
  /** Wakes the loop waiting for hand-offs. */
  #wakeLive: (() => void) | undefined;
  /** Cuts the backoff sleep short (stopping only: hand-offs must not hurry a retry). */
  #wakeSleep: (() => void) | undefined;

  constructor(options: JournalStoreWriterOptions) {
    this.#journal = options.journal;
    this.#store = options.store;
    this.#decode = options.decode;
    this.#consumer = options.consumer ?? 'store';
    this.#batchSize = options.batchSize ?? options.store.batchReadings ?? 10_000;
    this.#maxHeld = options.maxHeldReadings ?? 3 * this.#batchSize;
    this.#probeReadings = Math.max(1, Math.min(options.probeReadings ?? 64, this.#batchSize));
    this.#retryMinMs = options.retryMinMs ?? 1000;
    this.#retryMaxMs = options.retryMaxMs ?? 30_000;
    this.#writeTimeoutMs = options.writeTimeoutMs ?? 15_000;
    this.#stopGraceMs = options.stopGraceMs ?? 2000;
    this.#lingerMs = options.lingerMs ?? 500;
    this.#quietMs = options.quietMs ?? 50;
    this.#logger = options.logger;
    this.#random = options.random ?? Math.random;
    this.#acked = this.#journal.cursor(this.#consumer);
    this.#tail = this.#acked;
    this.#handed = this.#acked;
  }

  /**
   * Starts writing. `from` is the last entry the live path will not hand over (the journal's committed
   * position when the gateway started): everything from the cursor up to it is read from the journal first.
   */
  start(from: number): void {
    if (this.#started) throw new Error('JournalStoreWriter started twice');
    this.#started = true;
    this.#handed = Math.max(this.#handed, from);
    if (this.#handed > this.#acked)
      this.#logger?.info(
        { from: this.#acked, to: this.#handed },
        'storing what the journal holds from before this start',
      );
    this.#live = this.#handed === this.#tail;
    this.#loop = this.#run();
  }

  /** The live path decoded entry `seq` (in journal order, every entry, with or without readings). */
  handOff(seq: number, readings: StoredReading[]): void {
    if (seq <= this.#handed) return;
    this.#handed = seq;
    this.#lastHandOffAt = performance.now();
    if (!this.#live || this.#stopping) return;
    this.#queue.push({ seq, readings });
    this.#tail = seq;
    this.#held += readings.length;
    if (this.#held > this.#peakHeld) this.#peakHeld = this.#held;
    if (this.#held > this.#maxHeld) {
      // The store is slower than the devices: the journal holds what waits, not memory.
      this.#logger?.info({ held: this.#held }, 'the store is behind; reading from the journal');
      this.#dropHeld(this.#writingLast ?? this.#acked);
    }
    // Lingering, the writer waits for a whole batch (or its time); otherwise for anything.
    if (!this.#lingering || this.#held >= this.#batchSize || !this.#live) this.#wakeLive?.();
  }

  stats(): StoreWriterStats {
    return {
      stored: this.#stored,
      writes: this.#writes,
      cursor: this.#acked,
      lag: Math.max(0, this.#journal.committed() - this.#acked),
      held: this.#held,
      peakHeld: this.#peakHeld,
      failures: this.#failures,
      behind: this.#behind,
    };
  }

  /** True while the store failed and the writer has not caught up since (the heartbeat's "spooling"). */
  isBehind(): boolean {
    return this.#behind;
  }

  /**
   * Gives the write under way stopGraceMs to be acknowledged, then stops: what is not acknowledged stays in
   * the journal past the cursor, for the next start.
   */
  async stop(): Promise<void> {
    if (this.#stopping) {
      await this.#loop;
      return;
    }
    this.#stopping = true;
    // What was lingering for a larger batch is written now, within the grace, as a write under way would be.
    const lastWrite = this.#lingering
      ? new Promise<void>((resolve) => {
          this.#lastWriteStarted = resolve;
        })
      : undefined;
    this.#wakeLive?.();
    this.#wakeSleep?.();
    await lastWrite;
    await settlesWithin(this.#writing, this.#stopGraceMs);
    this.#stopped = true;
    // The loop ends at its next step; a store write that hangs on is left to itself (its late
    // acknowledgement no longer moves the cursor: the next start reads that batch again, harmlessly).
    await settlesWithin(this.#loop, 100);
  }

  /** The last entry of the write under way, when there is one. */
  #writingLast: number | undefined;

  #dropHeld(tail: number): void {
    this.#catchUpAt = undefined;
    this.#queue = [];
    this.#head = 0;
    this.#held = 0;
    this.#tail = tail;
    this.#live = false;
  }

  async #run(): Promise<void> {
    let failuresInARow = 0;
    while (!this.#stopping) {
      const empty = this.#head >= this.#queue.length;
      if (empty && this.#live) {
        await new Promise<void>((resolve) => {
          this.#wakeLive = resolve;
        });
        this.#wakeLive = undefined;
        continue;
      }
      // Behind: read the journal in steps of READ_ENTRIES until a whole batch waits (or it is read up to
      // the live path), so that what is held stays near one batch; after a failure, a probe's worth.
      if (!this.#live && (empty || this.#held < this.#wanted())) {
        try {
          await this.#readJournal();
        } catch (error) {
          failuresInARow++;
          await this.#failed(error, failuresInARow);
        }
        continue;
      }
      if (this.#live && this.#held < this.#batchSize) {
        await this.#linger();
        // Dropped meanwhile (the store fell behind): read from the journal.
        if (this.#head >= this.#queue.length) continue;
      }
      // The whole step, acknowledgement and cursor, is what stop() gives its grace to.
      this.#lastWriteAt = performance.now();
      const step = this.#write(this.#takeBatch());
      this.#writing = step;
      this.#lastWriteStarted?.();
      try {
        await step;
        failuresInARow = 0;
        this.#probing = false;
      } catch (error) {
        failuresInARow++;
        await this.#failed(error, failuresInARow);
      } finally {
        this.#writing = undefined;
      }
    }
    this.#lastWriteStarted?.();
  }

  /** stop() during a linger waits for the write of what lingered to start (or for the loop to end). */
  #lastWriteStarted: (() => void) | undefined;
  /** When the last write started (performance.now()). */
  #lastWriteAt = Number.NEGATIVE_INFINITY;
  /** Waiting out the linger: a hand-off wakes the loop only once a whole batch waits. */
  #lingering = false;
  /** When the live path last handed an entry over (performance.now()). */
  #lastHandOffAt = Number.NEGATIVE_INFINITY;

  /**
   * Waits until lingerMs after the last write started, or until a whole batch waits, or until no hand-off
   * came for quietMs, or stop().
   */
  async #linger(): Promise<void> {
    const deadline = this.#lastWriteAt + this.#lingerMs;
    // Until the deadline or the end of the current quiet spell, whichever comes first; at the end of a quiet
    // spell that a hand-off interrupted, again from that hand-off.
    const wait = (now: number) => Math.min(deadline - now, this.#lastHandOffAt + this.#quietMs - now);
    if (wait(performance.now()) <= 0) return;
    this.#lingering = true;
    await new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout;
      const check = () => {
        const left = wait(performance.now());
        if (left <= 0) this.#wakeLive?.();
        else timer = setTimeout(check, left);
      };
      timer = setTimeout(check, wait(performance.now()));
      this.#wakeLive = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.#wakeLive = undefined;
    this.#lingering = false;
  }

  /** Reads the next entries from the journal on disk (behind), decoding them again. */
  async #readJournal(): Promise<void> {
    if (this.#tail >= this.#handed) {
      this.#goLive();
      return;
    }
    // At most a batch's worth of entries (each carries one reading or more) on top of what is held; after a
    // failure, a probe's worth.
    const count = Math.max(1, Math.min(READ_ENTRIES, this.#wanted() - this.#held));
    const entries = await this.#journal.read(this.#tail, count);
    if (this.#stopping || this.#live) return;
    for (const entry of entries) {
      // Only what the live path has seen: hand-offs from there on continue the queue.
      if (entry.seq > this.#handed) break;
      const readings = this.#decode(entry);
      this.#queue.push({ seq: entry.seq, readings });
      this.#tail = entry.seq;
      this.#held += readings.length;
      if (this.#held > this.#peakHeld) this.#peakHeld = this.#held;
    }
    if (entries.length === 0 && this.#tail < this.#handed) {
      // Handed over but not readable: the journal cannot lose committed entries, so this is a bug or a
      // disk that lost them. Waiting a moment keeps this from spinning.
      throw new Error(`the journal has no entries after ${this.#tail} (the live path is at ${this.#handed})`);
    }
    if (this.#tail >= this.#handed) this.#goLive();
  }

  #goLive(): void {
    this.#live = true;
    if (!this.#behind) return;
    // Everything up to here was read from the journal again, and is not stored yet: caught up once the store
    // took it (a writer that went live at once said "caught up" while the store was still away).
    if (this.#acked >= this.#tail) this.#caughtUp();
    else this.#catchUpAt = this.#tail;
  }

  #caughtUp(): void {
    this.#behind = false;
    this.#catchUpAt = undefined;
    this.#logger?.info({ cursor: this.#acked }, 'the store has caught up with the journal');
  }

  /** While behind: the entry whose acknowledgement by the store ends it (set once the reading went live). */
  #catchUpAt: number | undefined;

  /** The readings a write carries at most: a batch, or a probe's worth after a failure. */
  #wanted(): number {
    return this.#probing ? this.#probeReadings : this.#batchSize;
  }

  /** Whole entries, up to batchSize readings (a probe's worth after a failure; at least one entry). */
  #takeBatch(): Held[] {
    const batch: Held[] = [];
    let readings = 0;
    const most = this.#wanted();
    while (this.#head < this.#queue.length) {
      const next = this.#queue[this.#head] as Held;
      if (batch.length > 0 && readings + next.readings.length > most) break;
      batch.push(next);
      readings += next.readings.length;
      this.#head++;
    }
    if (this.#head >= this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head > 4096) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    this.#held -= readings;
    return batch;
  }

  async #write(batch: Held[]): Promise<void> {
    const last = (batch[batch.length - 1] as Held).seq;
    const readings = batch.length === 1 ? (batch[0] as Held).readings : batch.flatMap((h) => h.readings);
    if (readings.length > 0) {
      // From here on this batch is under way: a hand-off that overflows meanwhile reads on after it.
      this.#writingLast = last;
      try {
        // A write that timed out may still be under way: the next one waits for it, within reason.
        if (this.#stale) await settlesWithin(this.#stale, this.#writeTimeoutMs);
        this.#stale = undefined;
        const write = this.#store.write(readings);
        try {
          await writeWithin(write, this.#writeTimeoutMs);
        } catch (error) {
          if (error instanceof WriteTimeout) this.#stale = write;
          throw error;
        }
      } finally {
        this.#writingLast = undefined;
      }
    }
    if (this.#stopped) return;
    // Never backwards (a batch read again after an overflow ends where an acknowledged one did).
    if (last <= this.#acked) return;
    this.#acked = last;
    this.#stored += readings.length;
    if (readings.length > 0) this.#writes++;
    this.#journal.advance(this.#consumer, last);
    if (this.#behind && this.#catchUpAt !== undefined && this.#acked >= this.#catchUpAt) this.#caughtUp();
  }

  async #failed(error: unknown, inARow: number): Promise<void> {
    // Stopping: a write cut short or a journal closed under a read is no outage.
    if (this.#stopping) return;
    this.#failures++;
    // Whatever is held goes; the journal has it from the cursor on. The next write is a probe.
    this.#dropHeld(this.#acked);
    this.#probing = true;
    const base = Math.min(this.#retryMaxMs, this.#retryMinMs * 2 ** Math.min(inARow - 1, 20));
    const delay = Math.round(base * (0.8 + 0.4 * this.#random()));
    if (!this.#behind) {
      this.#behind = true;
      this.#logger?.warn(
        { err: storeFailureReason(error), cursor: this.#acked, retryInMs: delay },
        'the time-series store does not answer; readings wait in the journal',
      );
    }
    if (this.#stopping) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wakeSleep = undefined;
        resolve();
      };
      const timer = setTimeout(done, delay);
      this.#wakeSleep = done;
    });
  }
}
