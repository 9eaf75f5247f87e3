import type { AlertKind, Condition, OpenAlertRef } from './alert-rules.ts';

/**
 * The alerts: opened when a rule says so, their value kept current while they are open, cleared when the
 * condition is over, acknowledged by a member. One open alert per (kind, subject); cleared ones stay as the
 * history. This is what the watcher and the routes see; `sqlite-alert-store.ts` keeps them in the records
 * database.
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

/** The alerts, whatever database keeps them. */
export interface AlertStore {
  get(id: number): Promise<Alert | undefined>;
  /** Every open alert, newest first. */
  openAlerts(): Promise<Alert[]>;
  /** The newest alerts, open or cleared (at most MAX_ALERTS_LISTED). */
  newest(limit?: number): Promise<Alert[]>;
  /** What the rules need to compare against. */
  openRefs(): Promise<OpenAlertRef[]>;
  /** Opens an alert for the condition; if one is already open for its (kind, subject), returns that one unchanged. */
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
