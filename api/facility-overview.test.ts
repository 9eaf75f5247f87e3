import t from 'tap';
import type { SiteConfig } from '../site/site.ts';
import {
  type FacilityDeviceState,
  type FacilityReading,
  facilityOverview,
  freshForMs,
  localDayStart,
  type ProfileFacts,
} from './facility-overview.ts';

const MIN = 60_000;
const NOW = Date.parse('2026-07-01T10:00:00Z');

function site(): SiteConfig {
  return {
    site: { id: 'haus', name: 'Haus', timezone: 'Europe/Berlin' },
    // Listed upside down: the overview goes by level.
    floors: [
      { id: 'og1', name: 'Obergeschoss', level: 1, area_m2: 100 },
      { id: 'eg', name: 'Erdgeschoss', level: 0, area_m2: 100 },
    ],
    spaces: [
      { id: 'halle', name: 'Halle', floor: 'eg', kind: 'hall', area_m2: 80, capacity: 50 },
      { id: 'keller', name: 'Technik', floor: 'eg', kind: 'technical', area_m2: 10 },
      { id: 'raum', name: 'Raum', floor: 'og1', kind: 'meeting_room', area_m2: 20 },
      { id: 'platz', name: 'Platz', floor: 'og1', kind: 'desk', area_m2: 6, parent: 'raum' },
    ],
    devices: [
      { id: 'air-a', profile: 'air', topic: 'z/a', space: 'halle' },
      { id: 'air-b', profile: 'air', topic: 'z/b', space: 'halle' },
      { id: 'pres-a', profile: 'presence', topic: 'z/pa', space: 'halle' },
      { id: 'pres-b', profile: 'presence', topic: 'z/pb', space: 'halle' },
      { id: 'air-raum', profile: 'air', topic: 'z/r', space: 'raum' },
      { id: 'air-off', profile: 'air', topic: 'z/o', space: 'platz' },
      { id: 'main-a', profile: 'meter', topic: 's/a', space: 'keller', meter_role: 'main' },
      { id: 'main-b', profile: 'meter', topic: 's/b', space: 'keller', meter_role: 'main' },
      { id: 'main-c', profile: 'meter', topic: 's/c', space: 'keller', meter_role: 'main' },
      { id: 'plug', profile: 'meter', topic: 's/p', space: 'raum', meter_role: 'plug' },
      // A four-output switch in the technical room whose outputs 0 and 1 feed the hall and the room.
      {
        id: 'outputs',
        profile: 'meter',
        topic: 's/o',
        space: 'keller',
        meter_role: 'plug',
        channels: [
          { channel: 0, space: 'halle' },
          { channel: 1, space: 'raum' },
        ],
      },
    ],
  };
}

const profiles = new Map<string, ProfileFacts>([
  ['air', { quantities: ['co2', 'temperature', 'humidity', 'battery'], reportingIntervalS: 300 }],
  ['presence', { quantities: ['occupancy', 'battery'], reportingIntervalS: 3600 }],
  ['meter', { quantities: ['power', 'energy'], reportingIntervalS: 60 }],
]);

const r = (
  device: string,
  quantity: string,
  value: number | string,
  ago: number,
  channel = '0',
): FacilityReading => ({
  device,
  channel,
  quantity,
  value,
  ts: NOW - ago,
});

t.test('freshness: three reporting intervals, at least 15 minutes, 3 h without a profile', async (t) => {
  t.equal(freshForMs(300), 15 * MIN);
  t.equal(freshForMs(60), 15 * MIN, 'a fast meter still gets 15 minutes');
  t.equal(freshForMs(3600), 3 * 60 * MIN);
  t.equal(freshForMs(undefined), 3 * 60 * MIN);
});

t.test('local midnight in the site time zone, summer and winter', async (t) => {
  t.equal(localDayStart(NOW, 'Europe/Berlin'), Date.parse('2026-06-30T22:00:00Z'));
  t.equal(
    localDayStart(Date.parse('2026-07-01T23:30:00Z'), 'Europe/Berlin'),
    Date.parse('2026-07-01T22:00:00Z'),
    '01:30 local on 2 July belongs to 2 July',
  );
  t.equal(
    localDayStart(Date.parse('2026-01-15T12:00:00Z'), 'Europe/Berlin'),
    Date.parse('2026-01-14T23:00:00Z'),
  );
});

