import { performance } from 'node:perf_hooks';

/**
 * What a live-latency measurement still waits for on `/api/live`: per device, its published messages in
 * order, each with the instant of its publish call and the quantities whose readings are still due. A reading
 * event settles the oldest message of its device that still owes that quantity; one nobody asked for is
 * counted as extra (sent twice, or never published). Latencies are kept of the messages published while
 * `timing` was on.
 */
export class LiveLedger {
  readonly latencies: number[] = [];
  /** Each timed latency's message's publish instant (performance.now()), in the same order. */
  readonly publishedAt: number[] = [];
  timing = false;
  received = 0;
  extra = 0;
  outstanding = 0;
  private readonly pending = new Map<string, { at: number; due: Set<string>; timed: boolean }[]>();
  private progress: (() => void) | undefined;

  /** A message of `device` published now, carrying readings of `quantities`. */
  published(device: string, quantities: readonly string[], at = performance.now()): void {
    const queue = this.pending.get(device) ?? [];
    this.pending.set(device, queue);
    // Timed or not as published: one published before timing began and arriving after is not counted.
    queue.push({ at, due: new Set(quantities), timed: this.timing });
    this.outstanding += quantities.length;
  }

  /** One WebSocket message of `/api/live`. */
  socketMessage(data: unknown): void {
    const at = performance.now();
    const event = JSON.parse(String(data)) as { type: string; device?: string; quantity?: string };
    if (event.type !== 'reading' || event.device === undefined || event.quantity === undefined) return;
    this.arrived(event.device, event.quantity, at);
  }

  /**
   * `item` of `device` arrived at `at` (performance.now()): settles the oldest message of the device that
   * still owes it. The live bench's baseline takes a topic for the device and the message for its item.
   */
  arrived(device: string, item: string, at = performance.now()): void {
    const queue = this.pending.get(device);
    const entry = queue?.find((p) => p.due.has(item));
    if (queue === undefined || entry === undefined) {
      this.extra++;
    } else {
      entry.due.delete(item);
      this.outstanding--;
      if (entry.timed) {
        this.received++;
        this.latencies.push(at - entry.at);
        this.publishedAt.push(entry.at);
      }
      while (queue[0] && queue[0].due.size === 0) queue.shift();
    }
    this.progress?.();
  }

  /** Forgets everything still due (a probe that got lost on the way). */
  forget(): void {
    this.pending.clear();
    this.outstanding = 0;
  }

  /** Resolves once nothing is due; rejects when `stallMs` pass without a reading arriving. */
  drained(what: string, stallMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const check = () => {
        if (this.outstanding > 0) {
          timer?.refresh();
          return;
        }
        clearTimeout(timer);
        this.progress = undefined;
        resolve();
      };
      timer = setTimeout(() => {
        this.progress = undefined;
        reject(
          new Error(`${what}: ${this.outstanding} readings never reached the socket (${stallMs} ms still)`),
        );
      }, stallMs);
      this.progress = check;
      check();
    });
  }
}
