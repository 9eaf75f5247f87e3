import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Test } from 'tap';
import type { AuditLog } from '../access/audit-log.ts';
import { SqliteAuditLog } from '../access/sqlite-audit-log.ts';
import type { BookingStore } from '../bookings/booking-store.ts';
import { SqliteBookingStore } from '../bookings/sqlite-booking-store.ts';
import type { Quantity } from '../building/quantities.ts';
import { openRecords, type RecordsDb } from '../database/database.ts';
import type { DeviceProfile } from '../device-profiles/profile.ts';
import { SqliteMemberStore } from '../members/sqlite-member-store.ts';
import type { SiteConfig } from '../site/site.ts';
import { SqliteStore } from '../storage/sqlite-store.ts';
import type { StoredReading } from '../storage/store.ts';

/**
 * What the board report's tests stand on: a small building whose October 2025 (and September, and nothing
 * of October 2024) is written into a real SQLite time-series store and real booking records, with every
 * expected figure computed by hand in the tests. Berlin: October 2025 runs from 30 Sep 22:00 UTC to
 * 31 Oct 23:00 UTC (clocks go back on Sunday 26 Oct: 745 hours).
 */

export function octoberSite(): SiteConfig {
  return {
    site: {
      id: 'bericht-haus',
      name: 'Berichtshaus',
      timezone: 'Europe/Berlin',
      supplier_co2_g_per_kwh: 380,
      grid_co2_g_per_kwh: { '2025': 350 },
      heating_co2_g_per_kwh: 200,
    },
    floors: [
      { id: 'eg', name: 'Erdgeschoss', level: 0, area_m2: 500 },
      { id: 'og1', name: 'Coworking', level: 1, area_m2: 400 },
    ],
    spaces: [
      { id: 'technik', name: 'Technik', floor: 'eg', kind: 'technical', area_m2: 10 },
      { id: 'cafe', name: 'Café Größe', floor: 'eg', kind: 'cafe', area_m2: 120 },
      { id: 'cowork', name: 'Coworking', floor: 'og1', kind: 'desk_area', area_m2: 200 },
      {
        id: 'desk-1',
        name: 'Platz 1',
        floor: 'og1',
        kind: 'desk',
        area_m2: 6,
        bookable: true,
        parent: 'cowork',
        opening_hours: [{ days: [1, 2, 3, 4, 5], open: '08:00', close: '18:00' }],
      },
      // Always open, no occupancy sensor: booked, but nothing can say whether anyone came.
      {
        id: 'room-1',
        name: 'Besprechung',
        floor: 'og1',
        kind: 'meeting_room',
        area_m2: 20,
        bookable: true,
        heat_loss_w_per_k: 60,
      },
    ],
    devices: [
      { id: 'meter-main', profile: 'meter', topic: 'shellies/a', space: 'technik', meter_role: 'main' },
      { id: 'meter-og1', profile: 'meter', topic: 'shellies/b', space: 'technik', meter_role: 'main' },
      { id: 'plug-cafe', profile: 'meter', topic: 'shellies/c', space: 'cafe', meter_role: 'plug' },
      { id: 'co2-cafe', profile: 'air', topic: 'z/co2-cafe', space: 'cafe' },
      { id: 'presence-cafe', profile: 'presence', topic: 'z/presence-cafe', space: 'cafe' },
      { id: 'co2-cowork', profile: 'air', topic: 'z/co2-cowork', space: 'cowork' },
      { id: 'presence-desk-1', profile: 'presence', topic: 'z/presence-desk-1', space: 'desk-1' },
      { id: 'valve-room-1', profile: 'valve', topic: 'z/valve-room-1', space: 'room-1' },
    ],
  };
}

function profile(id: string, quantities: Quantity[]): DeviceProfile {
  return {
    id,
    vendor: 'test',
    description: 'profile for report tests',
    sources: [],
    quantities,
    reportingIntervalS: 300,
    subscriptions: [],
    match: () => undefined,
    decode: () => ({ readings: [] }),
    acl: () => ({ publish: [], subscribe: [] }),
  };
}