t.test(
  'the overview: floors by level, spaces, meters with the building total, devices, quarantine',
  async (t) => {
    const devices: FacilityDeviceState[] = [
      { device: 'air-a', online: true, lastSeen: NOW - 10 * MIN, battery: 80 },
      { device: 'air-b', online: true, lastSeen: NOW - 20 * MIN, battery: null },
      { device: 'pres-a', online: true, lastSeen: NOW - 30 * MIN, battery: 55 },
      { device: 'air-off', online: false, lastSeen: NOW - 2 * MIN, battery: 12 },
      { device: 'main-a', online: null, lastSeen: null, battery: null },
    ];
    const readings: FacilityReading[] = [
      r('air-a', 'co2', 900, 2 * MIN),
      r('air-b', 'co2', 1200, 5 * MIN),
      r('air-a', 'temperature', 21, 2 * MIN),
      r('air-b', 'temperature', 22, 5 * MIN),
      r('air-a', 'humidity', 40, 2 * MIN),
      r('pres-a', 'occupancy', 0, 30 * MIN),
      r('pres-b', 'occupancy', 1, 50 * MIN),
      // Older than 15 minutes: the last known value, marked stale.
      r('air-raum', 'co2', 2400, 40 * MIN),
      r('air-raum', 'co2', 2100, 90 * MIN), // an older one of the same series never wins
      // Fresh, but the gateway says the device is offline.
      r('air-off', 'co2', 650, 1 * MIN),
      r('main-a', 'power', 1500, 1 * MIN),
      r('main-a', 'energy', 10_000.5, 1 * MIN),
      r('main-b', 'power', 500, 1 * MIN),
      // main-c measures three phases: its power and counter are their sums.
      r('main-c', 'power', 300, 1 * MIN, '0'),
      r('main-c', 'power', 200, 2 * MIN, '1'),
      r('main-c', 'power', 100, 3 * MIN, '2'),
      r('main-c', 'energy', 1000, 1 * MIN, '0'),
      r('main-c', 'energy', 2000, 2 * MIN, '1'),
      r('main-c', 'energy', 3000.25, 3 * MIN, '2'),
      r('outputs', 'power', 60, 1 * MIN, '0'),
      r('outputs', 'power', 40, 40 * MIN, '1'),
      r('plug', 'power', 40, 1 * MIN),
      r('plug', 'temperature', 35, 1 * MIN), // the plug's own relay, not the room
      r('air-a', 'lock', 'locked', 1 * MIN), // not a quantity the air sensor's family reports
    ];
    const overview = facilityOverview({
      site: site(),
      now: NOW,
      readings,
      devices,
      profiles,
      consumptionToday: new Map([
        ['main-a', 12.5],
        ['main-b', 3.25],
        ['main-c', 7],
        ['plug', 0.4],
      ]),
      quarantine: { unknown_topic: 3, decode_error: 2 },
    });

    t.equal(overview.dayStart, Date.parse('2026-06-30T22:00:00Z'));
    t.same(
      overview.floors.map((f) => [f.id, f.spaces.map((s) => s.id)]),
      [
        ['eg', ['halle', 'keller']],
        ['og1', ['raum', 'platz']],
      ],
    );
    const [eg, og1] = overview.floors;
    const halle = eg?.spaces[0];
    t.same(halle, {
      id: 'halle',
      name: 'Halle',
      kind: 'hall',
      parent: null,
      capacity: 50,
      // What the sensors measure about the hall, not their batteries; in the order of building/quantities.ts.
      measures: ['occupancy', 'co2', 'temperature', 'humidity'],
      // Someone seen by one of two sensors: occupied; the newest report's time.
      occupied: { value: true, ts: NOW - 30 * MIN, stale: false },
      co2Level: 'elevated',
      readings: {
        occupancy: { value: 1, ts: NOW - 30 * MIN, stale: false },
        // The worst air of two sensors.
        co2: { value: 1200, ts: NOW - 2 * MIN, stale: false },
        temperature: { value: 21.5, ts: NOW - 2 * MIN, stale: false },
        humidity: { value: 40, ts: NOW - 2 * MIN, stale: false },
      },
      // The meters here switch nothing (their family has no actions).
      controls: [],
    });
    const keller = eg?.spaces[1];
    t.same(
      [keller?.measures, keller?.occupied, keller?.readings, keller?.co2Level],
      [[], null, {}, null],
      'no sensors: nothing',
    );
    t.same(og1?.spaces[0]?.readings.co2, { value: 2400, ts: NOW - 40 * MIN, stale: true });
    t.equal(og1?.spaces[0]?.co2Level, 'poor');
    t.equal(og1?.spaces[0]?.readings.temperature, undefined, "a meter's own temperature is not the room's");
    t.same(og1?.spaces[1]?.readings.co2, { value: 650, ts: NOW - MIN, stale: true }, 'offline device: stale');
    t.equal(og1?.spaces[1]?.parent, 'raum');

    t.same(
      overview.energy.meters.map((m) => [m.device, m.role, m.powerW?.value ?? null, m.todayKwh]),
      [
        ['main-a', 'main', 1500, 12.5],
        ['main-b', 'main', 500, 3.25],
        ['main-c', 'main', 600, 7],
        ['plug', 'plug', 40, 0.4],
        ['outputs', 'plug', 100, null],
      ],
    );
    t.same(overview.energy.meters[0]?.counterKwh, { value: 10_000.5, ts: NOW - MIN, stale: false });
    t.same(
      overview.energy.meters[2]?.counterKwh,
      { value: 6000.25, ts: NOW - MIN, stale: false },
      'the counter of a three-phase meter is the sum of its phases',
    );
    t.same(
      overview.energy.meters[2]?.channels.map((c) => [
        c.channel,
        c.space,
        c.powerW?.value,
        c.counterKwh?.value,
      ]),
      [
        ['0', 'keller', 300, 1000],
        ['1', 'keller', 200, 2000],
        ['2', 'keller', 100, 3000.25],
      ],
    );
    t.same(
      overview.energy.meters[4]?.channels,
      [
        {
          channel: '0',
          space: 'halle',
          powerW: { value: 60, ts: NOW - MIN, stale: false },
          counterKwh: null,
        },
        {
          channel: '1',
          space: 'raum',
          powerW: { value: 40, ts: NOW - 40 * MIN, stale: true },
          counterKwh: null,
        },
      ],
      'each output in the space the site file gives it',
    );
    t.same(
      overview.energy.meters[4]?.powerW,
      { value: 100, ts: NOW - MIN, stale: true },
      'stale when one is',
    );
    t.same(
      overview.energy.total,
      { meters: ['main-a', 'main-b', 'main-c'], powerW: 2600, todayKwh: 22.75 },
      'the main meters only, every phase of each',
    );
    t.equal(halle?.readings.co2?.value, 1200, "a meter's channel in a room is no sensor of that room");

    t.equal(overview.devices.list.length, 11);
    t.same(
      [overview.devices.online, overview.devices.offline, overview.devices.unknown],
      [3, 1, 7],
      'unknown: not in the gateway announcements, or announced as null',
    );
    const byId = new Map(overview.devices.list.map((d) => [d.id, d]));
    t.same(byId.get('air-a'), {
      id: 'air-a',
      profile: 'air',
      space: 'halle',
      floor: 'eg',
      online: true,
      lastSeen: NOW - 10 * MIN,
      battery: 80,
      reportingIntervalS: 300,
      sleeping: false,
      silent: false,
    });
    t.equal(byId.get('air-b')?.silent, true, '20 minutes without a word from a 5-minute sensor');
    t.equal(byId.get('pres-a')?.silent, false, '30 minutes are nothing for an hourly sensor');
    t.equal(byId.get('main-a')?.silent, true, 'never heard');
    t.equal(overview.devices.silent, 8, 'air-b and the seven never heard');
    t.same(overview.quarantine, {
      total: 5,
      byReason: { unknown_topic: 3, decode_error: 2 },
      unattributed: 0,
    });
  },
);

