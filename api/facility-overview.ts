import Type, { type Static } from 'typebox';
import {
  fitsQuantity,
  isAboutSurroundings,
  isQuantity,
  QUANTITIES,
  QUANTITY_NAMES,
  type Quantity,
  reportsCounter,
} from '../building/quantities.ts';
import type { ActionValue, DeviceAction } from '../device-profiles/profile.ts';
import { channelSpace } from '../site/channels.ts';
import { addDays, fromLocal, toLocal } from '../site/local-time.ts';
import type { SiteConfig } from '../site/site.ts';
import { CO2_ELEVATED_PPM, CO2_POOR_PPM, co2Level } from './lobby-availability.ts';

/**
 * What the facility manager sees at a glance: every floor with its spaces (whatever their sensors measure
 * about them: presence, air, light, doors), the meters
 * (power now, energy since local midnight), device health and the quarantine. Pure: the route hands in
 * the time, the latest readings, what the gateway says about each device, today's consumption per meter
 * and the quarantine counts; nothing here does I/O.
 *
 * Readings are judged the way the lobby judges them (api/lobby-availability.ts): a reading counts as
 * current for three reporting intervals of its device (at least 15 minutes), and never while the gateway
 * says the device is offline. When no current reading is left, the newest one is still shown, marked
 * stale, because the facility manager wants to see the last known value, not a blank.
 */

/** Without a profile's interval: occupancy sensors report at least hourly, three missed reports. */
const DEFAULT_FRESH_MS = 3 * 3_600_000;
const MIN_FRESH_MS = 15 * 60_000;

const Measured = Type.Union([
  Type.Object({
    value: Type.Number(),
    ts: Type.Number({ description: 'epoch ms of the newest reading behind the value' }),
    stale: Type.Boolean({ description: 'no current reading: the last known value' }),
  }),
  Type.Null(),
]);
export type Measured = Static<typeof Measured>;

const SpaceReading = Type.Object({
  value: Type.Union([Type.Number(), Type.String()], {
    description: 'in the unit of building/quantities.ts; a state is one of its words, yes/no is 1/0',
  }),
  ts: Type.Number({ description: 'epoch ms of the newest reading behind the value' }),
  stale: Type.Boolean({ description: 'no current reading: the last known value' }),
});
export type SpaceReading = Static<typeof SpaceReading>;

const Co2LevelOut = Type.Union([
  Type.Literal('good'),
  Type.Literal('elevated'),
  Type.Literal('poor'),
  Type.Null(),
]);

export const FacilityControl = Type.Object(
  {
    device: Type.String(),
    channel: Type.String({
      description: "the device's output this control switches (0 for a device with one)",
    }),
    kind: Type.Union([Type.Literal('switch'), Type.Literal('setpoint')], {
      description: 'switch: switch_on/switch_off; setpoint: set_setpoint with a value in `range`',
    }),
    state: Type.Union([SpaceReading, Type.Null()], {
      description:
        'what the device last reported: on/off for a switch, °C for a setpoint; null before it did',
    }),
    range: Type.Union(
      [
        Type.Object({ min: Type.Number(), max: Type.Number(), step: Type.Number(), unit: Type.String() }),
        Type.Null(),
      ],
      { description: "a setpoint's range and steps as the device's family declares them" },
    ),
  },
  { description: 'something in the space the facility may command (POST /api/devices/:id/commands)' },
);
export type FacilityControl = Static<typeof FacilityControl>;

export const FacilitySpace = Type.Object({
  id: Type.String(),
  name: Type.String(),
  kind: Type.String(),
  parent: Type.Union([Type.String(), Type.Null()], { description: 'the desk area a desk belongs to' }),
  capacity: Type.Union([Type.Integer(), Type.Null()]),
  measures: Type.Array(Type.String(), {
    description:
      "what the space's sensors measure about it (not their batteries or radio; not a meter's), in the order of " +
      'building/quantities.ts, whose descriptions give each its label, unit and decimals',
  }),
  occupied: Type.Union(
    [Type.Object({ value: Type.Boolean(), ts: Type.Number(), stale: Type.Boolean() }), Type.Null()],
    { description: 'someone there: one of its presence sensors sees someone' },
  ),
  co2Level: Co2LevelOut,
  readings: Type.Record(Type.String(), SpaceReading, {
    description:
      'per quantity measured, once a sensor reported it: the value of the space. Several sensors: the worst ' +
      'CO2 (the air people breathe somewhere in it), someone present if one sees someone, the mean of other ' +
      'measurements, the newest state word',
  }),
  controls: Type.Array(FacilityControl, {
    description:
      "the outputs that feed the space (a plug, a Pro 4PM's output placed here) and its radiator valves",
  }),
});
export type FacilitySpace = Static<typeof FacilitySpace>;

