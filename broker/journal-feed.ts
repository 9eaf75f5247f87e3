import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { encodeForwardedEntry } from '../journal/forwarded-entry.ts';
import type { MessageJournal } from '../journal/journal.ts';

/**
 * A stand-alone `wesprint broker`'s journal, forwarded to the gateway (issue 10, the split shape): every
 * committed entry, in journal order, goes out as a QoS 1 message on the site's feed topic
 * (journal/forwarded-entry.ts), routed like any other message, so the gateway's persistent session queues it
 * while the gateway is away. The journal's cursor `FEED_CONSUMER` moves past an entry once its routing has
 * finished (its queue entries stored): a broker killed before that forwards it again after its restart,
 * with the same origin, position and arrival time, which the gateway's journal recognises. Read from the
 * journal after its commit rather than routed at arrival: routing keeps arrival order and holds each QoS 1
 * message until its append resolved, so a forwarding that the device's own message waited for would wait
 * behind it.
 */

export const FEED_CONSUMER = 'feed';
/** Entries forwarded per round: routed together, then the cursor moves. */
const BATCH = 500;
const RETRY_MS = 1000;

export interface JournalFeed {
  /**
   * Resolves once the entry at `seq` has been forwarded (routed: queued for the gateway's session, in Redis on a
   * node of a cluster); rejects when the feed stops first. The broker's PUBACK to a device waits for it, so an
   * acknowledged message is not only on this broker's disk but where the gateway gets it, even if this
   * broker never comes back (a node of a cluster killed for good).
   */
  forwarded(seq: number): Promise<void>;
  /** Stops forwarding; resolves once the round under way has been routed (or failed). */
  stop(): Promise<void>;
}

/**
 * The broker journal's name, kept in its data dir (made once, `<site>-<random>`): the origin of what it
 * forwards. Each broker, and each node of a cluster, has its own journal and so its own name.
 */
export function journalOrigin(dataDir: string, siteId: string): string {
  const file = path.join(dataDir, 'broker-journal-origin');
  try {
    const kept = fs.readFileSync(file, 'utf8').trim();
    if (kept) return kept;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const origin = `${siteId.slice(0, 64)}-${crypto.randomBytes(6).toString('hex')}`;
  fs.writeFileSync(file, `${origin}\n`, { mode: 0o600 });
  return origin;
}

export function startJournalFeed(options: {
  journal: MessageJournal;
  origin: string;
  topic: string;
  /** Routes one QoS 1 message as the broker routes any (arrival order, queues of persistent sessions). */
  publish(topic: string, payload: Buffer, done: (err?: Error) => void): void;
  logger: Logger;
}): JournalFeed {
  const { journal, origin, topic, logger } = options;
  let stopping = false;
  // An AbortSignal, not a promise raced against each wait: a race leaves a reaction on the stop promise per
  // turn of the loop until the stop (journal/journal.ts waitFor).
  const stopRequest = new AbortController();
  /** Everything up to here has been routed. */
  let through = journal.cursor(FEED_CONSUMER);
  let waiters: { seq: number; resolve: () => void; reject: (err: Error) => void }[] = [];
  const route = (payload: Buffer) =>
    new Promise<void>((resolve, reject) =>
      options.publish(topic, payload, (err) => (err ? reject(err) : resolve())),
    );

  const loop = async () => {
    let after = journal.cursor(FEED_CONSUMER);
    let failures = 0;
    while (!stopping) {
      const entries = await journal.read(after, BATCH);
      if (entries.length === 0) {
        await journal.waitFor(after, stopRequest.signal);
        continue;
      }
      try {
        await Promise.all(entries.map((entry) => route(encodeForwardedEntry(origin, entry))));
      } catch (err) {
        // The broker's store refused (closing, a disk error): the same entries again, later.
        if (stopping) return;
        if (failures++ % 60 === 0)
          logger.error({ err: (err as Error).message, after }, 'forwarding the journal failed; retrying');
        await sleep(RETRY_MS, undefined, { signal: stopRequest.signal }).catch(() => {});
        continue;
      }
      failures = 0;
      after = (entries.at(-1) as { seq: number }).seq;
      journal.advance(FEED_CONSUMER, after);
      through = after;
      if (waiters.length > 0) {
        const still: typeof waiters = [];
        for (const w of waiters) {
          if (w.seq <= through) w.resolve();
          else still.push(w);
        }
        waiters = still;
      }
    }
  };
  const running = loop().catch((err: Error) => {
    logger.error({ err: err.message }, 'the journal feed stopped');
  });
  return {
    forwarded(seq) {
      if (seq <= through) return Promise.resolve();
      if (stopping) return Promise.reject(new Error('the journal feed stopped'));
      return new Promise((resolve, reject) => waiters.push({ seq, resolve, reject }));
    },
    async stop() {
      stopping = true;
      stopRequest.abort();
      await running;
      const stopped = new Error('the journal feed stopped');
      for (const w of waiters.splice(0)) w.reject(stopped);
    },
  };
}