t.test('any quantity a space is measured by shows, with the rule of its class', async (t) => {
  const base = site();
  const building: SiteConfig = {
    ...base,
    spaces: [
      ...base.spaces,
      { id: 'lager', name: 'Lager', floor: 'eg', kind: 'technical', area_m2: 15 },
      { id: 'eingang', name: 'Eingang', floor: 'eg', kind: 'circulation', area_m2: 30 },
    ],
    devices: [
      { id: 'air-a', profile: 'air', topic: 'z/a', space: 'halle' },
      // A second sensor's temperature in the hall, and one alone in the store room.
      { id: 'ht-halle', profile: 'ht', topic: 'h/h', space: 'halle' },
      { id: 'ht-lager', profile: 'ht', topic: 'h/l', space: 'lager' },
      { id: 'pres-a', profile: 'presence-lux', topic: 'z/pa', space: 'halle' },
      // A door with a contact and a lock with its own door sensor.
      { id: 'contact', profile: 'contact', topic: 'z/c', space: 'eingang' },
      { id: 'lock', profile: 'lock', topic: 'n/l', space: 'eingang' },
      { id: 'plug', profile: 'meter', topic: 's/p', space: 'lager', meter_role: 'plug' },
    ],
  };
  const more = new Map<string, ProfileFacts>([
    ...profiles,
    [
      'ht',
      { quantities: ['temperature', 'humidity', 'battery'], reportingIntervalS: 6 * 3600, sleeping: true },
    ],
    [
      'presence-lux',
      { quantities: ['occupancy', 'illuminance', 'battery', 'linkquality'], reportingIntervalS: 3600 },
    ],
    ['contact', { quantities: ['door', 'battery', 'linkquality'], reportingIntervalS: 3600 }],
    ['lock', { quantities: ['lock', 'door', 'battery', 'battery_low'], reportingIntervalS: 3600 }],
  ]);
  const overview = facilityOverview({
    site: building,
    now: NOW,
    readings: [
      r('air-a', 'temperature', 21, 2 * MIN),
      r('ht-halle', 'temperature', 22.5, 3 * 60 * MIN),
      r('ht-lager', 'temperature', 14.25, 4 * 60 * MIN),
      r('ht-lager', 'humidity', 71, 4 * 60 * MIN),
      r('ht-lager', 'battery', 88, 4 * 60 * MIN),
      r('pres-a', 'illuminance', 320, 5 * MIN),
      r('pres-a', 'linkquality', 120, 5 * MIN),
      r('contact', 'door', 'open', 10 * MIN),
      r('lock', 'door', 'closed', 20 * MIN),
      r('lock', 'door', 'locked', 1 * MIN), // a lock word is no door word
      r('lock', 'lock', 'locked', 20 * MIN),
      r('contact', 'door', 1, 1 * MIN), // a number is no door word
      r('plug', 'temperature', 40, 1 * MIN),
    ],
    devices: [],
    profiles: more,
    consumptionToday: new Map(),
    quarantine: {},
  });
  const spaces = new Map(overview.floors.flatMap((f) => f.spaces.map((s) => [s.id, s])));
  const halle = spaces.get('halle');
  t.same(halle?.measures, ['occupancy', 'co2', 'temperature', 'humidity', 'illuminance']);
  t.same(
    halle?.readings.temperature,
    { value: 21.75, ts: NOW - 2 * MIN, stale: false },
    "a second sensor's temperature: the mean of both, the sleeping one current for three of its intervals",
  );
  t.same(halle?.readings.illuminance, { value: 320, ts: NOW - 5 * MIN, stale: false });
  t.equal(halle?.occupied, null, 'no presence reported yet');
  t.notOk('linkquality' in (halle?.readings ?? {}), "a sensor's radio is not the hall's");

  const lager = spaces.get('lager');
  t.same(lager?.measures, ['temperature', 'humidity'], "the plug's relay does not measure the room");
  t.same(lager?.readings, {
    temperature: { value: 14.25, ts: NOW - 4 * 60 * MIN, stale: false },
    humidity: { value: 71, ts: NOW - 4 * 60 * MIN, stale: false },
  });

  const eingang = spaces.get('eingang');
  t.same(eingang?.measures, ['lock', 'door']);
  t.same(eingang?.readings, {
    lock: { value: 'locked', ts: NOW - 20 * MIN, stale: false },
    // Two sensors of one door: the newest word.
    door: { value: 'open', ts: NOW - 10 * MIN, stale: false },
  });
  t.same([eingang?.occupied, eingang?.co2Level], [null, null]);
  const sleepers = overview.devices.list.filter((d) => d.sleeping).map((d) => d.id);
  t.same(sleepers, ['ht-halle', 'ht-lager'], 'the devices whose family sleeps between reports');
});

