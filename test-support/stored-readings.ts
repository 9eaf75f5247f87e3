import fs from 'node:fs';
import Database from 'better-sqlite3';

/**
 * The power readings a gateway stored in its embedded store (DATA_DIR/readings.db), read on a connection of
 * the test's own: a durability test counts them, one row per message. [] while the file or table is not there.
 */
export function storedPower(file: string): { device: string; num: number; ts: number }[] {
  if (!fs.existsSync(file)) return [];
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return db
      .prepare("SELECT device, num, ts FROM reading WHERE quantity = 'power' ORDER BY device, ts")
      .all() as { device: string; num: number; ts: number }[];
  } catch {
    return [];
  } finally {
    db.close();
  }
}

/** Resolves once `probe` holds (asked every 100 ms); rejects after `ms`, naming `what`. */
export async function until(
  what: string,
  probe: () => boolean | Promise<boolean>,
  ms = 180_000,
): Promise<void> {
  const end = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Each of `sent` (the readings' values) stored once: which are missing and which are there more than once. */
export function countStored(
  rows: { num: number }[],
  sent: number[],
): { missing: number[]; twice: number[]; rows: number } {
  const times = new Map<number, number>();
  for (const r of rows) times.set(r.num, (times.get(r.num) ?? 0) + 1);
  return {
    missing: sent.filter((v) => !times.has(v)),
    twice: [...times].filter(([, n]) => n > 1).map(([v]) => v),
    rows: rows.length,
  };
}
