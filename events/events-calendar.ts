import ical, { ICalEventStatus } from 'ical-generator';
import type { SiteConfig } from '../site/site.ts';
import type { EventDate } from './event-rules.ts';

/**
 * The public events as an iCalendar feed anyone can subscribe to: one VEVENT per date (a calendar app shows
 * each date of a series, moved or skipped ones included, exactly as the house holds them). Titles,
 * descriptions, rooms, houses and times only: never who organises or who signed up.
 */
export function eventsCalendar(
  site: SiteConfig,
  dates: readonly EventDate[],
  now: number,
  /** The network's houses by id: each date's room and address are its own house's (default: `site` alone). */
  houses: ReadonlyMap<string, SiteConfig> = new Map([[site.site.id, site]]),
): string {
  const calendar = ical({
    name: `${site.site.name}: Veranstaltungen / events`,
    prodId: { company: 'WeSprint', product: 'WeSprint OS', language: 'DE' },
    ttl: 60 * 60,
  });
  for (const d of dates) {
    const house = (d.site !== null ? houses.get(d.site) : undefined) ?? site;
    const space = house.spaces.find((s) => s.id === d.spaceId);
    calendar.createEvent({
      // The uid stays as it was for the home site's dates (calendar apps keep what they were told).
      id: `${d.eventId}-${new Date(d.start).toISOString()}@${house.site.id}.wesprint`,
      start: new Date(d.start),
      end: new Date(d.end),
      stamp: new Date(now),
      summary: d.title,
      description: d.description,
      location: [space?.name ?? d.spaceId, house.site.name, house.site.address].filter(Boolean).join(', '),
      status: ICalEventStatus.CONFIRMED,
    });
  }
  return calendar.toString();
}
