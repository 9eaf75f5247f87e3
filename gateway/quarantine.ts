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
 *
 * In a network (SITES_DIR) a message whose topic names a device is its device's site's: it is kept and counted
 * with that site (`site`), since device ids repeat between houses and each house's facility manager sees their
 * own. A message whose topic names no device of any house (an unknown topic) is the installation's, counted
 * apart (`unattributed`) and shown to every house as such. Counts from before messages were counted per site
 * are the installation's too.
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
  /** Device id when the topic belongs to a known device (its key: `<site>/<device>` in a network). */
  device: string | null;
  /** The site of that device; null when the topic names no device of any site (the installation's). */
  site: string | null;
}

/** Counts by reason, all time. */
export type QuarantineCounts = Record<string, number>;

/** Keep enough to inspect, not enough for a hostile client to fill the disk. */
const MAX_KEPT_BYTES = 4096;
/** Oldest entries are pruned beyond this many; counts keep growing. */
const MAX_ENTRIES = 10_000;

export class Quarantine {
  private readonly db: Database.Database;
  private readonly insert: Database.Statement;
  private readonly bump: Database.Statement;
  private readonly bumpSite: Database.Statement;
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
    // Counts per site ('' for a message whose topic names no device: the installation's). A gateway.db from
    // before gets its counts so far as the installation's: nobody knows whose they were.
    this.db.transaction(() => {
      const had = this.db
        .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'quarantine_site_count'")
        .get();
      if (had) return;
      this.db.exec(`CREATE TABLE quarantine_site_count (
        site TEXT NOT NULL,
        reason TEXT NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (site, reason)
      )`);
      this.db.exec(
        `INSERT INTO quarantine_site_count (site, reason, count) SELECT '', reason, count FROM quarantine_count`,
      );
    })();
    // A gateway.db from before the journal has no seq column: added (its rows keep NULL, never equal).
    const columns = this.db.prepare('PRAGMA table_info(quarantine)').all() as { name: string }[];
    if (!columns.some((c) => c.name === 'seq')) this.db.exec('ALTER TABLE quarantine ADD COLUMN seq INTEGER');
    // Nor a site column: its rows keep NULL (the installation's).
    if (!columns.some((c) => c.name === 'site')) this.db.exec('ALTER TABLE quarantine ADD COLUMN site TEXT');
    this.db.exec('CREATE UNIQUE INDEX IF NOT EXISTS quarantine_message ON quarantine (seq, received_at)');
    this.insert = this.db.prepare(
      'INSERT OR IGNORE INTO quarantine (received_at, topic, payload, size, reason, detail, device, seq, site) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.bump = this.db.prepare(
      'INSERT INTO quarantine_count (reason, count) VALUES (?, 1) ON CONFLICT(reason) DO UPDATE SET count = count + 1',
    );
    this.bumpSite = this.db.prepare(
      'INSERT INTO quarantine_site_count (site, reason, count) VALUES (?, ?, 1) ON CONFLICT(site, reason) DO UPDATE SET count = count + 1',
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
    /** The site of the device its topic names; absent when it names none. */
    site?: string;
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
      entry.site ?? null,
    );
    if (added.changes === 0) return false;
    this.bump.run(entry.reason);
    this.bumpSite.run(entry.site ?? '', entry.reason);
    if (++this.sinceLastPrune >= 1000) this.prune();
    return true;
  }

  /** The installation's counts by reason, every site's and none's. */
  counts(): QuarantineCounts {
    const rows = this.db.prepare('SELECT reason, count FROM quarantine_count').all() as {
      reason: string;
      count: number;
    }[];
    return Object.fromEntries(rows.map((r) => [r.reason, r.count]));
  }

  /**
   * What one site's facility manager looks at: the messages of that site's devices (`own`) and those whose
   * topic names no device of any site (`unattributed`: the installation's, the same for every site).
   */
  countsFor(site: string): { own: QuarantineCounts; unattributed: QuarantineCounts } {
    const rows = this.db
      .prepare("SELECT site, reason, count FROM quarantine_site_count WHERE site IN (?, '')")
      .all(site) as { site: string; reason: string; count: number }[];
    const of = (which: string) =>
      Object.fromEntries(rows.filter((r) => r.site === which).map((r) => [r.reason, r.count]));
    return { own: site === '' ? {} : of(site), unattributed: of('') };
  }

  /** `site`: that site's and the installation's (no site) only. */
  list(
    options: { limit?: number; beforeId?: number; device?: string; site?: string } = {},
  ): QuarantineEntry[] {
    const limit = Math.min(Math.max(options.limit ?? 100, 1), 1000);
    const rows = this.db
      .prepare(
        `SELECT id, received_at AS receivedAt, topic, payload, size, reason, detail, device, site FROM quarantine
         WHERE (@beforeId IS NULL OR id < @beforeId) AND (@device IS NULL OR device = @device)
           AND (@site IS NULL OR site IS NULL OR site = @site)
         ORDER BY id DESC LIMIT @limit`,
      )
      .all({
        beforeId: options.beforeId ?? null,
        device: options.device ?? null,
        site: options.site ?? null,
        limit,
      });
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