export const FacilityMeter = Type.Object({
  device: Type.String(),
  space: Type.String(),
  floor: Type.String(),
  role: Type.Union([Type.String(), Type.Null()], {
    description: 'meter_role in the site file (main, plug…)',
  }),
  powerW: Measured,
  counterKwh: Measured,
  todayKwh: Type.Union([Type.Number(), Type.Null()], {
    description: 'consumed since local midnight, from the counter (reset-aware); null without readings today',
  }),
  channels: Type.Array(
    Type.Object({
      channel: Type.String(),
      space: Type.String({ description: "the channel's space: its own in the site file, else the meter's" }),
      powerW: Measured,
      counterKwh: Measured,
    }),
    {
      description:
        "the channels (phases, outputs) that reported; the meter's powerW and counterKwh are their sums, stale when one is",
    },
  ),
});
export type FacilityMeter = Static<typeof FacilityMeter>;

export const FacilityDevice = Type.Object({
  id: Type.String(),
  profile: Type.String(),
  space: Type.String(),
  floor: Type.String(),
  online: Type.Union([Type.Boolean(), Type.Null()], {
    description: 'as the gateway announced; null if not yet',
  }),
  lastSeen: Type.Union([Type.Number(), Type.Null()]),
  battery: Type.Union([Type.Number(), Type.Null()]),
  reportingIntervalS: Type.Union([Type.Number(), Type.Null()]),
  sleeping: Type.Boolean({
    description: 'its family sleeps between reports (off the network, its last will said): not an outage',
  }),
  silent: Type.Boolean({ description: 'not heard for three reporting intervals (or never)' }),
});
export type FacilityDevice = Static<typeof FacilityDevice>;

export const FacilityOverview = Type.Object({
  site: Type.Object({ id: Type.String(), name: Type.String(), timezone: Type.String() }),
  at: Type.Number({ description: 'epoch ms the overview was computed at' }),
  dayStart: Type.Number({ description: "epoch ms of today's local midnight in the site's time zone" }),
  co2Thresholds: Type.Object({ elevatedPpm: Type.Number(), poorPpm: Type.Number() }),
  floors: Type.Array(
    Type.Object({
      id: Type.String(),
      name: Type.String(),
      level: Type.Integer(),
      spaces: Type.Array(FacilitySpace),
    }),
  ),
  energy: Type.Object({
    meters: Type.Array(FacilityMeter),
    total: Type.Object(
      {
        meters: Type.Array(Type.String(), { description: 'the meters with meter_role main' }),
        powerW: Type.Union([Type.Number(), Type.Null()]),
        todayKwh: Type.Union([Type.Number(), Type.Null()]),
      },
      { description: 'the building: the sum of the main meters (sub-meters are inside them)' },
    ),
  }),
  devices: Type.Object({
    online: Type.Integer(),
    offline: Type.Integer(),
    unknown: Type.Integer({ description: 'the gateway has not said anything about them yet' }),
    silent: Type.Integer(),
    list: Type.Array(FacilityDevice),
  }),
  quarantine: Type.Object({
    total: Type.Integer({
      description:
        "this house's devices' unreadable messages and those whose topic names no device of any house",
    }),
    byReason: Type.Record(Type.String(), Type.Integer()),
    unattributed: Type.Integer({
      description:
        "of the total, the messages whose topic names no device of any house: the installation's, the same in every house",
    }),
  }),
});
export type FacilityOverview = Static<typeof FacilityOverview>;

export interface FacilityReading {
  device: string;
  channel: string;
  quantity: string;
  value: number | string;
  ts: number;
}

export interface FacilityDeviceState {
  device: string;
  online: boolean | null;
  lastSeen: number | null;
  battery: number | null;
}

export interface ProfileFacts {
  quantities: readonly Quantity[];
  reportingIntervalS: number;
  /** The family's devices sleep between reports (device-profiles/profile.ts). */
  sleeping?: boolean;
  /** What the family's devices carry out (device-profiles/profile.ts), for the controls of their spaces. */
  actions?: readonly DeviceAction[];
  actionValues?: Partial<Record<DeviceAction, ActionValue>>;
}

