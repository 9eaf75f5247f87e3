/**
 * When is a device offline? Pure rules, so the gateway and the dashboard agree.
 * A device that announces itself offline (LWT / availability topic) is offline at once. A device that simply
 * goes quiet is offline once it has missed three of its regular reports: one lost message is normal on radio
 * networks, three in a row is not.
 */
export const MISSED_REPORTS_BEFORE_OFFLINE = 3;

export interface DeviceHealth {
  lastSeen: number | null;
  /** What the device itself last said about its availability, if it says anything. */
  announced: 'online' | 'offline' | null;
}

export function isOnline(health: DeviceHealth, reportingIntervalS: number, now: number): boolean {
  if (health.announced === 'offline') return false;
  if (health.lastSeen === null) return false;
  return now - health.lastSeen <= reportingIntervalS * 1000 * MISSED_REPORTS_BEFORE_OFFLINE;
}
