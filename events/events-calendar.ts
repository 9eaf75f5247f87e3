import ical, { ICalEventStatus } from 'ical-generator';
import type { SiteConfig } from '../site/site.ts';
import type { EventDate } from './event-rules.ts';

/**
 * The public events as an iCalendar feed anyone can subscribe to: one VEVENT per date (a calendar app shows
 * each date of a series, moved or skipped ones included, exactly as the house holds them). Titles,
 * descriptions, rooms and times only: never who organises or who signed up.
 */
export function eventsCalendar(site: SiteConfig, dates: readonly EventDate[], now: number): string {
  const spaces = new Map(site.spaces.map((s) => [s.id, s]));
  const calendar = ical({
    name: `${site.site.name}: Veranstaltungen / events`,
    prodId: { company: 'WeSprint', product: 'WeSprint OS', language: 'DE' },
    ttl: 60 * 60,
  });
  for (const d of dates) {
    const space = spaces.get(d.spaceId);
    calendar.createEvent({
      id: `${d.eventId}-${new Date(d.start).toISOString()}@${site.site.id}.wesprint`,
      start: new Date(d.start),
      end: new Date(d.end),
      stamp: new Date(now),
      summary: d.title,
      description: d.description,
      location: [space?.name ?? d.spaceId, site.site.name, site.site.address].filter(Boolean).join(', '),
      status: ICalEventStatus.CONFIRMED,
    });
  }
  return calendar.toString();
}