export function octoberProfiles(): Map<string, DeviceProfile> {
  return new Map([
    ['meter', profile('meter', ['power', 'energy'])],
    ['air', profile('air', ['co2', 'temperature'])],
    ['presence', profile('presence', ['occupancy'])],
    ['valve', profile('valve', ['temperature', 'setpoint', 'valve'])],
  ]);
}

const UNITS = { energy: 'kWh', co2: 'ppm', occupancy: 'bool', power: 'W', setpoint: '°C' } as const;
const SPACE: Record<string, string> = {
  'meter-main': 'technik',
  'meter-og1': 'technik',
  'plug-cafe': 'cafe',
  'co2-cafe': 'cafe',
  'presence-cafe': 'cafe',
  'co2-cowork': 'cowork',
  'presence-desk-1': 'desk-1',
  'valve-room-1': 'room-1',
};

function reading(device: string, quantity: keyof typeof UNITS, iso: string, value: number): StoredReading {
  return {
    site: 'bericht-haus',
    space: SPACE[device] as string,
    device,
    channel: '0',
    quantity,
    unit: UNITS[quantity],
    value,
    ts: Date.parse(iso),
  };
}

/** The readings, with what each contributes (all times UTC). */
export const OCTOBER_READINGS: StoredReading[] = [
  // meter-main: September 900 (its first reading: a baseline only) → 1000 = 100 kWh in September.
  reading('meter-main', 'energy', '2025-09-01T10:00:00Z', 900),
  reading('meter-main', 'energy', '2025-09-30T21:00:00Z', 1000), // 23:00 CEST, still September
  // October: +10 (1 Oct), +90 then a reboot to 5 (+5) in the hour from 10:00 on 15 Oct, +15, +100 on
  // 31 Oct 23:30 CET = 220 kWh, one counter restart.
  reading('meter-main', 'energy', '2025-10-01T06:00:00Z', 1010),
  reading('meter-main', 'energy', '2025-10-15T10:00:00Z', 1100),
  reading('meter-main', 'energy', '2025-10-15T10:30:00Z', 5),
  reading('meter-main', 'energy', '2025-10-15T11:00:00Z', 20),
  reading('meter-main', 'energy', '2025-10-31T22:30:00Z', 120),
  reading('meter-main', 'energy', '2025-10-31T23:30:00Z', 130), // 00:30 on 1 Nov: November
  // meter-og1: first reading on 30 Sep (September: 0), then +30 (10 Oct) and +50 (20 Oct) = 80 kWh.
  reading('meter-og1', 'energy', '2025-09-30T20:00:00Z', 500),
  reading('meter-og1', 'energy', '2025-10-10T12:00:00Z', 530),
  reading('meter-og1', 'energy', '2025-10-20T12:00:00Z', 580),
  // A plug meter: 2 kWh in October, not part of the building's total (only main meters are).
  reading('plug-cafe', 'energy', '2025-10-01T12:00:00Z', 1),
  reading('plug-cafe', 'energy', '2025-10-02T12:00:00Z', 3),
  // Café on 2 Oct: someone there from 08:10 (hour 08 ends occupied), no report in hour 09 (carried),
  // empty from 10:20. CO2: hour 08 mean (800 + 900) / 2 = 850 (good), hour 09 1100 (not), hour 10 600
  // (nobody there). → 2 occupied hours, 1 good, mean 975 ppm.
  reading('presence-cafe', 'occupancy', '2025-10-02T08:10:00Z', 1),
  reading('presence-cafe', 'occupancy', '2025-10-02T08:50:00Z', 1),
  reading('presence-cafe', 'occupancy', '2025-10-02T10:20:00Z', 0),
  reading('co2-cafe', 'co2', '2025-10-02T08:15:00Z', 800),
  reading('co2-cafe', 'co2', '2025-10-02T08:45:00Z', 900),
  reading('co2-cafe', 'co2', '2025-10-02T09:30:00Z', 1100),
  reading('co2-cafe', 'co2', '2025-10-02T10:30:00Z', 600),
  // Coworking, through its desk's sensor, on 6 Oct: hour 07 occupied, CO2 mean 800. → 1 hour, 1 good.
  reading('presence-desk-1', 'occupancy', '2025-10-06T07:30:00Z', 1),
  reading('presence-desk-1', 'occupancy', '2025-10-06T07:55:00Z', 0),
  reading('co2-cowork', 'co2', '2025-10-06T07:10:00Z', 700),
  reading('co2-cowork', 'co2', '2025-10-06T07:40:00Z', 900),
  // The café's plug draws 40 W in the hour before Node-RED switches it off (7 Oct 16:00-17:00 UTC), nothing
  // while off. The valve of the meeting room holds 21 °C before it is set back.
  reading('plug-cafe', 'power', '2025-10-07T16:10:00Z', 35),
  reading('plug-cafe', 'power', '2025-10-07T16:40:00Z', 45),
  reading('plug-cafe', 'power', '2025-10-07T18:00:00Z', 0),
  reading('valve-room-1', 'setpoint', '2025-10-09T05:00:00Z', 21),
];

