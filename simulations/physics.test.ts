import path from 'node:path';
import t from 'tap';
import { loadSite } from '../site/load.ts';
import {
  advanceCo2,
  advanceCounter,
  airChangesPerHour,
  co2After,
  co2GenerationPpmPerHour,
  co2SteadyState,
  DAY_MS,
  floorMainLoad,
  integrateEnergyWh,
  isOpen,
  localTime,
  meterPowerW,
  meterRebootAt,
  occupancyProbability,
  peopleInSpace,
  spaceVolumeM3,
} from './physics.ts';
import { SimulatedBuilding } from './simulated-building.ts';

const site = loadSite(path.join(import.meta.dirname, 'kaufhaus.site.yaml'));
// Wednesday 14 January 2026, 11:30 in Berlin (CET, UTC+1)
const WED_1130 = Date.UTC(2026, 0, 14, 10, 30);

t.test('the Kaufhaus site file loads and has the promised shape', async (t) => {
  t.equal(site.site.timezone, 'Europe/Berlin');
  t.ok(site.site.supplier_co2_g_per_kwh);
  t.same(
    site.floors.map((f) => f.id),
    ['eg', 'og1', 'og2', 'og3'],
  );
  const kinds = (k: string) => site.spaces.filter((s) => s.kind === k);
  t.equal(kinds('desk').length, 60);
  t.ok(
    kinds('desk').every((d) => d.parent && site.spaces.find((s) => s.id === d.parent)?.kind === 'desk_area'),
  );
  t.equal(kinds('protel').length, 20);
  const byId = new Map(site.devices.map((d) => [d.id, d]));
  t.ok(kinds('protel').every((p) => p.lock && byId.get(p.lock)?.profile === 'nuki-mqtt'));
  t.ok(site.devices.length >= 130 && site.devices.length <= 170, `${site.devices.length} devices`);
  const profiles = new Set(site.devices.map((d) => d.profile));
  t.same([...profiles].sort(), [
    'nuki-mqtt',
    'shelly-gen1',
    'shelly-gen2',
    'shelly-ht',
    'shelly-pro-3em',
    'tasmota-energy',
    'zigbee2mqtt-air-quality',
    'zigbee2mqtt-contact',
    'zigbee2mqtt-occupancy',
    'zigbee2mqtt-thermostat',
  ]);
  // every desk has its own presence sensor for sensor-verified check-in
  for (const d of kinds('desk'))
    t.ok(site.devices.some((x) => x.space === d.id && x.profile === 'zigbee2mqtt-occupancy'));
  // one main meter per floor: Pro 3EMs summing their phases, and on the 2nd floor a Gen1 3EM whose three
  // phases are three channels that add up
  const mains = site.devices.filter((x) => x.meter_role === 'main');
  t.same(mains.map((d) => site.spaces.find((s) => s.id === d.space)?.floor).sort(), [
    'eg',
    'og1',
    'og2',
    'og3',
  ]);
  for (const d of mains) {
    if (d.id === 'og2-main-meter') {
      t.equal(d.profile, 'shelly-gen1', d.id);
      t.match(d.topic, /^shellies\/shellyem3-[0-9A-F]{12}$/);
      continue;
    }
    t.equal(d.profile, 'shelly-pro-3em', d.id);
    t.match(d.topic, /^shellypro3em-[0-9a-f]{12}$/);
  }
  for (const d of site.devices.filter((x) => x.profile === 'nuki-mqtt'))
    t.match(d.topic, /^nuki\/[0-9A-F]{8}$/);
  for (const d of site.devices.filter((x) => x.profile === 'shelly-gen2'))
    t.match(d.topic, /^(shellyplusplugs|shellypro4pm)-[0-9a-f]{12}$/);
  // a Pro 4PM in the sub-distribution whose four outputs feed four Protel rooms
  const outputs = site.devices.filter((x) => (x.channels ?? []).length > 0);
  t.same(
    outputs.map((d) => [d.id, d.topic, d.channels?.map((c) => `${c.channel}:${c.space}`)]),
    [
      [
        'og2-protel-steckdosen',
        'shellypro4pm-f008d1d8b8b8',
        ['0:og2-protel-01', '1:og2-protel-02', '2:og2-protel-03', '3:og2-protel-04'],
      ],
    ],
  );
});

t.test('local time in Berlin, summer and winter', async (t) => {
  const winter = localTime(WED_1130, 'Europe/Berlin');
  t.equal(winter.weekday, 3);
  t.equal(winter.hour, 11.5);
  t.equal(winter.isoLocal, '2026-01-14T11:30:00');
  const summer = localTime(Date.UTC(2026, 6, 19, 10, 30), 'Europe/Berlin');
  t.equal(summer.weekday, 7, 'Sunday');
  t.equal(summer.hour, 12.5, 'CEST is UTC+2');
});

