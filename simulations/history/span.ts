import { DAY_MS } from '../physics.ts';
import { BackfillError } from './backfill-error.ts';

/** How far back a history reaches and how finely: the span and the step a person writes (`400d`, `1h`). */

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
/**
 * 13 whole months before the current one and its days so far (at most 31 + 365 + 31): the board report's
 * default period, the last complete month, then has its same month a year earlier complete.
 */
export const DEFAULT_BACKFILL_DAYS = 430;
export const DEFAULT_STEP_MS = HOUR_MS;
export const MIN_SPAN_MS = HOUR_MS;
/** Three years: enough for a year-on-year comparison of last year. */
export const MAX_SPAN_MS = 1096 * DAY_MS;
/** Quarter hours, so that bookings can start at a reading instant; at most an hour, so that presence is seen. */
export const STEP_CHOICES_MS = [15, 30, 45, 60].map((m) => m * MINUTE_MS);

/** `400d`, `36h` → ms; the units a person writes for a span of history. */
export function parseSpan(text: string, what = '--backfill'): number {
  const m = /^(\d+)\s*([hd])$/i.exec(text.trim());
  if (!m) throw new BackfillError(`${what} "${text}": write a number of days or hours, e.g. 400d or 36h`);
  const n = Number(m[1]);
  const ms = n * ((m[2] as string).toLowerCase() === 'd' ? DAY_MS : HOUR_MS);
  if (ms < MIN_SPAN_MS || ms > MAX_SPAN_MS)
    throw new BackfillError(`${what} "${text}": between 1h and ${MAX_SPAN_MS / DAY_MS}d`);
  return ms;
}

/** `15m`, `30m`, `1h` → ms. */
export function parseStep(text: string): number {
  const m = /^(\d+)\s*([mh])$/i.exec(text.trim());
  const ms = m ? Number(m[1]) * ((m[2] as string).toLowerCase() === 'h' ? HOUR_MS : MINUTE_MS) : Number.NaN;
  if (!STEP_CHOICES_MS.includes(ms)) throw new BackfillError(`--step "${text}": one of 15m, 30m, 45m, 1h`);
  return ms;
}