/**
 * The commands the devices confirmed, as the commands route audits them: Node-RED's (an integration token)
 * and a member's. Saved in October: the plug off 7 Oct 17:30 to 8 Oct 05:30 UTC, 12 h × 40 W = 0.48 kWh
 * (× 350 g = 0.168 kg location-based, × 380 g = 0.1824 kg market-based); the meeting room set back from 21 to
 * 17 °C from 9 Oct 16:00 to 10 Oct 06:00 UTC, 14 h × 4 K = 56 K·h × 60 W/K = 3.36 kWh of heat (× 200 g =
 * 0.672 kg). The member's switch-off of 12 Oct saves nothing on automations' account.
 */
export const OCTOBER_COMMANDS: { iso: string; device: string; by: 'token' | 'member'; detail: object }[] = [
  { iso: '2025-10-07T17:30:00Z', device: 'plug-cafe', by: 'token', detail: { action: 'switch_off' } },
  { iso: '2025-10-08T05:30:00Z', device: 'plug-cafe', by: 'token', detail: { action: 'switch_on' } },
  { iso: '2025-10-12T17:00:00Z', device: 'plug-cafe', by: 'member', detail: { action: 'switch_off' } },
  { iso: '2025-10-13T07:00:00Z', device: 'plug-cafe', by: 'member', detail: { action: 'switch_on' } },
  // Another house's plug in the same audit log (a network): not this house's saving.
  { iso: '2025-10-14T17:00:00Z', device: 'plug-elsewhere', by: 'token', detail: { action: 'switch_off' } },
  {
    iso: '2025-10-09T16:00:00Z',
    device: 'valve-room-1',
    by: 'token',
    detail: { action: 'set_setpoint', value: 17 },
  },
  {
    iso: '2025-10-10T06:00:00Z',
    device: 'valve-room-1',
    by: 'token',
    detail: { action: 'set_setpoint', value: 21 },
  },
];