t.test(
  'controls: every output that feeds a space and every valve in it, with what the device last said',
  async (t) => {
    const switching: ProfileFacts = {
      quantities: ['power', 'energy', 'switch'],
      reportingIntervalS: 60,
      actions: ['switch_on', 'switch_off'],
    };
    const valve: ProfileFacts = {
      quantities: ['temperature', 'setpoint', 'valve'],
      reportingIntervalS: 600,
      actions: ['set_setpoint'],
      actionValues: { set_setpoint: { unit: '°C', min: 5, max: 30, step: 0.5 } },
    };
    const house = site();
    house.devices.push({ id: 'trv', profile: 'valve', topic: 'z/trv', space: 'raum' });
    const overview = facilityOverview({
      site: house,
      now: NOW,
      readings: [
        r('outputs', 'switch', 'off', 2 * MIN, '1'),
        r('outputs', 'switch', 'on', 2 * MIN, '3'),
        r('plug', 'switch', 'on', 40 * MIN),
        r('trv', 'setpoint', 21, 5 * MIN),
        r('trv', 'temperature', 19.5, 5 * MIN),
      ],
      devices: [],
      profiles: new Map([...profiles, ['meter', switching], ['valve', valve]]),
      consumptionToday: new Map(),
      quarantine: {},
    });
    const spaces = new Map(overview.floors.flatMap((f) => f.spaces).map((s) => [s.id, s]));
    t.same(spaces.get('halle')?.controls, [
      { device: 'outputs', channel: '0', kind: 'switch', state: null, range: null },
    ]);
    t.same(spaces.get('raum')?.controls, [
      {
        device: 'plug',
        channel: '0',
        kind: 'switch',
        state: { value: 'on', ts: NOW - 40 * MIN, stale: true },
        range: null,
      },
      {
        device: 'outputs',
        channel: '1',
        kind: 'switch',
        state: { value: 'off', ts: NOW - 2 * MIN, stale: false },
        range: null,
      },
      {
        device: 'trv',
        channel: '0',
        kind: 'setpoint',
        state: { value: 21, ts: NOW - 5 * MIN, stale: false },
        range: { min: 5, max: 30, step: 0.5, unit: '°C' },
      },
    ]);
    // Output 3 reported but the site file places no space for it: the device's own space (the technical room).
    // The main meters' relays are no controls.
    t.same(
      spaces.get('keller')?.controls.map((c) => [c.device, c.channel]),
      [['outputs', '3']],
    );
    t.same(
      spaces.get('raum')?.measures,
      ['co2', 'temperature', 'humidity', 'setpoint', 'valve'],
      "the valve's setpoint and opening are what the room shows beside its air",
    );
    t.equal(spaces.get('raum')?.readings.setpoint?.value, 21, "the valve's setpoint is the room's");
  },
);

