import { calendarFieldsExist } from '../site/local-time.ts';

/**
 * Instants and bucket widths as people type them into a URL. Pure, so the rules are tested on their own.
 */

const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?$/;
const ISO_OFFSET = /(Z|[+-]\d{2}:?\d{2})$/;
const EPOCH_MS = /^\d{1,15}$/;

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

/**
 * ISO 8601 (`2026-11-03`, `2026-11-03T08:00Z`, `2026-11-03T08:00:00+01:00`) or epoch milliseconds.
 * A date-time without offset is refused: read as local time it would silently shift by the server's zone.
 */
export function parseInstant(text: string): Parsed<number> {
  if (EPOCH_MS.test(text)) return { ok: true, value: Number(text) };
  if (ISO_DATE.test(text) || ISO_DATE_TIME.test(text)) {
    if (!ISO_DATE.test(text) && !ISO_OFFSET.test(text))
      return { ok: false, reason: `"${text}" needs a time zone (Z or an offset such as +01:00)` };
    const value = Date.parse(text);
    if (Number.isNaN(value) || !calendarFieldsExist(text))
      return { ok: false, reason: `"${text}" is not a valid date` };
    return { ok: true, value };
  }
  return { ok: false, reason: `"${text}" is neither ISO 8601 nor epoch milliseconds` };
}

export const BUCKET_PATTERN = '^[1-9][0-9]{0,5}(s|m|h|d|w)$';
const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;

/** `30s`, `5m`, `1h`, `1d`, `1w` to milliseconds. */
export function parseBucket(text: string): Parsed<number> {
  const match = /^([1-9][0-9]{0,5})(s|m|h|d|w)$/.exec(text);
  if (!match) return { ok: false, reason: `bucket "${text}" must look like 30s, 5m, 1h, 1d or 1w` };
  return { ok: true, value: Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS] };
}

/** Buckets are aligned to epoch multiples of the width (storage contract), so a range can touch one more. */
export function bucketCount(from: number, to: number, bucketMs: number): number {
  return Math.floor((to - 1) / bucketMs) - Math.floor(from / bucketMs) + 1;
}