t.test('occupancy probability by kind, weekday and hour', async (t) => {
  t.equal(occupancyProbability('desk', 3, 11.5), 0.85, 'coworking peaks late morning');
  t.equal(occupancyProbability('desk', 3, 3), 0, 'nights empty');
  t.equal(occupancyProbability('desk', 7, 11), 0.85 * 0.05, 'Sundays low');
  t.ok(occupancyProbability('desk', 3, 12) < occupancyProbability('desk', 3, 11), 'lunch dip');
  t.ok(occupancyProbability('desk', 3, 14) > occupancyProbability('desk', 3, 12), 'afternoon peak');
  t.equal(occupancyProbability('hall', 3, 19), 0.7, 'discourse evening');
  t.ok(
    occupancyProbability('hall', 3, 19) > occupancyProbability('hall', 3, 10),
    'hall lives in the evening',
  );
  t.ok(occupancyProbability('hall', 3, 19) > occupancyProbability('desk', 3, 19));
  t.equal(occupancyProbability('technical', 3, 11), 0);
});

t.test('people in a space follow the probability and are deterministic', async (t) => {
  const desks = Array.from({ length: 400 }, (_, i) => ({ id: `d${i}`, kind: 'desk' as const, capacity: 1 }));
  const taken = desks.reduce((n, d) => n + peopleInSpace('s', d, WED_1130, 'Europe/Berlin'), 0);
  t.ok(taken > 0.75 * 400 && taken < 0.95 * 400, `${taken} of 400 desks taken at 11:30 (p = 0.85)`);
  const night = Date.UTC(2026, 0, 14, 2, 0);
  t.equal(
    desks.reduce((n, d) => n + peopleInSpace('s', d, night, 'Europe/Berlin'), 0),
    0,
  );
  const room = { id: 'p1', kind: 'protel' as const, capacity: 8 };
  const same = peopleInSpace('s', room, WED_1130, 'Europe/Berlin');
  t.equal(peopleInSpace('s', room, WED_1130, 'Europe/Berlin'), same, 'same seed, same people');
  for (let h = 0; h < 48; h++) {
    const n = peopleInSpace('s', room, WED_1130 + h * 1_800_000, 'Europe/Berlin');
    t.ok(n >= 0 && n <= 8);
  }
});

t.test('CO2 mass balance, hand-checked', async (t) => {
  // 10 people in 50 m² × 3 m: 10 × 0.020 m³/h × 1e6 / 150 m³ = 1333.3 ppm/h
  t.equal(Number(co2GenerationPpmPerHour(10, 150).toFixed(1)), 1333.3);
  t.equal(Number(co2SteadyState(10, 150, 2).toFixed(1)), 1086.7, '420 + 1333.3 / 2');
  // one hour from outdoor air: 1086.7 − 666.7 × e^−2 = 996.4
  t.equal(Number(co2After(420, 10, 150, 2, 1).toFixed(1)), 996.4);
  // no ventilation: linear rise, 1 person in 20 m³ for half an hour = +500 ppm
  t.equal(co2After(420, 1, 20, 0, 0.5), 920);
  // empty room decays halfway to outdoor air in ln2 / ach hours
  t.equal(Number(co2After(1420, 0, 100, 1, Math.LN2).toFixed(6)), 920);
  t.equal(spaceVolumeM3(50, 'office'), 160);
  t.ok(airChangesPerHour('meeting_room', true) > airChangesPerHour('meeting_room', false));
  // sub-stepped integration over 10 h with steady people reaches the steady state
  const c = advanceCo2(420, 0, 10 * 3_600_000, 150, 'office', () => 10);
  t.ok(Math.abs(c - co2SteadyState(10, 150, airChangesPerHour('office', true))) < 1, `${c}`);
  // and sub-steps agree with one exact step
  t.ok(
    Math.abs(advanceCo2(420, 0, 3_600_000, 150, 'office', () => 10) - co2After(420, 10, 150, 2, 1)) < 1e-6,
  );
});

t.test('a full meeting room passes 1000 ppm, a full open-plan floor does not', async (t) => {
  const room = site.spaces.find((s) => s.id === 'og3-besprechung-1');
  const floor = site.spaces.find((s) => s.id === 'og1-coworking-nord');
  if (!room?.area_m2 || !floor?.area_m2) throw new Error('site file changed');
  // 48 m² × 3.2 m = 153.6 m³; 12 people × 20 L/h = 240 000 ppm·m³/h → 1562.5 ppm/h; at 2/h: 420 + 781.25
  const roomM3 = spaceVolumeM3(room.area_m2, 'meeting_room');
  t.equal(Number(roomM3.toFixed(6)), 153.6);
  const roomAch = airChangesPerHour('meeting_room', true);
  t.equal(Number(co2SteadyState(12, roomM3, roomAch).toFixed(2)), 1201.25);
  // after one hour from outdoor air: 1201.25 − 781.25 × e^−2 = 1095.5, over the 1000 ppm guide value
  const hour = advanceCo2(420, 0, 3_600_000, roomM3, 'meeting_room', () => room.capacity ?? 0);
  t.equal(Number(hour.toFixed(1)), 1095.5);
  t.ok(hour > 1000);
  // 420 m² × 3.2 m = 1344 m³; 30 people → 446.4 ppm/h; at 1.5/h the floor settles at 717.6 ppm
  const floorM3 = spaceVolumeM3(floor.area_m2, 'desk_area');
  const day = advanceCo2(420, 0, 12 * 3_600_000, floorM3, 'desk_area', () => floor.capacity ?? 0);
  t.equal(Number(co2SteadyState(30, floorM3, airChangesPerHour('desk_area', true)).toFixed(1)), 717.6);
  t.ok(day < 1000, `${day}`);
  // a full 8-person Protel room (46 m², 147.2 m³) at 1.5/h: 420 + 1086.96 / 1.5 = 1144.6
  t.equal(
    Number(co2SteadyState(8, spaceVolumeM3(46, 'protel'), airChangesPerHour('protel', true)).toFixed(1)),
    1144.6,
  );
});