export interface FacilityInputs {
  site: SiteConfig;
  now: number;
  /** The newest reading per device and quantity (store and live feed merged). */
  readings: readonly FacilityReading[];
  /** What the gateway last said about each device; devices missing here count as unknown. */
  devices: readonly FacilityDeviceState[];
  /** Device profiles by profile id. */
  profiles: ReadonlyMap<string, ProfileFacts>;
  /** kWh consumed since local midnight per meter device (only meters with readings today). */
  consumptionToday: ReadonlyMap<string, number>;
  /** Quarantined messages by reason, all-time: this house's devices' and the unattributed. */
  quarantine: Readonly<Record<string, number>>;
  /** Of those, the ones whose topic names no device of any house (the installation's); default none. */
  quarantineUnattributed?: Readonly<Record<string, number>>;
}

/** How long a device's reading stands for "now": three reporting intervals, at least 15 minutes. */
export function freshForMs(reportingIntervalS: number | undefined): number {
  if (reportingIntervalS === undefined) return DEFAULT_FRESH_MS;
  return Math.max(3 * reportingIntervalS * 1000, MIN_FRESH_MS);
}

/** Local midnight of the day `now` falls in, in the site's time zone. */
export function localDayStart(now: number, timeZone: string): number {
  return fromLocal(toLocal(now, timeZone), 0, timeZone);
}

/**
 * A meter: its family reports a counter (building/quantities.ts). The site file's meter_role says how
 * meters add up (the main ones are the building), not whether a device is one.
 */
const isMeter = (facts: ProfileFacts | undefined): boolean => reportsCounter(facts?.quantities ?? []);

interface Judged {
  value: number | string;
  ts: number;
  fresh: boolean;
}

type SpaceRule = (newestFirst: Judged[]) => number | string;

const mean: SpaceRule = (list) => list.reduce((a, j) => a + Number(j.value), 0) / list.length;
const worst: SpaceRule = (list) => Math.max(...list.map((j) => Number(j.value)));
const anyYes: SpaceRule = (list) => (list.some((j) => j.value !== 0) ? 1 : 0);
const newest: SpaceRule = (list) => (list[0] as Judged).value;

/**
 * Several sensors of one quantity in one space: the building's rule where it has one, the worst CO2 (the
 * air people breathe somewhere in it, as on the lobby screen); else by the quantity's class: someone
 * there if any sees someone, the mean of a measurement, the newest state.
 */
function spaceRule(quantity: Quantity): SpaceRule {
  if (quantity === 'co2') return worst;
  const kind = QUANTITIES[quantity].class;
  return kind === 'binary' ? anyYes : kind === 'measurement' ? mean : newest;
}

