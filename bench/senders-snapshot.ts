import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { contentHash, SendersMessages } from '../journal/retransmission.ts';
import { readSendersSnapshot, restoredMessage, writeSendersSnapshot } from '../journal/senders-snapshot.ts';

/**
 * What the journal's senders snapshot costs (journal/senders-snapshot.ts): each sender's last 64 messages,
 * as the journal remembers them when full, written and read back. The write runs on the event loop the
 * broker serves its devices from, in chunks: the figure that matters besides its time is the longest turn
 * of the loop it takes (another part's messages wait that long). Read and restore happen once, on open.
 */

export interface SnapshotSample {
  senders: number;
  messages: number;
  bytes: number;
  writeMs: number;
  /** The longest the event loop was held while the snapshot was written. */
  longestTurnMs: number;
  /** Reading the file and restoring every sender's messages, as open does. */
  restoreMs: number;
}

export interface SendersSnapshotResult {
  ok: boolean;
  runs: number;
  /** Medians per sender count. */
  samples: SnapshotSample[];
}

const PER_SENDER = 64;

/** Each of `senders` devices with its last 64 messages known, as after a while of operation. */
function fullMemory(senders: number): SendersMessages {
  const memory = new SendersMessages(200_000, PER_SENDER, 20_000);
  let seq = 0;
  for (let id = 1; id <= PER_SENDER; id++)
    for (let s = 0; s < senders; s++) {
      seq++;
      memory.set(`shellyplug-s-${String(s).padStart(6, '0')}`, id, {
        hash: contentHash(Buffer.from(`shellies/plug-${s}/relay/0/power {"power":${seq}}`)),
        connection: 1,
        seq,
      });
    }
  return memory;
}

async function sample(senders: number, dir: string): Promise<SnapshotSample> {
  const memory = fullMemory(senders);
  const seq = senders * PER_SENDER;
  let longestTurnMs = 0;
  let ticking = true;
  let last = performance.now();
  const tick = () => {
    const now = performance.now();
    longestTurnMs = Math.max(longestTurnMs, now - last);
    last = now;
    if (ticking) setImmediate(tick);
  };
  setImmediate(tick);
  const started = performance.now();
  const written = await writeSendersSnapshot(dir, seq, memory.bySender());
  const writeMs = performance.now() - started;
  ticking = false;

  const readStarted = performance.now();
  const snapshot = await readSendersSnapshot(dir);
  const restored = new SendersMessages(200_000, PER_SENDER, 20_000);
  for (const sender of snapshot?.senders ?? [])
    for (const message of sender.messages)
      restored.restoreOwn(sender.clientId, message.messageId, restoredMessage(message));
  const restoreMs = performance.now() - readStarted;
  if (written.messages !== seq || restored.size !== seq)
    throw new Error(`wrote ${written.messages} and restored ${restored.size} of ${seq} messages`);
  return { senders, messages: written.messages, bytes: written.bytes, writeMs, longestTurnMs, restoreMs };
}

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

export async function benchSendersSnapshot(
  senderCounts: number[],
  runs: number,
  log: (line: string) => void = console.log,
): Promise<SendersSnapshotResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-bench-snapshot-'));
  try {
    const samples: SnapshotSample[] = [];
    for (const senders of senderCounts) {
      const taken: SnapshotSample[] = [];
      for (let run = 0; run < runs; run++) {
        const s = await sample(senders, dir);
        log(
          `senders snapshot, ${senders} senders, run ${run + 1}: write ${s.writeMs.toFixed(0)} ms ` +
            `(longest turn ${s.longestTurnMs.toFixed(1)} ms), read + restore ${s.restoreMs.toFixed(0)} ms`,
        );
        taken.push(s);
      }
      const first = taken[0] as SnapshotSample;
      samples.push({
        senders,
        messages: first.messages,
        bytes: first.bytes,
        writeMs: median(taken.map((s) => s.writeMs)),
        longestTurnMs: median(taken.map((s) => s.longestTurnMs)),
        restoreMs: median(taken.map((s) => s.restoreMs)),
      });
    }
    return { ok: true, runs, samples };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export function describeSendersSnapshot(result: SendersSnapshotResult): string[] {
  return result.samples.map(
    (s) =>
      `senders snapshot (median of ${result.runs}): ${s.senders} senders × ${PER_SENDER} = ${s.messages} messages, ` +
      `${(s.bytes / 1e6).toFixed(1)} MB, written in ${s.writeMs.toFixed(0)} ms (the event loop held at most ` +
      `${s.longestTurnMs.toFixed(1)} ms at once), read and restored in ${s.restoreMs.toFixed(0)} ms`,
  );
}
