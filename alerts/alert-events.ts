import { randomUUID } from 'node:crypto';
import type { AlertEvent } from '../building/events.ts';
import type { Alert } from './alert-store.ts';
import type { AlertChange } from './alert-watch.ts';

/**
 * An alert's event for the building's event feed, for the changes integrations act on (opened, cleared);
 * undefined for the others (a new value, an acknowledgement). Never who acknowledged it.
 */
export function alertEvent(change: AlertChange, site: string, alert: Alert): AlertEvent | undefined {
  if (change !== 'opened' && change !== 'cleared') return undefined;
  return {
    type: change === 'opened' ? 'alert-opened' : 'alert-cleared',
    id: randomUUID(),
    site,
    space: alert.space,
    at: change === 'opened' ? alert.openedAt : (alert.clearedAt ?? alert.updatedAt),
    alertId: alert.id,
    kind: alert.kind,
    subject: alert.subject,
    device: alert.device,
  };
}