t.test('meter power and energy counters', async (t) => {
  const load = { baseW: 100, perPersonW: 60, lightingW: 500 };
  t.equal(meterPowerW(load, 3, true), 780);
  t.equal(meterPowerW(load, 3, false), 280);
  t.same(floorMainLoad(2000), { baseW: 3000, perPersonW: 60, lightingW: 12000 });
  t.equal(integrateEnergyWh(0, 1000, 3600), 1000);
  t.equal(integrateEnergyWh(10, 60, 60), 11);
  const noReboot = () => undefined;
  const two = advanceCounter({ wh: 0, startedAt: 0, reboots: 0 }, 0, 2 * 3_600_000, () => 1200, noReboot);
  t.equal(Math.round(two.wh * 1000) / 1000, 2400, '1200 W for 2 h');
  // the meter reboots after 1 h 30: the counter holds only the last 30 minutes
  const rebootAt = 5_400_000;
  const rebooted = advanceCounter(
    { wh: 5000, startedAt: 0, reboots: 0 },
    0,
    2 * 3_600_000,
    () => 1200,
    (day) => (day === 0 ? rebootAt : undefined),
  );
  t.equal(Math.round(rebooted.wh * 1000) / 1000, 600);
  t.equal(rebooted.reboots, 1);
  t.equal(rebooted.startedAt, rebootAt);
  // a step crossing midnight still sees a reboot just after it
  const acrossMidnight = advanceCounter(
    { wh: 100, startedAt: 0, reboots: 0 },
    DAY_MS - 60_000,
    DAY_MS + 120_000,
    () => 3600,
    (day) => (day === 1 ? DAY_MS + 60_000 : undefined),
  );
  t.equal(acrossMidnight.reboots, 1);
  t.equal(Math.round(acrossMidnight.wh), 60, 'one minute at 3600 W after the reboot');
});

t.test('meter reboots are rare, deterministic and fall inside their day', async (t) => {
  let reboots = 0;
  const wrong: number[] = [];
  for (let day = 0; day < 2000; day++) {
    const at = meterRebootAt('seed', 'og1-main-meter', day);
    if (meterRebootAt('seed', 'og1-main-meter', day) !== at) wrong.push(day);
    if (at === undefined) continue;
    reboots++;
    if (at < day * DAY_MS || at >= (day + 1) * DAY_MS) wrong.push(day);
  }
  t.same(wrong, [], 'same answer twice, inside the day');
  t.ok(reboots > 15 && reboots < 70, `${reboots} reboots in 2000 days at p = 0.02`);
  t.not(meterRebootAt('other-seed', 'x', 1, 1), meterRebootAt('seed', 'x', 1, 1));
});

t.test('opening hours', async (t) => {
  const rules = [{ days: [1, 2, 3, 4, 5], open: '07:00', close: '22:00' }];
  t.notOk(isOpen(rules, 1, 6.99));
  t.ok(isOpen(rules, 1, 7));
  t.notOk(isOpen(rules, 1, 22));
  t.notOk(isOpen(rules, 6, 10));
  t.ok(isOpen([{ days: [7], open: '00:00', close: '24:00' }], 7, 23.99));
  t.ok(isOpen(undefined, 7, 3), 'no rules: always open');
});

t.test(
  'the simulated Kaufhaus: desk areas hold their desks, floors their people, meters the load',
  async (t) => {
    const b = new SimulatedBuilding(site, 'test');
    const desks = site.spaces.filter((s) => s.parent === 'og1-coworking-nord');
    t.equal(
      b.peopleIn('og1-coworking-nord', WED_1130),
      desks.reduce((n, d) => n + b.peopleIn(d.id, WED_1130), 0),
    );
    t.ok(b.peopleOnFloor('og1', WED_1130) > 30, 'coworking floor busy on a Wednesday morning');
    const night = Date.UTC(2026, 0, 14, 2, 0);
    t.equal(b.peopleOnFloor('og1', night), 0);
    const meter = site.devices.find((d) => d.id === 'og1-main-meter');
    if (!meter) throw new Error('og1-main-meter missing');
    t.equal(b.meterPowerW(meter, night), 1.5 * 2200, 'only the base load at night');
    const people = b.peopleOnFloor('og1', WED_1130);
    t.equal(b.meterPowerW(meter, WED_1130), 1.5 * 2200 + 60 * people + 6 * 2200, 'base + people + lighting');
  },
);
