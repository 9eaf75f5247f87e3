import { ApiFailure } from '../../api-client.ts';
import { failureDetail } from './member-api.ts';
import { describeWhen, type MemberTextKey, t } from './member-texts.ts';

/** The booking rules' refusals the member page has its own words for (bookings/booking-rules.ts). */
const REFUSALS = [
  'invalid_time',
  'space_not_bookable',
  'end_not_after_start',
  'not_on_quarter_hour',
  'start_in_past',
  'too_far_ahead',
  'too_long',
  'outside_opening_hours',
  'slot_taken',
  'not_open_to_guests',
];

/**
 * Why the API refused a booking or a move, in the member's words: the taken time when the API names it,
 * else the rule that was broken, else the API's own message. `frame` says what was refused.
 */
export function refusalText(err: unknown, timeZone: string, frame: 'bookFailed' | 'moveFailed'): string {
  if (!(err instanceof ApiFailure)) return t(frame, { detail: failureDetail(err, t('noConnection')) });
  const body = err.body && typeof err.body === 'object' ? (err.body as Record<string, unknown>) : {};
  const conflict = body.conflict as { start?: string; end?: string } | undefined;
  if (err.status === 409 && conflict?.start && conflict.end) {
    return t(frame === 'bookFailed' ? 'bookConflict' : 'moveConflict', {
      when: describeWhen(Date.parse(conflict.start), Date.parse(conflict.end), timeZone),
    });
  }
  const reason = typeof body.reason === 'string' ? body.reason : '';
  if (REFUSALS.includes(reason)) return t(frame, { detail: t(`refusal_${reason}` as MemberTextKey) });
  return t(frame, { detail: err.message });
}
