import { buildingTopics, ROOT } from './topics.ts';

/**
 * The building's events: what happens to bookings, alerts and doors, told once on the building's broker so
 * that every API process (and anything else allowed to listen) hears it, whichever process saw it happen.
 *
 *   wesprint/<site>/events/<type>   one JSON object per event   QoS 1, not retained
 *
 * Each event is small and names no member (no e-mail, name or member id): its type, an id of its own (a
 * listener that hears one twice, QoS 1 allows it, drops the second), the site, the space (null when the
 * event is about no space), the time `at` (epoch ms) and the ids of what it is about.
 */

export const BOOKING_EVENT_TYPES = [
  'booking-made',
  'booking-started',
  'booking-ended',
  'booking-no-show',
  'booking-checked-in',
  'booking-cancelled',
  'booking-moved',
] as const;
export const ALERT_EVENT_TYPES = ['alert-opened', 'alert-cleared'] as const;
export const DOOR_EVENT_TYPES = ['door-opened'] as const;
export const EVENT_TYPES = [...BOOKING_EVENT_TYPES, ...ALERT_EVENT_TYPES, ...DOOR_EVENT_TYPES] as const;

export type BookingEventType = (typeof BOOKING_EVENT_TYPES)[number];
export type AlertEventType = (typeof ALERT_EVENT_TYPES)[number];
export type EventType = (typeof EVENT_TYPES)[number];

interface EventBase {
  /** The event's own id (UUID). */
  id: string;
  site: string;
  space: string | null;
  /** When it happened, epoch ms. */
  at: number;
}

/** A booking made, started, ended, released as a no-show, checked in, cancelled or moved. */
export interface BookingEvent extends EventBase {
  type: BookingEventType;
  space: string;
  bookingId: string;
  /** The booking's [start, end), epoch ms (a moved booking's new times). */
  start: number;
  end: number;
  /** booking-moved only: the times it had before. */
  previousStart?: number;
  previousEnd?: number;
}

/** An alert for the facility opened or cleared (alerts/alert-rules.ts names the kinds). */
export interface AlertEvent extends EventBase {
  type: AlertEventType;
  alertId: number;
  kind: string;
  /** What the alert is about: a space, a device, the site (one open alert per kind and subject). */
  subject: string;
  device: string | null;
}

/** A lock that confirmed it opened (an unlock's outcome `unlocked`). */
export interface DoorEvent extends EventBase {
  type: 'door-opened';
  space: string;
  /** The lock. */
  device: string;
  /** The command that opened it. */
  commandId: string;
}

export type BuildingEvent = BookingEvent | AlertEvent | DoorEvent;

/** Something that tells the building's events (the building feed, over its broker connection). */
export interface EventAnnouncer {
  /** Publishes the event once; never throws (an event that cannot be sent is counted and dropped). */
  announce(event: BuildingEvent): void;
}

export function eventTopic(site: string, type: EventType): string {
  return `${buildingTopics(site).base}/events/${type}`;
}

export function allEventsFilter(site: string): string {
  return `${buildingTopics(site).base}/events/+`;
}

export function isEventType(value: string): value is EventType {
  return (EVENT_TYPES as readonly string[]).includes(value);
}

/** Nothing an event carries comes near this; a bigger message is not one of ours. */
export const MAX_EVENT_BYTES = 2048;
const ID = /^[A-Za-z0-9][A-Za-z0-9_:.-]{0,127}$/;
const MIN_TS = 1e12;
const MAX_TS = 1e13;

const isId = (v: unknown): v is string => typeof v === 'string' && ID.test(v);
const isTs = (v: unknown): v is number =>
  typeof v === 'number' && Number.isInteger(v) && v >= MIN_TS && v < MAX_TS;

/**
 * Pure: the event a message on `wesprint/<site>/events/<type>` carries, or why it is not one. Only the fields
 * of its type are kept, so a publisher cannot smuggle anything else (a member's name) through the feed.
 */
export function parseEvent(
  siteId: string,
  topic: string,
  payload: Buffer,
): { ok: true; event: BuildingEvent } | { ok: false; reason: string } {
  const bad = (reason: string) => ({ ok: false as const, reason });
  if (payload.length > MAX_EVENT_BYTES) return bad(`event of ${payload.length} bytes is too large`);
  const parts = topic.split('/');
  if (parts.length !== 4 || parts[0] !== ROOT || parts[1] !== siteId || parts[2] !== 'events')
    return bad('not an event topic of this site');
  const type = parts[3] ?? '';
  if (!isEventType(type)) return bad(`unknown event type "${type}"`);
  let body: unknown;
  try {
    body = JSON.parse(payload.toString('utf8'));
  } catch {
    return bad('event is not JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return bad('event is not an object');
  const e = body as Record<string, unknown>;
  if (e.type !== type) return bad('type in payload differs from topic');
  if (e.site !== siteId) return bad('site in payload differs from topic');
  if (!isId(e.id)) return bad('id missing or malformed');
  if (!isTs(e.at)) return bad('at must be epoch milliseconds');
  const base = { id: e.id, site: siteId, at: e.at };
  if ((BOOKING_EVENT_TYPES as readonly string[]).includes(type)) {
    if (!isId(e.space) || !isId(e.bookingId) || !isTs(e.start) || !isTs(e.end) || e.end <= e.start)
      return bad('a booking event needs space, bookingId, start < end');
    const moved = type === 'booking-moved';
    if (moved && (!isTs(e.previousStart) || !isTs(e.previousEnd) || e.previousEnd <= e.previousStart))
      return bad('booking-moved needs previousStart < previousEnd');
    return {
      ok: true,
      event: {
        ...base,
        type: type as BookingEventType,
        space: e.space,
        bookingId: e.bookingId,
        start: e.start,
        end: e.end,
        ...(moved ? { previousStart: e.previousStart as number, previousEnd: e.previousEnd as number } : {}),
      },
    };
  }
  if ((ALERT_EVENT_TYPES as readonly string[]).includes(type)) {
    const space = e.space ?? null;
    const device = e.device ?? null;
    if (
      typeof e.alertId !== 'number' ||
      !Number.isSafeInteger(e.alertId) ||
      !isId(e.kind) ||
      typeof e.subject !== 'string' ||
      e.subject.length === 0 ||
      e.subject.length > 128 ||
      (space !== null && !isId(space)) ||
      (device !== null && !isId(device))
    )
      return bad('an alert event needs alertId, kind, subject (space and device or null)');
    return {
      ok: true,
      event: {
        ...base,
        type: type as AlertEventType,
        space,
        alertId: e.alertId,
        kind: e.kind,
        subject: e.subject,
        device,
      },
    };
  }
  if (!isId(e.space) || !isId(e.device) || !isId(e.commandId))
    return bad('a door event needs space, device, commandId');
  return {
    ok: true,
    event: { ...base, type: 'door-opened', space: e.space, device: e.device, commandId: e.commandId },
  };
}
