import path from 'node:path';
import t from 'tap';
import shellyPro3em from '../device-families/shelly-pro-3em/profile.ts';
import { decodeMessage, loadProfiles } from '../device-profiles/registry.ts';
import { loadSite } from '../site/load.ts';
import { DAY_MS, meterRebootAt } from './physics.ts';
import { SimulatedBuilding } from './simulated-building.ts';
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

t.test('the Gen1 3EM main meter and the Pro 4PM report every channel; the channels add up', async (t) => {
  const profiles = await loadProfiles();
  const decoder = (id: string) => {
    const device = config(id);
    const byTopic = new Map([[device.topic, { id: device.id, profile: device.profile }]]);
    return (messages: DeviceMessage[]) =>
      messages.flatMap((m) => {
        const out = decodeMessage(profiles, m.topic, Buffer.from(m.payload), MONDAY, byTopic);
        if (!out.ok) throw new Error(`${m.topic}: ${out.reason} ${out.detail}`);
        return out.result.readings;
      });
  };
  const noon = MONDAY + 11 * 3_600_000;
  for (const [id, channels] of [
    ['og2-main-meter', ['0', '1', '2']],
    ['og2-protel-steckdosen', ['0', '1', '2', '3']],
  ] as const) {
    const device = createVirtualDevice(config(id), building, MONDAY, { rebootProbabilityPerDay: 0 });
    if (!device) throw new Error('no virtual device');
    // The Pro 4PM also sends a NotifyStatus with all its switches: the status topics alone are one report.
    const readings = decoder(id)(device.report(noon).filter((m) => !m.topic.endsWith('/events/rpc')));
    const energy = readings.filter((r) => r.quantity === 'energy');
    t.same(
      energy.map((r) => r.channel),
      channels,
      `${id}: an energy reading per channel`,
    );
    const power = readings.filter((r) => r.quantity === 'power');
    const total = power.reduce((a, r) => a + (r.value as number), 0);
    const expected = building.meterPowerW(config(id), noon);
    t.ok(Math.abs(total - expected) < 0.05 * channels.length, `${id}: ${total} W ≈ ${expected} W`);
  }
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

t.test('a floor main meter (Pro 3EM) reports the whole floor, phase totals consistent', async (t) => {
  const config_ = config('og1-main-meter');
  const meter = createVirtualDevice(config_, building, MONDAY, { rebootProbabilityPerDay: 0 });
  if (!meter) throw new Error('no virtual device');
  t.equal(meter.clientId, config_.topic, 'Gen2 client id = device id = topic prefix');
  t.same(meter.will, { topic: `${config_.topic}/online`, payload: 'false', qos: 1, retain: true });
  const at = (ms: number) => {
    const messages = meter.report(ms);
    return {
      messages,
      em: JSON.parse(value(messages, '/status/em:0')),
      emdata: JSON.parse(value(messages, '/status/emdata:0')),
      rpc: JSON.parse(value(messages, '/events/rpc')),
    };
  };
  // Monday 11:30 in Berlin: the coworking floor is in use
  const noon = MONDAY + 10.5 * 3_600_000;
  const { messages, em, emdata, rpc } = at(noon);
  const phaseSum = (k: string) => ['a', 'b', 'c'].reduce((n, x) => n + em[`${x}_${k}`], 0);
  t.ok(Math.abs(em.total_act_power - phaseSum('act_power')) < 1e-6, 'total_act_power = a + b + c');
  t.ok(Math.abs(em.total_current - phaseSum('current')) < 1e-6, 'total_current = a + b + c');
  t.ok(
    Math.abs(em.total_act_power - building.meterPowerW(config_, noon)) < 0.2,
    'the whole floor, not one phase',
  );
  t.ok(em.a_act_power > 0 && em.b_act_power > 0 && em.c_act_power > 0, 'load on every phase');
  const energySum = ['a', 'b', 'c'].reduce((n, x) => n + emdata[`${x}_total_act_energy`], 0);
  t.ok(Math.abs(emdata.total_act - energySum) < 1e-6, 'total_act = a + b + c');
  t.same(rpc.params['em:0'], em, 'NotifyStatus carries the same EM status');
  t.same(rpc.params['emdata:0'], emdata);
  t.equal(rpc.params.ts, noon / 1000);

  // Decoded by the real family: one series per quantity, with the floor's totals.
  const decoded = new Map<string, number | string>();
  for (const m of messages) {
    const match = shellyPro3em.match(m.topic);
    if (!match) throw new Error(`${m.topic} is not a Pro 3EM topic`);
    for (const r of shellyPro3em.decode(match, Buffer.from(m.payload), noon).readings)
      decoded.set(r.quantity, r.value);
  }
  t.same(Object.fromEntries(decoded), {
    power: em.total_act_power,
    voltage: em.a_voltage,
    current: em.total_current,
    energy: emdata.total_act / 1000,
  });

  // At night only the base load runs: an hour adds base load × 1 h to the counter.
  const night = MONDAY + 2 * 3_600_000;
  const before = at(night).emdata.total_act;
  const after = at(night + 3_600_000).emdata.total_act;
  const baseW = building.meterPowerW(config_, night);
  t.ok(Math.abs(after - before - baseW) < baseW * 0.01, `${after - before} Wh in an hour at ${baseW} W`);
});

t.test('a Pro 3EM reboot restarts its counters once, every phase and the total', async (t) => {
  const id = 'og3-main-meter';
  const meter = createVirtualDevice(config(id), building, MONDAY, { rebootProbabilityPerDay: 1 });
  if (!meter) throw new Error('no virtual device');
  const rebootAt = meterRebootAt('vd-test', id, MONDAY / DAY_MS, 1);
  if (rebootAt === undefined) throw new Error('p = 1 must reboot');
  const step = 10 * 60_000;
  const statuses: { total_act: number; a_total_act_energy: number; c_total_act_energy: number }[] = [];
  for (let ms = MONDAY; ms < MONDAY + DAY_MS; ms += step) {
    statuses.push(JSON.parse(value(meter.report(ms), '/status/emdata:0')));
  }
  const dropped = (k: 'total_act' | 'a_total_act_energy' | 'c_total_act_energy') =>
    statuses.flatMap((s, i) => (i > 0 && s[k] < (statuses[i - 1]?.[k] ?? 0) ? [i] : []));
  const expected = [Math.ceil((rebootAt - MONDAY) / step)];
  t.same(dropped('total_act'), expected, 'total_act restarts once, at the seeded instant');
  t.same(dropped('a_total_act_energy'), expected, 'phase A with it');
  t.same(dropped('c_total_act_energy'), expected, 'phase C with it');
  const i = expected[0] ?? 0;
  const after = statuses[i]?.total_act ?? Infinity;
  const before = statuses[i - 1]?.total_act ?? 0;
  t.ok(after < before / 100, `${after} Wh right after, from ${before} Wh in service`);
  t.ok((statuses.at(-1)?.total_act ?? 0) > after, 'and counting again');
});
