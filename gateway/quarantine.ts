import Database from 'better-sqlite3';

/**
 * Messages the gateway could not turn into readings are kept aside here for inspection, never dropped
 * silently: unknown topics/devices and payloads the firmware would not send. Lives in SQLite
 * (DATA_DIR/gateway.db) so the API process can show it, whatever time-series backend is configured.
 *
 * A message from the journal (journal/journal.ts) is kept once by its position: the gateway decodes a
 * message again when it reads the journal again (after a crash, after the store was down), and that second
 * decoding neither adds a row nor counts it again (`add` answers false). Keyed by (seq, received_at), not by
 * seq alone, so that a journal started afresh (its directory removed) cannot hide a new message behind an
 * old row of the same position.
 */
export type QuarantineReason = 'unknown_device' | 'malformed' | 'oversized';

export interface QuarantineEntry {
  id: number;
  receivedAt: number;
  topic: string;
  /** Payload as UTF-8 text (lossy for binary payloads), cut to MAX_KEPT_BYTES. */
  payload: string;
  /** Payload size in bytes as received. */
  size: number;
  reason: QuarantineReason;
  detail: string;
  /** Device id when the topic belongs to a known device. */
  device: string | null;
}

/** Keep enough to inspect, not enough for a hostile client to fill the disk. */
const MAX_KEPT_BYTES = 4096;
/** Oldest entries are pruned beyond this many; counts keep growing. */
const MAX_ENTRIES = 10_000;

export class Quarantine {
  private readonly db: Database.Database;
  private readonly insert: Database.Statement;
  private readonly bump: Database.Statement;
  private sinceLastPrune = 0;

  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('journal_mode = WAL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS quarantine (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        received_at INTEGER NOT NULL,
        topic TEXT NOT NULL,
        payload TEXT NOT NULL,
        size INTEGER NOT NULL,
        reason TEXT NOT NULL,
        detail TEXT NOT NULL,
        device TEXT,
        seq INTEGER
      );
      CREATE TABLE IF NOT EXISTS quarantine_count (
        reason TEXT PRIMARY KEY,
        count INTEGER NOT NULL
      );`);
    // A gateway.db from before the journal has no seq column: added (its rows keep NULL, never equal).
    const columns = this.db.prepare('PRAGMA table_info(quarantine)').all() as { name: string }[];
    if (!columns.some((c) => c.name === 'seq')) this.db.exec('ALTER TABLE quarantine ADD COLUMN seq INTEGER');
    this.db.exec('CREATE UNIQUE INDEX IF NOT EXISTS quarantine_message ON quarantine (seq, received_at)');
    this.insert = this.db.prepare(
      'INSERT OR IGNORE INTO quarantine (received_at, topic, payload, size, reason, detail, device, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.bump = this.db.prepare(
      'INSERT INTO quarantine_count (reason, count) VALUES (?, 1) ON CONFLICT(reason) DO UPDATE SET count = count + 1',
    );
  }

  /**
   * Keeps the message and counts it; false when a message of the journal with this `seq` (and arrival
   * time) is kept already: nothing is added or counted again.
   */
  add(entry: {
    receivedAt: number;
    topic: string;
    payload: Buffer;
    reason: QuarantineReason;
    detail: string;
    device?: string;
    /** Its position in the journal; absent for a message that did not come through one (the history). */
    seq?: number;
  }): boolean {
    const kept = entry.payload.subarray(0, MAX_KEPT_BYTES).toString('utf8');
    const added = this.insert.run(
      entry.receivedAt,
      entry.topic.slice(0, 1024),
      kept,
      entry.payload.length,
      entry.reason,
      entry.detail.slice(0, 1024),
      entry.device ?? null,
      entry.seq ?? null,
    );
    if (added.changes === 0) return false;
    this.bump.run(entry.reason);
    if (++this.sinceLastPrune >= 1000) this.prune();
    return true;
  }

  counts(): Record<string, number> {
    const rows = this.db.prepare('SELECT reason, count FROM quarantine_count').all() as {
      reason: string;
      count: number;
    }[];
    return Object.fromEntries(rows.map((r) => [r.reason, r.count]));
  }

  list(options: { limit?: number; beforeId?: number; device?: string } = {}): QuarantineEntry[] {
    const limit = Math.min(Math.max(options.limit ?? 100, 1), 1000);
    const rows = this.db
      .prepare(
        `SELECT id, received_at AS receivedAt, topic, payload, size, reason, detail, device FROM quarantine
         WHERE (@beforeId IS NULL OR id < @beforeId) AND (@device IS NULL OR device = @device)
         ORDER BY id DESC LIMIT @limit`,
      )
      .all({ beforeId: options.beforeId ?? null, device: options.device ?? null, limit });
    return rows as QuarantineEntry[];
  }

  private prune(): void {
    this.sinceLastPrune = 0;
    this.db
      .prepare('DELETE FROM quarantine WHERE id <= (SELECT MAX(id) FROM quarantine) - ?')
      .run(MAX_ENTRIES);
  }

  close(): void {
    this.db.close();
  }
}
