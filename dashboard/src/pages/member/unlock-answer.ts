/**
 * What the door did, as the phone shows it. The API answers every unlock with one shape (`result`, and
 * `reason` when refused) whatever the HTTP status, so this reads the body of a success and of a failure
 * alike. Pure, so the reading is tested without a door.
 */

export type DoorOutcome =
  | { kind: 'opened' }
  | { kind: 'refused'; reason: string }
  | { kind: 'lock_offline' }
  | { kind: 'timeout' }
  | { kind: 'failed' }
  | { kind: 'rate_limited'; seconds: number | null }
  | { kind: 'signed_out' }
  | { kind: 'error'; detail: string };

/** The refusal reasons the page has words for; others are shown by their code. */
export const KNOWN_REFUSALS = [
  'no_booking',
  'outside_booking',
  'not_your_space',
  'no_lock',
  'not_bookable',
  'not_open_to_guests',
] as const;

export function doorOutcome(status: number, body: unknown): DoorOutcome {
  const answer = body && typeof body === 'object' ? (body as Record<string, unknown>) : {};
  const text = (key: string) => (typeof answer[key] === 'string' ? (answer[key] as string) : undefined);
  if (status === 401) return { kind: 'signed_out' };
  switch (text('result')) {
    case 'unlocked':
      return { kind: 'opened' };
    case 'denied':
      return { kind: 'refused', reason: text('reason') ?? 'unknown' };
    case 'lock_offline':
      return { kind: 'lock_offline' };
    case 'timeout':
      return { kind: 'timeout' };
    case 'failed':
      return { kind: 'failed' };
    case 'rate_limited':
      return {
        kind: 'rate_limited',
        seconds: typeof answer.retryAfterS === 'number' ? answer.retryAfterS : null,
      };
  }
  return { kind: 'error', detail: text('message') ?? `HTTP ${status}` };
}