t.test("a radiator valve's temperature is the valve's own, not the room's", async (t) => {
  const base = site();
  const building: SiteConfig = {
    ...base,
    devices: [
      { id: 'air-a', profile: 'air', topic: 'z/a', space: 'halle' },
      { id: 'valve', profile: 'valve', topic: 'z/v', space: 'halle' },
    ],
  };
  const withValve = new Map<string, ProfileFacts>([
    ...profiles,
    [
      'valve',
      {
        quantities: ['temperature', 'setpoint', 'valve', 'battery'],
        reportingIntervalS: 600,
        actions: ['set_setpoint'],
        actionValues: { set_setpoint: { min: 5, max: 30, step: 0.5, unit: '°C' } },
      },
    ],
  ]);
  const overview = facilityOverview({
    site: building,
    now: NOW,
    readings: [
      r('air-a', 'temperature', 20, 2 * MIN),
      // Measured at the radiator, newer than the room's sensor: the room's mean would be 23.
      r('valve', 'temperature', 26, 1 * MIN),
      r('valve', 'setpoint', 21, 1 * MIN),
    ],
    devices: [],
    profiles: withValve,
    consumptionToday: new Map(),
    quarantine: {},
  });
  const halle = overview.floors.flatMap((f) => f.spaces).find((s) => s.id === 'halle');
  t.same(halle?.readings.temperature, { value: 20, ts: NOW - 2 * MIN, stale: false }, 'the air sensor alone');
  t.same(halle?.readings.setpoint, { value: 21, ts: NOW - 1 * MIN, stale: false }, "the valve's setpoint is");
  t.same(
    halle?.controls.map((c) => [c.device, c.kind]),
    [['valve', 'setpoint']],
    'the valve is a control of the hall',
  );
});