/** Bookings, times in CEST. */
export const OCTOBER_BOOKINGS: { space: string; start: string; end: string; status: string }[] = [
  // September: 2 h on the desk, nobody checked in or released.
  { space: 'desk-1', start: '2025-09-30T16:00:00+02:00', end: '2025-09-30T18:00:00+02:00', status: 'booked' },
  // October on the desk: 3 h used, 2 h no-show, 4 h used, a cancelled one: 9 h booked, 7 h used, 3 started, 1 released.
  {
    space: 'desk-1',
    start: '2025-10-06T09:00:00+02:00',
    end: '2025-10-06T12:00:00+02:00',
    status: 'checked_in',
  },
  {
    space: 'desk-1',
    start: '2025-10-07T09:00:00+02:00',
    end: '2025-10-07T11:00:00+02:00',
    status: 'released',
  },
  {
    space: 'desk-1',
    start: '2025-10-08T13:00:00+02:00',
    end: '2025-10-08T17:00:00+02:00',
    status: 'checked_in',
  },
  {
    space: 'desk-1',
    start: '2025-10-09T09:00:00+02:00',
    end: '2025-10-09T10:00:00+02:00',
    status: 'cancelled',
  },
  // The meeting room (no sensor): 2 h booked.
  { space: 'room-1', start: '2025-10-20T10:00:00+02:00', end: '2025-10-20T12:00:00+02:00', status: 'booked' },
];

export interface OctoberBuilding {
  site: SiteConfig;
  store: SqliteStore;
  records: RecordsDb;
  /** The bookings store over `records`, as the report reads them. */
  bookings: BookingStore;
  profiles: Map<string, DeviceProfile>;
  /** The audit log over `records`, with OCTOBER_COMMANDS. */
  audit: AuditLog;
  dir: string;
}

/** The building with its October written, in a temp dir removed on teardown. */
export async function octoberBuilding(t: Test): Promise<OctoberBuilding> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-report-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const store = new SqliteStore({ file: path.join(dir, 'readings.db') });
  t.teardown(() => store.close());
  const records = openRecords(path.join(dir, 'wesprint.db'));
  t.teardown(() => records.close());
  await store.write(OCTOBER_READINGS);
  const { member } = await new SqliteMemberStore(records).create({
    email: `board-${randomUUID()}@test.example`,
    role: 'member',
  });
  const insert = records.prepare(
    `INSERT INTO bookings (id, site, member_id, space_id, start_ms, end_ms, status, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  for (const b of OCTOBER_BOOKINGS) {
    const start = Date.parse(b.start);
    insert.run(
      randomUUID(),
      octoberSite().site.id,
      member.id,
      b.space,
      start,
      Date.parse(b.end),
      b.status,
      start - 86_400_000,
    );
  }
  const audit = new SqliteAuditLog(records);
  for (const c of OCTOBER_COMMANDS)
    await audit.record({
      at: Date.parse(c.iso),
      actor: c.by === 'token' ? 'token:node-red' : member.id,
      action: 'device_command',
      target: c.device,
      decision: 'granted',
      reason: 'confirmed',
      detail: {
        ...(c.by === 'token' ? { token: 'node-red' } : { role: 'facility' }),
        channel: '0',
        ...c.detail,
      },
    });
  return {
    site: octoberSite(),
    store,
    records,
    bookings: new SqliteBookingStore(records, octoberSite().site.id),
    profiles: octoberProfiles(),
    audit,
    dir,
  };
}

/**
 * A second house for the network report's tests: the same devices (same ids) in a workshop of 200 m², whose
 * meters count twice as much (600 kWh in October), whose coworking air is 500 ppm worse (its one occupied
 * hour there is not good) and whose supplier emits 150 g/kWh; no grid factor of its own (Umweltbundesamt).
 */
export function werkHaus(): SiteConfig {
  const base = octoberSite();
  return {
    ...base,
    site: { id: 'werk-haus', name: 'Werkhaus', timezone: 'Europe/Berlin', supplier_co2_g_per_kwh: 150 },
    floors: [
      { id: 'eg', name: 'Halle', level: 0, area_m2: 200 },
      ...base.floors.slice(1).map((f) => ({ ...f, area_m2: 0 })),
    ],
  };
}

export function werkReadings(): StoredReading[] {
  return OCTOBER_READINGS.map((r) => {
    const v = r.value as number;
    return {
      ...r,
      site: 'werk-haus',
      value: r.quantity === 'energy' ? v * 2 : r.device === 'co2-cowork' ? v + 500 : v,
    };
  });
}
