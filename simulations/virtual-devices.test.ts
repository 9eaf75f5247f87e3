import path from 'node:path';
import t from 'tap';
import { loadSite } from '../site/load.ts';
import { SimulatedBuilding } from './building.ts';
import { DAY_MS, meterRebootAt } from './building-model.ts';
import { createVirtualDevice, type DeviceMessage, tasmotaSensorPayload } from './virtual-devices.ts';

const site = loadSite(path.join(import.meta.dirname, 'kaufhaus.site.yaml'));
const building = new SimulatedBuilding(site, 'vd-test');
const config = (id: string) => {
  const d = site.devices.find((x) => x.id === id);
  if (!d) throw new Error(id);
  return d;
};
// Monday 12 January 2026, 00:00 UTC
const MONDAY = Date.UTC(2026, 0, 12);
const value = (messages: DeviceMessage[], suffix: string) => {
  const m = messages.find((x) => x.topic.endsWith(suffix));
  if (!m) throw new Error(`no ${suffix} in ${messages.map((x) => x.topic).join(', ')}`);
  return m.payload;
};

t.test('a meter reboot restarts the counter the device reports, once, at the seeded instant', async (t) => {
  const plug = createVirtualDevice(config('eg-cafe-spuelmaschine'), building, MONDAY, {
    rebootProbabilityPerDay: 1,
  });
  if (!plug) throw new Error('no virtual device');
  const rebootAt = meterRebootAt('vd-test', 'eg-cafe-spuelmaschine', MONDAY / DAY_MS, 1);
  if (rebootAt === undefined) throw new Error('p = 1 must reboot');
  const counters: number[] = [];
  for (let ms = MONDAY; ms < MONDAY + DAY_MS; ms += 10 * 60_000) {
    counters.push(Number(value(plug.report(ms), '/relay/0/energy')));
  }
  const drops = counters.filter((c, i) => i > 0 && c < (counters[i - 1] ?? 0));
  t.equal(drops.length, 1, 'exactly one restart in the day');
  const after = counters.findIndex((c, i) => i > 0 && c < (counters[i - 1] ?? 0));
  t.equal(after, Math.ceil((rebootAt - MONDAY) / (10 * 60_000)), 'at the seeded instant');
  t.ok((counters[after] ?? Infinity) < 60 * 1000, 'close to zero watt-minutes right after');
  t.ok((counters.at(-1) ?? 0) > (counters[after] ?? 0), 'and counting again');
});

t.test('Tasmota keeps Today and Yesterday by local day and prints local time', async (t) => {
  const plug = createVirtualDevice(config('og1-teekueche'), building, MONDAY, { rebootProbabilityPerDay: 0 });
  if (!plug) throw new Error('no virtual device');
  const sensor = (ms: number) => JSON.parse(value(plug.report(ms), '/SENSOR'));
  // 22:30 UTC on Monday is 23:30 in Berlin
  const lateMonday = sensor(MONDAY + 22.5 * 3_600_000);
  t.equal(lateMonday.Time, '2026-01-12T23:30:00');
  const firstToday = lateMonday.ENERGY.Today;
  const later = sensor(MONDAY + 22.9 * 3_600_000);
  t.ok(later.ENERGY.Today > firstToday, 'Today grows during the day');
  const tuesday = sensor(MONDAY + 23.5 * 3_600_000);
  t.equal(tuesday.Time, '2026-01-13T00:30:00');
  t.ok(tuesday.ENERGY.Today < later.ENERGY.Today, 'Today restarts after local midnight');
  t.ok(tuesday.ENERGY.Yesterday > 0, 'and Monday became Yesterday');
  t.ok(tuesday.ENERGY.Total > later.ENERGY.Total, 'Total keeps counting');
});

t.test('Tasmota SENSOR payload arithmetic', async (t) => {
  const e = JSON.parse(
    tasmotaSensorPayload({
      time: '2026-01-12T10:00:00',
      totalStartTime: '2025-01-01T00:00:00',
      totalKwh: 12.3456,
      yesterdayKwh: 1,
      todayKwh: 0.5,
      periodWh: 3,
      powerW: 92,
      voltageV: 230,
      factor: 0.92,
    }),
  ).ENERGY;
  t.equal(e.Total, 12.346);
  t.equal(e.ApparentPower, 100, '92 W / 0.92');
  t.equal(e.ReactivePower, 39, 'sqrt(100² − 92²)');
  t.equal(e.Current, 0.435, '100 VA / 230 V');
});

t.test('a desk sensor speaks on change and otherwise only with its heartbeat', async (t) => {
  const sensor = createVirtualDevice(config('og1-desk-n01-presence'), building, MONDAY);
  if (!sensor) throw new Error('no virtual device');
  const night = MONDAY + 2 * 3_600_000;
  t.equal(sensor.report(night).length, 1, 'first report');
  t.equal(sensor.report(night + 60_000).length, 0, 'nothing new a minute later');
  t.equal(sensor.report(night + 51 * 60_000).length, 1, 'heartbeat after 50 minutes');
  t.equal(JSON.parse(value(sensor.report(night + 120 * 60_000), '')).occupancy, false);
});
