import type { BaseLogger } from 'pino';
import type { BookingEvent, EventAnnouncer } from '../building/events.ts';
import { bookingEvent } from './booking-events.ts';
import type { Booking, BookingStore } from './booking-store.ts';

/**
 * Tells the moments nobody acts for: a booking starting and a booking ending (`booking-started`,
 * `booking-ended` on the building's event feed). Time alone makes them happen, so a watcher looks every
 * `scanEveryMs` at the bookings whose moment fell within the last `lookbackMs`; every API process runs one,
 * and each moment is claimed in the records before it is told (`MomentClaims`), so it is told once, by
 * whichever process claims it first, and a scan that overlaps the last one tells nothing twice. Moments
 * further back than `lookbackMs` (a process started after an outage) are not told late.
 */

export type BookingMoment = 'started' | 'ended';

export interface DueMoment {
  booking: Booking;
  moment: BookingMoment;
  /** When it happened. */
  at: number;
}

/** Only bookings still on ('booked' or 'checked_in') start or end; a released or cancelled one was told so. */
const ON: readonly Booking['status'][] = ['booked', 'checked_in'];

/**
 * Pure: the moments of these bookings in (since, now], oldest first. A booking starts at its start, or when
 * it was made if that was later (a booking of the quarter hour under way); it ends at its end.
 */
export function momentsDue(bookings: readonly Booking[], since: number, now: number): DueMoment[] {
  const due: DueMoment[] = [];
  for (const booking of bookings) {
    if (!ON.includes(booking.status)) continue;
    const startedAt = Math.max(booking.start, booking.createdAt);
    if (startedAt > since && startedAt <= now && startedAt < booking.end)
      due.push({ booking, moment: 'started', at: startedAt });
    if (booking.end > since && booking.end <= now) due.push({ booking, moment: 'ended', at: booking.end });
  }
  return due.sort((a, b) => a.at - b.at || (a.moment === b.moment ? 0 : a.moment === 'ended' ? -1 : 1));
}

/** Which moments have been told, shared by every process on the records. */
export interface MomentClaims {
  /** True for the one caller that claims this moment of this booking first; false for every later one. */
  claim(bookingId: string, moment: BookingMoment, at: number): Promise<boolean>;
  /** Forgets claims of moments before `before` (they can no longer be due); resolves to how many. */
  prune(before: number): Promise<number>;
}

export interface BookingClockOptions {
  store: Pick<BookingStore, 'listAll'>;
  claims: MomentClaims;
  events: EventAnnouncer;
  siteId: string;
  /** Default 30 s. */
  scanEveryMs?: number;
  /** How far back a scan looks (default 5 min; longer than a scan's interval, so none is missed). */
  lookbackMs?: number;
  now?: () => number;
  logger?: BaseLogger;
}

const DEFAULT_SCAN_EVERY_MS = 30_000;
const DEFAULT_LOOKBACK_MS = 5 * 60_000;
const CLAIMS_KEPT_MS = 86_400_000;

export class BookingClock {
  private readonly o: BookingClockOptions;
  private readonly now: () => number;
  private readonly lookbackMs: number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> = Promise.resolve();

  constructor(options: BookingClockOptions) {
    this.o = options;
    this.now = options.now ?? Date.now;
    this.lookbackMs = options.lookbackMs ?? DEFAULT_LOOKBACK_MS;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.scan(), this.o.scanEveryMs ?? DEFAULT_SCAN_EVERY_MS);
    this.timer.unref();
    void this.scan();
  }

  /** Stops; resolves once the scan under way is over (the records may close then). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** Tells the moments due now that no process has told; resolves to what this one told. Never rejects. */
  scan(now: number = this.now()): Promise<BookingEvent[]> {
    // One scan at a time: a slow database must not let two of this process's scans claim side by side.
    const next = this.running.then(() => this.tell(now));
    this.running = next;
    return next;
  }

  private async tell(now: number): Promise<BookingEvent[]> {
    const told: BookingEvent[] = [];
    try {
      const since = now - this.lookbackMs;
      const bookings = await this.o.store.listAll({ start: since, end: now + 1 });
      for (const due of momentsDue(bookings, since, now)) {
        if (!(await this.o.claims.claim(due.booking.id, due.moment, due.at))) continue;
        const event = bookingEvent(
          due.moment === 'started' ? 'booking-started' : 'booking-ended',
          this.o.siteId,
          due.booking,
          due.at,
        );
        this.o.events.announce(event);
        told.push(event);
      }
      await this.o.claims.prune(now - CLAIMS_KEPT_MS);
    } catch (err) {
      // A busy or closed database must not take the API down; the next scan looks again.
      this.o.logger?.warn({ err: (err as Error).message }, 'booking clock: scan failed');
    }
    return told;
  }
}
