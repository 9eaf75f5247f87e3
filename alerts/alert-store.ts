import type { AlertKind, Condition, OpenAlertRef } from './alert-rules.ts';

/**
 * The alerts: opened when a rule says so, their value kept current while they are open, cleared when the
 * condition is over, acknowledged by a member. One open alert per (site, kind, subject); cleared ones stay as
 * the history. This is what the watcher and the routes see; `sqlite-alert-store.ts` and
 * `postgres-alert-store.ts` keep them in the records database. A store is one house's (`Records.alertsAt`):
 * it reads, opens and acknowledges that site's alerts only, so a device id another house also has is
 * another subject.
 */

export interface Acknowledgement {
  /** Member id. */
  by: string;
  /** The member's name now; null once the member is gone. */
  name: string | null;
  at: number;
}

export interface Alert {
  id: number;
  /** The house (site id): device and space ids may repeat between the houses of a network. */
  site: string;
  kind: AlertKind;
  subject: string;
  space: string | null;
  device: string | null;
  since: number;
  openedAt: number;
  updatedAt: number;
  value: number | null;
  unit: string | null;
  detail: Record<string, string | number>;
  clearedAt: number | null;
  acknowledged: Acknowledgement | null;
}

export const MAX_ALERTS_LISTED = 500;

export type AcknowledgeResult =
  | { outcome: 'acknowledged' | 'already'; alert: Alert }
  | { outcome: 'not_found' };

/** One house's alerts, whatever database keeps them. */
export interface AlertStore {
  /** The house whose alerts these are. */
  readonly site: string;
  get(id: number): Promise<Alert | undefined>;
  /** Every open alert, newest first. */
  openAlerts(): Promise<Alert[]>;
  /** The newest alerts, open or cleared (at most MAX_ALERTS_LISTED). */
  newest(limit?: number): Promise<Alert[]>;
  /** What the rules need to compare against. */
  openRefs(): Promise<OpenAlertRef[]>;
  /** Opens an alert for the condition; if one is already open for its (site, kind, subject), returns that one unchanged. */
  open(condition: Condition, at: number): Promise<{ alert: Alert; opened: boolean }>;
  /** The newest value of an open alert; undefined if it is not open (any more). */
  update(
    id: number,
    condition: Pick<Condition, 'value' | 'unit' | 'detail'>,
    at: number,
  ): Promise<Alert | undefined>;
  /** The condition is over; undefined if it was not open. */
  clear(id: number, at: number): Promise<Alert | undefined>;
  /**
   * A member has seen it. Idempotent: acknowledging again changes nothing and keeps who saw it first.
   * A cleared alert may still be acknowledged (someone went and looked after it was over).
   */
  acknowledge(id: number, memberId: string, at: number): Promise<AcknowledgeResult>;
}