export function facilityOverview(inputs: FacilityInputs): FacilityOverview {
  const { site, now, profiles } = inputs;
  const deviceById = new Map(site.devices.map((d) => [d.id, d]));
  const floorOfSpace = new Map(site.spaces.map((s) => [s.id, s.floor]));
  const state = new Map(inputs.devices.map((d) => [d.device, d]));
  const factsOf = (deviceId: string) => {
    const device = deviceById.get(deviceId);
    return device ? profiles.get(device.profile) : undefined;
  };
  const freshMs = (deviceId: string) => freshForMs(factsOf(deviceId)?.reportingIntervalS);

  // Newest reading per device, quantity and channel (a number, or a word of a state), judged current or stale.
  const judged = new Map<string, Map<string, Map<string, Judged>>>();
  for (const r of inputs.readings) {
    if (!isQuantity(r.quantity) || !fitsQuantity(r.quantity, r.value) || !deviceById.has(r.device)) continue;
    let perQuantity = judged.get(r.device);
    if (!perQuantity) {
      perQuantity = new Map();
      judged.set(r.device, perQuantity);
    }
    let perChannel = perQuantity.get(r.quantity);
    if (!perChannel) {
      perChannel = new Map();
      perQuantity.set(r.quantity, perChannel);
    }
    const held = perChannel.get(r.channel);
    if (held && held.ts >= r.ts) continue;
    const fresh = state.get(r.device)?.online !== false && r.ts + freshMs(r.device) > now;
    perChannel.set(r.channel, { value: r.value, ts: r.ts, fresh });
  }
  const channelsOf = (deviceId: string, quantity: string): [string, Judged][] =>
    [...(judged.get(deviceId)?.get(quantity) ?? [])].sort(([a], [b]) =>
      a.localeCompare(b, 'en', { numeric: true }),
    );

  // A meter's temperature is its own (a plug's relay), not the room's: rooms are judged by their sensors.
  const devicesIn = new Map<string, string[]>();
  for (const d of site.devices) {
    if (isMeter(profiles.get(d.profile))) continue;
    devicesIn.set(d.space, [...(devicesIn.get(d.space) ?? []), d.id]);
  }

  // A radiator valve's temperature is measured at the radiator, warmed by what it controls: the valve's own,
  // not the room's (the room's comes from its air sensors). The page's live updates follow the same rule.
  const radiatorValves = new Set(
    site.devices.filter((d) => profiles.get(d.profile)?.actions?.includes('set_setpoint')).map((d) => d.id),
  );
  const measuresRoom = (deviceId: string, quantity: Quantity) =>
    quantity !== 'temperature' || !radiatorValves.has(deviceId);

  /** The space's readings of one quantity: the current ones if any, else the newest stale one; newest first. */
  const spaceReadings = (spaceId: string, quantity: Quantity): { list: Judged[]; stale: boolean } => {
    const all = (devicesIn.get(spaceId) ?? [])
      .filter((d) => measuresRoom(d, quantity))
      .flatMap((d) => channelsOf(d, quantity).map(([, j]) => j))
      .sort((a, b) => b.ts - a.ts);
    const fresh = all.filter((j) => j.fresh);
    if (fresh.length > 0) return { list: fresh, stale: false };
    return { list: all.slice(0, 1), stale: true };
  };
  const newestTs = (list: Judged[]) => Math.max(...list.map((j) => j.ts));
  const combine = (spaceId: string, quantity: Quantity): SpaceReading | null => {
    const { list, stale } = spaceReadings(spaceId, quantity);
    if (list.length === 0) return null;
    return { value: spaceRule(quantity)(list), ts: newestTs(list), stale };
  };

  /**
   * What the facility can command in each space: every output of a switching device (not a main meter), in
   * the space the site file places its channel (a plug without channels has one, 0, in its own space; a channel that reported is
   * one too), and each radiator valve in its space.
   */
  const controlsIn = new Map<string, FacilityControl[]>();
  const stateOf = (deviceId: string, quantity: Quantity, channel: string): SpaceReading | null => {
    const j = judged.get(deviceId)?.get(quantity)?.get(channel);
    return j ? { value: j.value, ts: j.ts, stale: !j.fresh } : null;
  };
  for (const d of site.devices) {
    const facts = profiles.get(d.profile);
    // A main meter's relay (a 3EM's contactor output) is the whole floor: not a control of a room's view.
    const actions = d.meter_role === 'main' ? [] : (facts?.actions ?? []);
    const add = (channel: string, control: FacilityControl) => {
      const space = channelSpace(d, channel);
      controlsIn.set(space, [...(controlsIn.get(space) ?? []), control]);
    };
    if (actions.includes('switch_on') && actions.includes('switch_off')) {
      const channels = new Set([
        ...(d.channels?.length ? d.channels.map((c) => String(c.channel)) : ['0']),
        ...channelsOf(d.id, 'switch').map(([c]) => c),
      ]);
      for (const channel of [...channels].sort((a, b) => a.localeCompare(b, 'en', { numeric: true })))
        add(channel, {
          device: d.id,
          channel,
          kind: 'switch',
          state: stateOf(d.id, 'switch', channel),
          range: null,
        });
    }
    const setpoint = facts?.actionValues?.set_setpoint;
    if (actions.includes('set_setpoint') && setpoint)
      add('0', {
        device: d.id,
        channel: '0',
        kind: 'setpoint',
        state: stateOf(d.id, 'setpoint', '0'),
        range: { min: setpoint.min, max: setpoint.max, step: setpoint.step, unit: setpoint.unit },
      });
  }

  const floors = [...site.floors]
    .sort((a, b) => a.level - b.level)
    .map((floor) => ({
      id: floor.id,
      name: floor.name,
      level: floor.level,
      spaces: site.spaces
        .filter((s) => s.floor === floor.id)
        .map((space): FacilitySpace => {
          const declared = new Set<string>();
          for (const id of devicesIn.get(space.id) ?? [])
            for (const q of factsOf(id)?.quantities ?? []) declared.add(q);
          const measures = QUANTITY_NAMES.filter((q) => declared.has(q) && isAboutSurroundings(q));
          const readings: Record<string, SpaceReading> = {};
          for (const quantity of measures) {
            const value = combine(space.id, quantity);
            if (value) readings[quantity] = value;
          }
          const { occupancy, co2 } = readings;
          return {
            id: space.id,
            name: space.name,
            kind: space.kind,
            parent: space.parent ?? null,
            capacity: space.capacity ?? null,
            measures,
            occupied: occupancy
              ? { value: occupancy.value !== 0, ts: occupancy.ts, stale: occupancy.stale }
              : null,
            co2Level: co2 ? co2Level(Number(co2.value)) : null,
            readings,
            controls: controlsIn.get(space.id) ?? [],
          };
        }),
    }));

  // A meter is the sum of its channels (the phases of a 3EM, the outputs of a Pro 4PM).
  const measured = (deviceId: string, quantity: 'power' | 'energy'): Measured => {
    const list = channelsOf(deviceId, quantity).map(([, j]) => j);
    if (list.length === 0) return null;
    return {
      value: list.reduce((a, j) => a + Number(j.value), 0),
      ts: newestTs(list),
      stale: list.some((j) => !j.fresh),
    };
  };
  const meters: FacilityMeter[] = site.devices
    .filter((d) => isMeter(profiles.get(d.profile)))
    .map((d) => ({
      device: d.id,
      space: d.space,
      floor: floorOfSpace.get(d.space) ?? '',
      role: d.meter_role ?? null,
      powerW: measured(d.id, 'power'),
      counterKwh: measured(d.id, 'energy'),
      todayKwh: inputs.consumptionToday.get(d.id) ?? null,
      channels: [...new Set([...channelsOf(d.id, 'power'), ...channelsOf(d.id, 'energy')].map(([c]) => c))]
        .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
        .map((channel) => {
          const of = (quantity: 'power' | 'energy'): Measured => {
            const j = judged.get(d.id)?.get(quantity)?.get(channel);
            return j ? { value: Number(j.value), ts: j.ts, stale: !j.fresh } : null;
          };
          return { channel, space: channelSpace(d, channel), powerW: of('power'), counterKwh: of('energy') };
        }),
    }));
  const main = meters.filter((m) => m.role === 'main');
  const sum = (values: (number | null)[]) => {
    const known = values.filter((v): v is number => v !== null);
    return known.length === 0 ? null : known.reduce((a, b) => a + b, 0);
  };

  const list: FacilityDevice[] = site.devices.map((d) => {
    const s = state.get(d.id);
    const interval = profiles.get(d.profile)?.reportingIntervalS;
    const lastSeen = s?.lastSeen ?? null;
    return {
      id: d.id,
      profile: d.profile,
      space: d.space,
      floor: floorOfSpace.get(d.space) ?? '',
      online: s?.online ?? null,
      lastSeen,
      battery: s?.battery ?? null,
      reportingIntervalS: interval ?? null,
      sleeping: profiles.get(d.profile)?.sleeping === true,
      silent: lastSeen === null || now - lastSeen > freshForMs(interval),
    };
  });

  return {
    site: { id: site.site.id, name: site.site.name, timezone: site.site.timezone },
    at: now,
    dayStart: localDayStart(now, site.site.timezone),
    co2Thresholds: { elevatedPpm: CO2_ELEVATED_PPM, poorPpm: CO2_POOR_PPM },
    floors,
    energy: {
      meters,
      total: {
        meters: main.map((m) => m.device),
        powerW: sum(main.map((m) => m.powerW?.value ?? null)),
        todayKwh: sum(main.map((m) => m.todayKwh)),
      },
    },
    devices: {
      online: list.filter((d) => d.online === true).length,
      offline: list.filter((d) => d.online === false).length,
      unknown: list.filter((d) => d.online === null).length,
      silent: list.filter((d) => d.silent).length,
      list,
    },
    quarantine: {
      total: Object.values(inputs.quarantine).reduce((a, b) => a + b, 0),
      byReason: { ...inputs.quarantine },
      unattributed: Object.values(inputs.quarantineUnattributed ?? {}).reduce((a, b) => a + b, 0),
    },
  };
}

/** The local calendar days ending with today, oldest first: each from its midnight to the next. */
export function localDays(
  now: number,
  count: number,
  timeZone: string,
): { date: string; from: number; to: number }[] {
  const today = toLocal(now, timeZone);
  const days: { date: string; from: number; to: number }[] = [];
  for (let back = count - 1; back >= 0; back--) {
    const date = addDays(today, -back);
    const next = addDays(date, 1);
    days.push({
      date: `${date.year}-${String(date.month).padStart(2, '0')}-${String(date.day).padStart(2, '0')}`,
      from: fromLocal(date, 0, timeZone),
      to: fromLocal(next, 0, timeZone),
    });
  }
  return days;
}
