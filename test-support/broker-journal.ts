import path from 'node:path';
import type { JournalEntry, MessageJournal } from '../journal/journal.ts';
import { spawnNode, type WesprintService } from './wesprint-process.ts';

/** Helpers for the tests of the broker's journal (broker/device-journal.test.ts). */

/** The journal with its append replaced (to hold or fail it), everything else the journal's own. */
export function withAppend(journal: MessageJournal, append: MessageJournal['append']): MessageJournal {
  return {
    append,
    committed: () => journal.committed(),
    read: (after, limit) => journal.read(after, limit),
    waitFor: (after, stop, appendedAfter) => journal.waitFor(after, stop, appendedAfter),
    uncommitted: (after) => journal.uncommitted(after),
    cursor: (consumer) => journal.cursor(consumer),
    advance: (consumer, seq) => journal.advance(consumer, seq),
    stats: () => journal.stats(),
    close: () => journal.close(),
  };
}

/** Every committed entry, in order. */
export async function allEntries(journal: MessageJournal): Promise<JournalEntry[]> {
  const entries: JournalEntry[] = [];
  for (;;) {
    const batch = await journal.read(entries.at(-1)?.seq ?? 0, 10_000);
    if (batch.length === 0) return entries;
    entries.push(...batch);
  }
}

/** Every entry once the journal holds at least `count`. */
export async function journaled(journal: MessageJournal, count: number): Promise<JournalEntry[]> {
  while (journal.committed() < count) await journal.waitFor(journal.committed());
  return allEntries(journal);
}

const PROCESS_SCRIPT = path.resolve(import.meta.dirname, 'journaled-broker-process.ts');

/**
 * `journaled-broker-process.ts` (the broker of `wesprint start` with its journal, lab mode) in a child
 * process; whoever starts it ends it (`killWesprint`, `stop`).
 */
export function spawnJournaledBroker(env: {
  DATA_DIR: string;
  PORT?: string;
  ACK_ONLY?: string;
  JOURNAL_OPTIONS?: string;
  STORE_LOG?: string;
}): WesprintService {
  return spawnNode(['--import', 'tsx', PROCESS_SCRIPT], env);
}
