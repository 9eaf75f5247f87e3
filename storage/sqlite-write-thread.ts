import { Worker } from 'node:worker_threads';
import type { StoredReading } from './store.ts';

/**
 * The embedded store's writes on a worker thread (SqliteStoreOptions.writeThread): the thread opens the file
 * with a connection of its own (storage/sqlite-write-worker.ts) and runs each batch as one IMMEDIATE
 * transaction, in the order write() was called. A write resolves once the thread has committed its batch,
 * and rejects with SQLite's error when the transaction failed (nothing of the batch is written then), so a
 * caller that moves a cursor on the resolution (gateway/journal-reader.ts) moves it only past what is
 * committed, as with the store's own connection.
 *
 * A thread that dies takes its writes in flight with it (rejected: their transactions did not commit or are
 * rolled back when the file is next opened); the next write starts a new one.
 */

/** What the thread answers for write `id`: committed, or the failure. */
export interface WriteAnswer {
  id: number;
  error?: { message: string; code?: string };
}

/** What the thread is asked. */
export type WriteRequest = { kind: 'write'; id: number; readings: ReadingColumns } | { kind: 'close' };

/**
 * A batch of readings as it crosses to the thread: columns, each distinct name once. Copying (structured
 * clone) an array of reading objects spells out every property name and copies each reading's six names
 * again, and the thread's heap made a string of each: for 40,000 Tasmota messages 3.4 µs CPU per message
 * both sides together, in columns 1.4. The thread writes from the columns as they are (columnsWriter in
 * storage/sqlite-store.ts), making no reading object of them.
 */
export interface ReadingColumns {
  /** The batch's distinct names (site, device, channel, quantity, space, unit). */
  names: string[];
  /** Per reading, six indexes into `names` in that order; -1 where the reading has none. */
  refs: Int32Array;
  ts: Float64Array;
  values: StoredReading['value'][];
}

const NAME_FIELDS = ['site', 'device', 'channel', 'quantity', 'space', 'unit'] as const;

export function toColumns(readings: readonly StoredReading[]): ReadingColumns {
  const names: string[] = [];
  const index = new Map<string, number>();
  const refs = new Int32Array(readings.length * NAME_FIELDS.length);
  const ts = new Float64Array(readings.length);
  const values = new Array<StoredReading['value']>(readings.length);
  let k = 0;
  for (let i = 0; i < readings.length; i++) {
    const r = readings[i] as StoredReading;
    for (const field of NAME_FIELDS) {
      const name = r[field] as string | undefined | null;
      let ref = -1;
      if (name !== undefined && name !== null) {
        ref = index.get(name) ?? -1;
        if (ref < 0) {
          ref = names.length;
          names.push(name);
          index.set(name, ref);
        }
      }
      refs[k++] = ref;
    }
    ts[i] = r.ts;
    values[i] = r.value;
  }
  return { names, refs, ts, values };
}

/** How long close() waits for the writes handed over before it ends the thread (a stop fits in docker stop's 10 s). */
const CLOSE_WAIT_MS = 3000;

/**
 * The thread runs TypeScript like the rest (bin/wesprint.js registers tsx on the main thread; hooks are not
 * inherited by a worker), so its entry registers tsx and then imports the worker module.
 */
const TSX_API = import.meta.resolve('tsx/esm/api');
const WORKER_MODULE = new URL('./sqlite-write-worker.ts', import.meta.url).href;
const BOOTSTRAP = `import(${JSON.stringify(TSX_API)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(WORKER_MODULE)}); });`;

export class WriteThread {
  #worker: Worker | undefined;
  #exited: Promise<void> | undefined;
  readonly #pending = new Map<number, { resolve: () => void; reject: (error: Error) => void }>();
  #next = 0;
  #closed = false;

  /** Starts the thread at once: it takes a moment to load (under load, most of a second), not the first write's. */
  constructor(private readonly file: string) {
    this.#start();
  }

  write(readings: StoredReading[]): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('the store is closed'));
    const worker = this.#worker ?? this.#start();
    const id = ++this.#next;
    return new Promise<void>((resolve, reject) => {
      if (this.#pending.size === 0) worker.ref();
      this.#pending.set(id, { resolve, reject });
      const columns = toColumns(readings);
      // The columns' buffers move to the thread rather than being copied.
      worker.postMessage({ kind: 'write', id, readings: columns } satisfies WriteRequest, [
        columns.refs.buffer as ArrayBuffer,
        columns.ts.buffer as ArrayBuffer,
      ]);
    });
  }

  /** Lets the writes handed over finish (within CLOSE_WAIT_MS), then ends the thread and its connection. */
  async close(): Promise<void> {
    this.#closed = true;
    const worker = this.#worker;
    if (!worker) return;
    worker.postMessage({ kind: 'close' } satisfies WriteRequest);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.#exited,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, CLOSE_WAIT_MS);
      }),
    ]);
    clearTimeout(timer);
    if (this.#worker === worker) await worker.terminate();
  }

  #start(): Worker {
    const worker = new Worker(BOOTSTRAP, { eval: true, workerData: { file: this.file } });
    // Idle, the thread does not keep the process alive (a store left open must not hang an exit); a write
    // in flight does.
    worker.unref();
    this.#worker = worker;
    let failure: Error | undefined;
    worker.on('message', (answer: WriteAnswer) => {
      const pending = this.#pending.get(answer.id);
      if (!pending) return;
      this.#pending.delete(answer.id);
      if (this.#pending.size === 0) worker.unref();
      if (answer.error === undefined) pending.resolve();
      else pending.reject(sqliteError(answer.error));
    });
    worker.on('error', (error) => {
      failure = error;
    });
    this.#exited = new Promise<void>((resolve) => {
      worker.once('exit', (code) => {
        if (this.#worker === worker) this.#worker = undefined;
        const error = new Error(
          `the store's write thread ended (${failure ? failure.message : `exit code ${code}`})`,
          failure ? { cause: failure } : undefined,
        );
        for (const { reject } of this.#pending.values()) reject(error);
        this.#pending.clear();
        resolve();
      });
    });
    return worker;
  }
}

/** SQLite's error as the thread reported it, with its code (SQLITE_BUSY, SQLITE_FULL, …). */
function sqliteError(reported: { message: string; code?: string }): Error {
  const error = new Error(reported.message) as Error & { code?: string };
  error.name = 'SqliteError';
  if (reported.code !== undefined) error.code = reported.code;
  return error;
}
