import { isoWeekday } from '../../../../site/local-time.ts';

/**
 * What a series can repeat on, from the first date the member picked: the weekday of that date weekly or
 * every n weeks, or its place in the month ("the 2nd Thursday"; "the last Thursday" only when it is one).
 * Pure: the page turns the choice into the body of POST /api/booking-series(/preview).
 */

export type Repeat = 'week' | 'weeks' | 'month_nth' | 'month_last';

export interface MonthPlace {
  /** ISO weekday of the date, 1 Monday … 7 Sunday. */
  weekday: number;
  /** 1 … 5: the date is the nth of its weekday in the month. */
  nth: number;
  /** No later date of that weekday in the month. */
  isLast: boolean;
}

export function monthPlace(dayKey: string): MonthPlace | null {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(dayKey);
  if (!match) return null;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  return {
    weekday: isoWeekday({ year, month, day }),
    nth: Math.ceil(day / 7),
    isLast: day + 7 > daysInMonth,
  };
}

/** The repeats offered for a first date: "the 5th Thursday" does not exist every month, so only "last" then. */
export function repeatChoices(dayKey: string): Repeat[] {
  const place = monthPlace(dayKey);
  if (!place) return ['week', 'weeks'];
  const choices: Repeat[] = ['week', 'weeks'];
  if (place.nth <= 4) choices.push('month_nth');
  if (place.isLast) choices.push('month_last');
  return choices;
}

export interface SeriesForm {
  spaceId: string;
  firstDate: string;
  start: string;
  end: string;
  repeat: Repeat;
  interval: number;
  endsBy: 'until' | 'count';
  until: string;
  count: number;
}

/** The API's body for a series (without onConflict). */
export function seriesBody(form: SeriesForm): Record<string, unknown> {
  const place = monthPlace(form.firstDate);
  const body: Record<string, unknown> = {
    spaceId: form.spaceId,
    firstDate: form.firstDate,
    start: form.start,
    end: form.end,
  };
  if (form.repeat === 'week' || form.repeat === 'weeks' || !place) {
    body.every = 'week';
    body.interval = form.repeat === 'weeks' ? form.interval : 1;
  } else {
    body.every = 'month';
    body.ordinal = form.repeat === 'month_last' ? -1 : place.nth;
    body.weekday = place.weekday;
  }
  if (form.endsBy === 'until') body.until = form.until;
  else body.count = form.count;
  return body;
}

/** A date of a series a member changes the series from (its booking, as the member's list has it). */
export interface ChangeFrom {
  seriesId: string;
  /** The date's local start in the series (`YYYY-MM-DDTHH:MM`), the `from` of the change. */
  occurrence: string;
  spaceId: string;
  /** The booking's length, in minutes (a moved date keeps its series' place, not always its time). */
  durationMinutes: number;
  /** In a network: the house the series is in (the form changes it there, on that house's clock). */
  site?: string | undefined;
}

/**
 * The form filled for "change from this date on": the date's room, its day as the first date (the changed
 * series may not start before it) and its time in the series; repeat and end are the member's to choose.
 */
export function changeFormStart(
  from: ChangeFrom,
): Pick<SeriesForm, 'spaceId' | 'firstDate' | 'start' | 'end'> {
  const start = from.occurrence.slice(11, 16);
  const [h, m] = start.split(':').map(Number) as [number, number];
  const endMinute = Math.min(h * 60 + m + from.durationMinutes, 24 * 60);
  const pad = (n: number) => String(n).padStart(2, '0');
  return {
    spaceId: from.spaceId,
    firstDate: from.occurrence.slice(0, 10),
    start,
    end: `${pad(Math.floor(endMinute / 60))}:${pad(endMinute % 60)}`,
  };
}
