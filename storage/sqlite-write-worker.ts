import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { columnsWriter } from './sqlite-store.ts';
import type { WriteAnswer, WriteRequest } from './sqlite-write-thread.ts';

/**
 * The embedded store's write thread (storage/sqlite-write-thread.ts says why and what it promises): one
 * connection to the store's file, opened after the store's own connection created the schema, taking write
 * requests one at a time in the order they came and answering each once its transaction committed.
 */
const port = parentPort;
if (!port) throw new Error('sqlite-write-worker runs as a worker thread');
const { file } = workerData as { file: string };

const db = new Database(file);
// The store's 5 s, as its own connection had: a lock held longer (another process, a maintain() rolling up a
// large building's hour) fails the batch, and the gateway reads it again from the journal after its backoff
// (`npm run bench -- --only faults` takes the store away by holding this lock for longer than that).
db.pragma('busy_timeout = 5000');
// Per connection (journal_mode = WAL is the file's, set by the store's connection). FULL: each committed batch
// is fsync'd in the WAL before the gateway's cursor moves past it, and the journal deletes a segment once the
// cursor is past it; with NORMAL a power cut could lose batches committed since the last checkpoint after
// their journal segment was gone. One fsync per batch of up to 10,000 readings: no difference in CPU per
// message showed in `ingest-references` (2026-12-07, load 1.2-1.7, two alternating bench runs a side).
db.pragma('synchronous = FULL');
// Copy the WAL back into the file every 10,000 pages (~40 MB) rather than SQLite's 1,000: consecutive batches
// touch the same pages of the `reading` B-tree, and each checkpoint writes a page once however often it
// changed. 40,000 Tasmota messages in batches of 10,000 readings: 26-28 -> 24-25 µs CPU per message, 5,000:
// 34 -> 29-30 (one thread, one file).
db.pragma('wal_autocheckpoint = 10000');
// A batch adds a reading or a few to the last leaf page of each of its series: those pages and the B-tree's
// inner pages are what the thread reads again batch after batch. SQLite's default cache (2 MiB, ~500 pages)
// holds the pages of fewer series than a large building has (the bench's 500 devices: ~1,750 series), and
// each miss is a read from the file; 32 MiB holds ~8,000 series' pages. Synthetic batches of 3,500 series
// in a scattered order: 6.6-7.5 -> 4.2-5.0 µs CPU per reading at a million readings; at the bench's size
// (360,000) the difference was within the runs' spread (2026-12-07).
db.pragma('cache_size = -32768');
const write = columnsWriter(db);

port.on('message', (request: WriteRequest) => {
  if (request.kind === 'close') {
    db.close();
    port.close();
    return;
  }
  let answer: WriteAnswer;
  try {
    write(request.readings);
    answer = { id: request.id };
  } catch (error) {
    const e = error as Error & { code?: unknown };
    answer = {
      id: request.id,
      error: { message: e.message, ...(typeof e.code === 'string' ? { code: e.code } : {}) },
    };
  }
  port.postMessage(answer);
});
