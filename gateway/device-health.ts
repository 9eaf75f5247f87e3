/**
 * When is a device offline? Pure rules, so the gateway and the dashboard agree.
 * A device that announces itself offline (LWT / availability topic) is offline at once, unless its family
 * sleeps between reports: then the announcement is its sleep. A device that simply goes quiet is offline
 * once it has missed three of its regular reports: one lost message is normal on radio networks, three in a
 * row is not. Both follow what the family declares (device-profiles/profile.ts), never a device's name.
 */
export const MISSED_REPORTS_BEFORE_OFFLINE = 3;

export interface DeviceHealth {
  lastSeen: number | null;
  /** What the device itself last said about its availability, if it says anything. */
  announced: 'online' | 'offline' | null;
}

/** How a family reports, as its profile declares it. */
export interface ReportingHabit {
  reportingIntervalS: number;
  /** Drops off the network between reports (a sleeping battery device). */
  sleeping?: boolean;
}

export function isOnline(health: DeviceHealth, habit: ReportingHabit, now: number): boolean {
  if (health.announced === 'offline' && !habit.sleeping) return false;
  if (health.lastSeen === null) return false;
  return now - health.lastSeen <= habit.reportingIntervalS * 1000 * MISSED_REPORTS_BEFORE_OFFLINE;
}
