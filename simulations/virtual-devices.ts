import type { DeviceConfig } from '../site/site.ts';
import {
  advanceCo2,
  advanceCounter,
  type CounterState,
  chance,
  DAY_MS,
  meterRebootAt,
  OUTDOOR_CO2_PPM,
  spaceVolumeM3,
} from './physics.ts';
import type { SimulatedBuilding } from './simulated-building.ts';

/**
 * Virtual devices: each one produces exactly the MQTT messages its real firmware publishes, from the
 * simulated building's state. They do no I/O themselves; the simulator connects each one with its own
 * MQTT client and credentials and passes the messages on.
 *
 * Vendor formats followed (and cited by the device profiles):
 *  - Zigbee2MQTT: `zigbee2mqtt/<friendly_name>` JSON state; `<…>/availability` `{"state":"online"}`
 *    (Z2M ≥ 2.0 JSON availability payload).
 *  - Shelly Gen1 MQTT API: plain values under `shellies/<id>/…`; `relay/0/energy` in watt-minutes,
 *    `emeter/N/total` in Wh; `shellies/<id>/online` true/false with LWT. Default update period 30 s.
 *  - Shelly Gen2 MQTT: `<id>/status/switch:0` (status_ntf) and `<id>/events/rpc` NotifyStatus (rpc_ntf);
 *    `aenergy.total` Wh, `by_minute` mWh of the last three whole minutes; `<id>/online` with LWT.
 *  - Shelly Pro 3EM (Gen2, triphase profile): `<id>/status/em:0` (EM status: per phase `a_/b_/c_…`
 *    current, voltage, act/aprt power, pf, freq, and the firmware's totals) and `<id>/status/emdata:0`
 *    (EMData status: per-phase and total active energy in Wh), both also in NotifyStatus on `events/rpc`.
 *  - Tasmota: `tele/<topic>/SENSOR` with `ENERGY` (kWh, W), `tele/<topic>/STATE`, `tele/<topic>/LWT`
 *    Online/Offline, every TelePeriod (default 300 s); `Time` is the device's local time.
 *  - Nuki Smart Lock MQTT API (v1.4): `nuki/<id>/state`, `connected` (LWT), `batteryCritical`,
 *    `batteryChargeState`, `batteryCharging`, `doorsensorState`; commands on `lockAction`, answered on
 *    `commandResponse` (0 = success, else BLE API error code) and announced on `lockActionEvent`
 *    (`action,trigger,authId,codeId,autoUnlock`; trigger 172 = MQTT).
 */

export interface DeviceMessage {
  topic: string;
  payload: string;
  qos: 0 | 1;
  retain: boolean;
}

/** What a device may do in response to a command: publish now or later (real milliseconds). */
export interface CommandIo {
  publish(messages: DeviceMessage[]): void;
  after(realMs: number, action: () => void): void;
  simNow(): number;
}

export interface VirtualDevice {
  readonly config: DeviceConfig;
  readonly clientId: string;
  /** How often the firmware looks at its sensor / reports, in device (simulated) seconds. */
  readonly firmwareIntervalS: number;
  /** Last will, set at connect: what the broker publishes when the device drops off. */
  readonly will: DeviceMessage;
  /** What the firmware publishes right after each (re)connect. */
  birth(simNow: number): DeviceMessage[];
  /** Advances the device's physics to `simNow` and returns what it publishes now (maybe nothing). */
  report(simNow: number): DeviceMessage[];
  /** Command topics the device subscribes to. */
  readonly commandTopics: string[];
  command?(topic: string, payload: string, io: CommandIo): void;
}

const round = (v: number, digits: number) => Number(v.toFixed(digits));
const msg = (topic: string, payload: string | number | boolean, retain = false, qos: 0 | 1 = 0) => ({
  topic,
  payload: String(payload),
  qos,
  retain,
});

// ---------------------------------------------------------------------------------------------------
// Vendor payloads (pure; also used by the load generator)

export interface Z2mOccupancyState {
  occupancy: boolean;
  illuminance: number;
  battery: number;
  voltage: number;
  linkquality: number;
}

/** An Aqara-style motion sensor as Zigbee2MQTT publishes it. */
export function z2mOccupancyPayload(s: Z2mOccupancyState): string {
  return JSON.stringify({
    battery: s.battery,
    illuminance: Math.round(s.illuminance),
    linkquality: s.linkquality,
    occupancy: s.occupancy,
    voltage: s.voltage,
  });
}

export interface Z2mAirQualityState {
  co2: number;
  temperature: number;
  humidity: number;
  battery?: number;
  linkquality: number;
}

/** A CO2 / air-quality sensor (e.g. Heiman HS3AQ) as Zigbee2MQTT publishes it. */
export function z2mAirQualityPayload(s: Z2mAirQualityState): string {
  return JSON.stringify({
    ...(s.battery === undefined ? {} : { battery: s.battery }),
    co2: Math.round(s.co2),
    humidity: round(s.humidity, 1),
    linkquality: s.linkquality,
    temperature: round(s.temperature, 1),
  });
}

export function z2mAvailability(deviceTopic: string, online: boolean): DeviceMessage {
  return msg(
    `${deviceTopic}/availability`,
    JSON.stringify({ state: online ? 'online' : 'offline' }),
    true,
    1,
  );
}

export interface EmeterPhase {
  powerW: number;
  pf: number;
  currentA: number;
  voltageV: number;
  totalWh: number;
}

/** Shelly 3EM (Gen1): one set of plain-value topics per phase. */
export function shellyGen1EmeterMessages(deviceTopic: string, phases: EmeterPhase[]): DeviceMessage[] {
  const out: DeviceMessage[] = [msg(`${deviceTopic}/relay/0`, 'on')];
  phases.forEach((p, i) => {
    const base = `${deviceTopic}/emeter/${i}`;
    out.push(
      msg(`${base}/power`, round(p.powerW, 2)),
      msg(`${base}/pf`, round(p.pf, 2)),
      msg(`${base}/current`, round(p.currentA, 2)),
      msg(`${base}/voltage`, round(p.voltageV, 2)),
      msg(`${base}/total`, round(p.totalWh, 1)),
      msg(`${base}/total_returned`, 0),
    );
  });
  return out;
}

/** Shelly Plug S (Gen1): relay state, power (W), energy since boot in watt-minutes, temperature. */
export function shellyGen1RelayMessages(
  deviceTopic: string,
  s: { on: boolean; powerW: number; energyWmin: number; temperatureC: number },
): DeviceMessage[] {
  return [
    msg(`${deviceTopic}/relay/0`, s.on ? 'on' : 'off'),
    msg(`${deviceTopic}/relay/0/power`, round(s.powerW, 2)),
    msg(`${deviceTopic}/relay/0/energy`, Math.round(s.energyWmin)),
    msg(`${deviceTopic}/temperature`, round(s.temperatureC, 2)),
    msg(`${deviceTopic}/temperature_f`, round((s.temperatureC * 9) / 5 + 32, 2)),
    msg(`${deviceTopic}/overtemperature`, 0),
  ];
}

export interface Gen2SwitchState {
  source: string;
  output: boolean;
  apowerW: number;
  voltageV: number;
  currentA: number;
  totalWh: number;
  /** mWh of the last three whole minutes, newest first. */
  byMinuteMwh: [number, number, number];
  /** Unix seconds of the start of the current minute. */
  minuteTs: number;
  temperatureC: number;
}

export function shellyGen2SwitchStatus(s: Gen2SwitchState, id = 0): object {
  return {
    id,
    source: s.source,
    output: s.output,
    apower: round(s.apowerW, 1),
    voltage: round(s.voltageV, 1),
    current: round(s.currentA, 3),
    aenergy: {
      total: round(s.totalWh, 3),
      by_minute: s.byMinuteMwh.map((v) => round(v, 3)),
      minute_ts: s.minuteTs,
    },
    temperature: { tC: round(s.temperatureC, 1), tF: round((s.temperatureC * 9) / 5 + 32, 1) },
  };
}

/**
 * Shelly Plus Plug S / Pro 4PM (Gen2): each switch's component status on `status/switch:<id>` and one
 * NotifyStatus RPC notification carrying them all.
 */
export function shellyGen2Messages(
  deviceTopic: string,
  switches: Gen2SwitchState | readonly Gen2SwitchState[],
  simNow: number,
): DeviceMessage[] {
  const statuses = (Array.isArray(switches) ? switches : [switches]).map((s: Gen2SwitchState, id) =>
    shellyGen2SwitchStatus(s, id),
  );
  const params: Record<string, unknown> = { ts: round(simNow / 1000, 2) };
  statuses.forEach((status, id) => {
    params[`switch:${id}`] = status;
  });
  const notify = { src: deviceTopic, dst: `${deviceTopic}/events`, method: 'NotifyStatus', params };
  return [
    ...statuses.map((status, id) => msg(`${deviceTopic}/status/switch:${id}`, JSON.stringify(status))),
    msg(`${deviceTopic}/events/rpc`, JSON.stringify(notify)),
  ];
}

export interface Pro3emPhase {
  actPowerW: number;
  pf: number;
  voltageV: number;
  freqHz: number;
  /** Active energy drawn through this phase since the counters last started, Wh. */
  totalActWh: number;
}

const PHASES = ['a', 'b', 'c'] as const;
const sum = (values: number[], digits: number) =>
  round(
    values.reduce((a, b) => a + b, 0),
    digits,
  );

/**
 * Shelly Pro 3EM EM status (triphase profile). The totals are the sums of the phase values as sent, so
 * that a consumer can check `total_act_power = a + b + c` to the last digit.
 */
export function shellyPro3emEmStatus(phases: readonly Pro3emPhase[]): object {
  const status: Record<string, unknown> = { id: 0 };
  const currents: number[] = [];
  const act: number[] = [];
  const aprt: number[] = [];
  phases.forEach((p, i) => {
    const x = PHASES[i];
    const apparent = p.pf > 0 ? Math.abs(p.actPowerW) / p.pf : 0;
    const currentA = round(p.voltageV > 0 ? apparent / p.voltageV : 0, 3);
    const actW = round(p.actPowerW, 1);
    const aprtVa = round(apparent, 1);
    currents.push(currentA);
    act.push(actW);
    aprt.push(aprtVa);
    Object.assign(status, {
      [`${x}_current`]: currentA,
      [`${x}_voltage`]: round(p.voltageV, 1),
      [`${x}_act_power`]: actW,
      [`${x}_aprt_power`]: aprtVa,
      [`${x}_pf`]: round(p.pf, 2),
      [`${x}_freq`]: round(p.freqHz, 1),
    });
  });
  return {
    ...status,
    // the neutral CT is optional and not fitted here
    n_current: null,
    total_current: sum(currents, 3),
    total_act_power: sum(act, 3),
    total_aprt_power: sum(aprt, 3),
    user_calibrated_phase: [],
  };
}

/** Shelly Pro 3EM EMData status: per-phase counters and their sum, Wh; nothing is fed back. */
export function shellyPro3emEmDataStatus(phases: readonly Pro3emPhase[]): object {
  const status: Record<string, unknown> = { id: 0 };
  const totals = phases.map((p) => round(p.totalActWh, 2));
  totals.forEach((wh, i) => {
    status[`${PHASES[i]}_total_act_energy`] = wh;
    status[`${PHASES[i]}_total_act_ret_energy`] = 0;
  });
  return { ...status, total_act: sum(totals, 2), total_act_ret: 0 };
}

/** The two component statuses (status_ntf) and the NotifyStatus that announces them (rpc_ntf). */
export function shellyPro3emMessages(
  deviceTopic: string,
  phases: readonly Pro3emPhase[],
  simNow: number,
): DeviceMessage[] {
  const em = shellyPro3emEmStatus(phases);
  const emdata = shellyPro3emEmDataStatus(phases);
  const notify = {
    src: deviceTopic,
    dst: `${deviceTopic}/events`,
    method: 'NotifyStatus',
    params: { ts: round(simNow / 1000, 2), 'em:0': em, 'emdata:0': emdata },
  };
  return [
    msg(`${deviceTopic}/status/em:0`, JSON.stringify(em)),
    msg(`${deviceTopic}/status/emdata:0`, JSON.stringify(emdata)),
    msg(`${deviceTopic}/events/rpc`, JSON.stringify(notify)),
  ];
}

export interface TasmotaEnergy {
  /** Local time `YYYY-MM-DDTHH:MM:SS`. */
  time: string;
  totalStartTime: string;
  totalKwh: number;
  yesterdayKwh: number;
  todayKwh: number;
  periodWh: number;
  powerW: number;
  voltageV: number;
  factor: number;
}

/** Tasmota energy plug `tele/<topic>/SENSOR`. */
export function tasmotaSensorPayload(e: TasmotaEnergy): string {
  const apparent = e.factor > 0 ? e.powerW / e.factor : 0;
  const reactive = Math.sqrt(Math.max(0, apparent * apparent - e.powerW * e.powerW));
  return JSON.stringify({
    Time: e.time,
    ENERGY: {
      TotalStartTime: e.totalStartTime,
      Total: round(e.totalKwh, 3),
      Yesterday: round(e.yesterdayKwh, 3),
      Today: round(e.todayKwh, 3),
      Period: Math.round(e.periodWh),
      Power: Math.round(e.powerW),
      ApparentPower: Math.round(apparent),
      ReactivePower: Math.round(reactive),
      Factor: round(e.powerW > 0 ? e.factor : 0, 2),
      Voltage: Math.round(e.voltageV),
      Current: round(e.voltageV > 0 ? apparent / e.voltageV : 0, 3),
    },
  });
}

export function tasmotaStatePayload(time: string, uptimeS: number, on: boolean, rssi: number): string {
  const d = Math.floor(uptimeS / 86400);
  const hms = new Date((uptimeS % 86400) * 1000).toISOString().slice(11, 19);
  return JSON.stringify({
    Time: time,
    Uptime: `${d}T${hms}`,
    UptimeSec: Math.floor(uptimeS),
    Heap: 26,
    SleepMode: 'Dynamic',
    Sleep: 50,
    LoadAvg: 19,
    MqttCount: 1,
    POWER: on ? 'ON' : 'OFF',
    Wifi: { AP: 1, SSId: 'kaufhaus-iot', RSSI: rssi, Signal: Math.round(rssi / 2 - 100), Mode: '11n' },
  });
}

/** Nuki lock states (MQTT API / BLE API). */
export const NUKI_STATE = {
  uncalibrated: 0,
  locked: 1,
  unlocking: 2,
  unlocked: 3,
  locking: 4,
  unlatched: 5,
  unlockedLockNGo: 6,
  unlatching: 7,
  motorBlocked: 254,
  undefined: 255,
} as const;

export const NUKI_DOOR = { deactivated: 1, closed: 2, opened: 3, unknown: 4 } as const;

/** Nuki lock actions accepted on `lockAction`. */
export const NUKI_ACTION = {
  unlock: 1,
  lock: 2,
  unlatch: 3,
  lockNGo: 4,
  lockNGoUnlatch: 5,
  fullLock: 6,
} as const;

/** BLE API keyturner error K_ERROR_BAD_PARAMETER: an action the lock does not know. */
export const NUKI_ERROR_BAD_PARAMETER = 0x23;
/** lockActionEvent trigger for actions that came over MQTT. */
export const NUKI_TRIGGER_MQTT = 172;

// ---------------------------------------------------------------------------------------------------
// Device behaviour

export interface DeviceOptions {
  rebootProbabilityPerDay?: number;
  lock?: LockOptions;
  /** A meter's counter at the start, Wh: the live simulator going on from the stored history. */
  counterWh?: number;
  /**
   * A meter's counter at each instant, given from outside instead of integrated here: the history
   * backfill (simulations/backfill.ts) computes it so that the history ends where the live meter starts.
   */
  counterAt?: (simNow: number) => CounterState;
}

export interface LockOptions {
  /** Real milliseconds the motor takes to turn (state 2 → 3, 4 → 1). */
  motorMs?: number;
  /** Real milliseconds after which an unlocked door locks itself again (0 = never). */
  relockAfterMs?: number;
  /** After an unlock the door is opened and closed again (door sensor 3 → 2). */
  doorOpensOnUnlock?: boolean;
}

/** Per-device constants drawn from the seed: battery level, radio quality, mains voltage. */
function trait(building: SimulatedBuilding, device: DeviceConfig, what: string, min: number, max: number) {
  return min + (max - min) * chance(building.seed, device.id, what);
}

function linkquality(building: SimulatedBuilding, device: DeviceConfig, simNow: number): number {
  const base = trait(building, device, 'lqi', 60, 200);
  const wobble = (chance(building.seed, device.id, Math.floor(simNow / 60_000)) - 0.5) * 20;
  return Math.max(0, Math.min(255, Math.round(base + wobble)));
}

function mainsVoltage(building: SimulatedBuilding, device: DeviceConfig, simNow: number, phase = 0): number {
  return 229 + (chance(building.seed, device.id, phase, Math.floor(simNow / 30_000)) - 0.5) * 4;
}

function daylightLux(hour: number): number {
  return hour < 6 || hour > 20 ? 0 : Math.max(0, Math.sin(((hour - 6) / 14) * Math.PI)) * 280;
}

class Z2mOccupancySensor implements VirtualDevice {
  readonly clientId: string;
  readonly firmwareIntervalS = 60;
  readonly will: DeviceMessage;
  readonly commandTopics: string[] = [];
  private last: boolean | undefined;
  private lastSentAt = -Infinity;
  /** Aqara motion sensors send a heartbeat about every 50 minutes even without motion. */
  private static readonly HEARTBEAT_MS = 50 * 60_000;

  constructor(
    readonly config: DeviceConfig,
    private readonly building: SimulatedBuilding,
  ) {
    this.clientId = config.id;
    this.will = z2mAvailability(config.topic, false);
  }

  birth(simNow: number): DeviceMessage[] {
    this.last = undefined;
    return [z2mAvailability(this.config.topic, true), ...this.report(simNow)];
  }

  report(simNow: number): DeviceMessage[] {
    const occupied = this.building.peopleIn(this.config.space, simNow) > 0;
    if (occupied === this.last && simNow - this.lastSentAt < Z2mOccupancySensor.HEARTBEAT_MS) return [];
    this.last = occupied;
    this.lastSentAt = simNow;
    const t = this.building.local(simNow);
    const lit = occupied && this.building.isSpaceOpen(this.config.space, simNow);
    const battery = Math.round(trait(this.building, this.config, 'battery', 35, 100));
    return [
      msg(
        this.config.topic,
        z2mOccupancyPayload({
          occupancy: occupied,
          illuminance: daylightLux(t.hour) + (lit ? 320 + 60 * chance(this.config.id, simNow) : 0),
          battery,
          voltage: 2800 + battery * 4,
          linkquality: linkquality(this.building, this.config, simNow),
        }),
      ),
    ];
  }
}

class Z2mAirQualitySensor implements VirtualDevice {
  readonly clientId: string;
  readonly firmwareIntervalS = 60;
  readonly will: DeviceMessage;
  readonly commandTopics: string[] = [];
  private co2 = OUTDOOR_CO2_PPM + 30;
  private simAt: number | undefined;

  constructor(
    readonly config: DeviceConfig,
    private readonly building: SimulatedBuilding,
  ) {
    this.clientId = config.id;
    this.will = z2mAvailability(config.topic, false);
  }

  birth(simNow: number): DeviceMessage[] {
    return [z2mAvailability(this.config.topic, true), ...this.report(simNow)];
  }

  report(simNow: number): DeviceMessage[] {
    const space = this.building.space(this.config.space);
    const people = (ms: number) => this.building.peopleIn(space.id, ms);
    // A sensor switched on mid-day starts from a warmed-up room: replay the last six hours.
    const from = this.simAt ?? simNow - 6 * 3_600_000;
    this.co2 = advanceCo2(
      this.co2,
      from,
      simNow,
      spaceVolumeM3(space.area_m2, space.kind),
      space.kind,
      people,
    );
    this.simAt = simNow;
    this.co2 = this.building.stagedCo2(space.id) ?? this.co2;
    const present = people(simNow);
    const perM2 = present / space.area_m2;
    return [
      msg(
        this.config.topic,
        z2mAirQualityPayload({
          co2: this.co2 + (chance(this.config.id, simNow) - 0.5) * 8,
          temperature: 20.2 + Math.min(3, perM2 * 12) + (chance(this.config.id, simNow, 't') - 0.5) * 0.2,
          humidity: 38 + Math.min(15, perM2 * 60) + (chance(this.config.id, simNow, 'h') - 0.5),
          battery: Math.round(trait(this.building, this.config, 'battery', 50, 100)),
          linkquality: linkquality(this.building, this.config, simNow),
        }),
      ),
    ];
  }
}

/** Counters did not start at zero: the meter has been in service for a while (seeded per meter). */
export function inServiceCounterWh(building: SimulatedBuilding, config: DeviceConfig): number {
  return trait(building, config, 'counter', 0.02, 1) * building.meterLoad(config).baseW * 24 * 365;
}

/** Shared by all metering devices: a counter that follows the building's load and reboots now and then. */
class MeterCore {
  counter: CounterState;
  private simAt: number | undefined;
  private lastReboots = 0;
  private readonly rebootProbabilityPerDay: number;
  private readonly counterAt: ((simNow: number) => CounterState) | undefined;

  constructor(
    private readonly config: DeviceConfig,
    private readonly building: SimulatedBuilding,
    options: DeviceOptions,
    simStart: number,
  ) {
    this.rebootProbabilityPerDay = options.rebootProbabilityPerDay ?? 0.02;
    this.counterAt = options.counterAt;
    const wh = options.counterWh ?? inServiceCounterWh(building, config);
    this.counter = options.counterAt?.(simStart) ?? { wh, startedAt: simStart - 365 * DAY_MS, reboots: 0 };
    this.lastReboots = this.counter.reboots;
  }

  /** Advances to simNow; returns true when the meter rebooted since the last call. */
  advance(simNow: number): boolean {
    const from = this.simAt ?? simNow;
    this.counter =
      this.counterAt?.(simNow) ??
      advanceCounter(
        this.counter,
        from,
        simNow,
        (ms) => this.building.meterPowerW(this.config, ms),
        (day) => meterRebootAt(this.building.seed, this.config.id, day, this.rebootProbabilityPerDay),
      );
    this.simAt = simNow;
    const rebooted = this.counter.reboots !== this.lastReboots;
    this.lastReboots = this.counter.reboots;
    return rebooted;
  }

  powerW(simNow: number): number {
    return this.building.meterPowerW(this.config, simNow);
  }
}

const PHASE_SHARE = [0.42, 0.33, 0.25];

class ShellyGen1Device implements VirtualDevice {
  readonly clientId: string;
  readonly firmwareIntervalS = 30;
  readonly will: DeviceMessage;
  readonly commandTopics: string[] = [];
  private readonly meter: MeterCore;
  private readonly isEmeter: boolean;

  constructor(
    readonly config: DeviceConfig,
    private readonly building: SimulatedBuilding,
    options: DeviceOptions,
    simStart: number,
  ) {
    this.clientId = config.topic.slice(config.topic.lastIndexOf('/') + 1);
    this.will = msg(`${config.topic}/online`, false, true, 1);
    this.meter = new MeterCore(config, building, options, simStart);
    this.isEmeter = /\/shellyem3?-/.test(config.topic) || config.meter_role === 'main';
  }

  birth(simNow: number): DeviceMessage[] {
    return [msg(`${this.config.topic}/online`, true, true, 1), ...this.report(simNow)];
  }

  report(simNow: number): DeviceMessage[] {
    this.meter.advance(simNow);
    const power = this.meter.powerW(simNow);
    if (this.isEmeter) {
      return shellyGen1EmeterMessages(
        this.config.topic,
        PHASE_SHARE.map((share, i) => {
          const voltageV = mainsVoltage(this.building, this.config, simNow, i);
          const pf = 0.9 + 0.08 * chance(this.config.id, i, Math.floor(simNow / 300_000));
          const powerW = power * share;
          return {
            powerW,
            pf,
            voltageV,
            currentA: powerW / (voltageV * pf),
            totalWh: this.meter.counter.wh * share,
          };
        }),
      );
    }
    return shellyGen1RelayMessages(this.config.topic, {
      on: true,
      powerW: power,
      // relay/0/energy counts watt-minutes since the plug last booted
      energyWmin: this.meter.counter.wh * 60,
      temperatureC: 28 + power / 100,
    });
  }
}

/** Metered switches of a Gen2 device, by the model in its default topic prefix. */
function gen2Switches(topic: string): number {
  if (/(^|\/)shellypro4pm-/.test(topic)) return 4;
  if (/(^|\/)shelly(plus|pro)2pm-/.test(topic)) return 2;
  return 1;
}

/**
 * A Gen2 plug or relay: a Plus Plug S (one switch), or a Pro 4PM whose four outputs the site file places
 * in rooms of their own. The outputs share the device's load and counter in equal parts, so that their
 * counters add up to the device's and each output's power and counter agree.
 */
class ShellyGen2Plug implements VirtualDevice {
  readonly clientId: string;
  readonly firmwareIntervalS = 60;
  readonly will: DeviceMessage;
  readonly commandTopics: string[] = [];
  private readonly meter: MeterCore;
  private readonly switches: number;
  private source = 'init';

  constructor(
    readonly config: DeviceConfig,
    private readonly building: SimulatedBuilding,
    options: DeviceOptions,
    simStart: number,
  ) {
    this.clientId = config.topic;
    this.will = msg(`${config.topic}/online`, false, true, 1);
    this.meter = new MeterCore(config, building, options, simStart);
    this.switches = gen2Switches(config.topic);
  }

  birth(simNow: number): DeviceMessage[] {
    this.source = 'init';
    return [msg(`${this.config.topic}/online`, true, true, 1), ...this.report(simNow)];
  }

  report(simNow: number): DeviceMessage[] {
    if (this.meter.advance(simNow)) this.source = 'init';
    const power = this.meter.powerW(simNow);
    const voltage = mainsVoltage(this.building, this.config, simNow);
    const minuteStart = Math.floor(simNow / 60_000) * 60_000;
    const share = 1 / this.switches;
    const minuteMwh = (ms: number) => (this.meter.powerW(ms) * share * 60 * 1000) / 3600;
    const output = (): Gen2SwitchState => ({
      source: this.source,
      output: true,
      apowerW: power * share,
      voltageV: voltage,
      currentA: (power * share) / voltage / 0.95,
      totalWh: this.meter.counter.wh * share,
      byMinuteMwh: [
        minuteMwh(minuteStart - 60_000),
        minuteMwh(minuteStart - 120_000),
        minuteMwh(minuteStart - 180_000),
      ],
      minuteTs: minuteStart / 1000,
      temperatureC: 30 + power / 80,
    });
    const messages = shellyGen2Messages(
      this.config.topic,
      Array.from({ length: this.switches }, output),
      simNow,
    );
    this.source = 'timer';
    return messages;
  }
}

/**
 * A floor's main meter: Shelly Pro 3EM on the three phases of the floor's sub-distribution. The floor's
 * load is spread over the phases in fixed shares, so each phase's counter is its share of the meter's.
 * A real Pro 3EM keeps EMData across reboots; the simulated one restarts its counters at the seeded
 * reboot anyway (as after EMData.ResetCounters or a swapped meter), so that every report downstream has
 * to cope with a main-meter counter starting again from zero.
 */
class ShellyPro3em implements VirtualDevice {
  readonly clientId: string;
  /** EMData is updated every minute; EM status goes out on change, which a busy floor always has. */
  readonly firmwareIntervalS = 60;
  readonly will: DeviceMessage;
  readonly commandTopics: string[] = [];
  private readonly meter: MeterCore;

  constructor(
    readonly config: DeviceConfig,
    private readonly building: SimulatedBuilding,
    options: DeviceOptions,
    simStart: number,
  ) {
    this.clientId = config.topic;
    this.will = msg(`${config.topic}/online`, false, true, 1);
    this.meter = new MeterCore(config, building, options, simStart);
  }

  birth(simNow: number): DeviceMessage[] {
    return [msg(`${this.config.topic}/online`, true, true, 1), ...this.report(simNow)];
  }

  report(simNow: number): DeviceMessage[] {
    this.meter.advance(simNow);
    const power = this.meter.powerW(simNow);
    const slot = Math.floor(simNow / 300_000);
    const phases = PHASE_SHARE.map((share, i) => ({
      actPowerW: power * share,
      pf: 0.9 + 0.08 * chance(this.config.id, i, slot),
      voltageV: mainsVoltage(this.building, this.config, simNow, i),
      freqHz: 50 + (chance(this.config.id, 'freq', Math.floor(simNow / 30_000)) - 0.5) * 0.1,
      totalActWh: this.meter.counter.wh * share,
    }));
    return shellyPro3emMessages(this.config.topic, phases, simNow);
  }
}

class TasmotaPlug implements VirtualDevice {
  readonly clientId: string;
  /** TelePeriod default. */
  readonly firmwareIntervalS = 300;
  readonly will: DeviceMessage;
  readonly commandTopics: string[] = [];
  private readonly meter: MeterCore;
  private totalStartTime: string;
  private today = { date: '', startWh: 0 };
  private yesterdayKwh = 0;
  private lastReportWh: number | undefined;
  private bootedAt: number;

  constructor(
    readonly config: DeviceConfig,
    private readonly building: SimulatedBuilding,
    options: DeviceOptions,
    simStart: number,
  ) {
    this.clientId = `DVES_${config.topic.slice(-6).toUpperCase()}`;
    this.will = msg(`tele/${config.topic}/LWT`, 'Offline', true, 1);
    this.meter = new MeterCore(config, building, options, simStart);
    this.totalStartTime = building.local(this.meter.counter.startedAt).isoLocal;
    this.bootedAt = simStart;
  }

  birth(simNow: number): DeviceMessage[] {
    return [msg(`tele/${this.config.topic}/LWT`, 'Online', true, 1), ...this.report(simNow)];
  }

  report(simNow: number): DeviceMessage[] {
    if (this.meter.advance(simNow)) {
      this.totalStartTime = this.building.local(this.meter.counter.startedAt).isoLocal;
      this.bootedAt = this.meter.counter.startedAt;
      this.today.startWh = 0;
      this.lastReportWh = 0;
    }
    const wh = this.meter.counter.wh;
    const t = this.building.local(simNow);
    if (t.date !== this.today.date) {
      if (this.today.date) this.yesterdayKwh = (wh - this.today.startWh) / 1000;
      this.today = { date: t.date, startWh: wh };
    }
    const periodWh = this.lastReportWh === undefined ? 0 : wh - this.lastReportWh;
    this.lastReportWh = wh;
    const rssi = Math.round(trait(this.building, this.config, 'rssi', 40, 90));
    return [
      msg(
        `tele/${this.config.topic}/STATE`,
        tasmotaStatePayload(t.isoLocal, (simNow - this.bootedAt) / 1000, true, rssi),
      ),
      msg(
        `tele/${this.config.topic}/SENSOR`,
        tasmotaSensorPayload({
          time: t.isoLocal,
          totalStartTime: this.totalStartTime,
          totalKwh: wh / 1000,
          yesterdayKwh: this.yesterdayKwh,
          todayKwh: (wh - this.today.startWh) / 1000,
          periodWh,
          powerW: this.meter.powerW(simNow),
          voltageV: mainsVoltage(this.building, this.config, simNow),
          factor: 0.92,
        }),
      ),
    ];
  }
}

export type LockMode = 'normal' | 'unresponsive' | 'offline';

export class NukiLock implements VirtualDevice {
  readonly clientId: string;
  /** The lock reports its battery about hourly; state changes go out at once. */
  readonly firmwareIntervalS = 3600;
  readonly will: DeviceMessage;
  readonly commandTopics: string[];
  state: number = NUKI_STATE.locked;
  door: number = NUKI_DOOR.closed;
  /** `unresponsive`: stays connected but ignores commands (offline is the simulator's business). */
  mode: LockMode = 'normal';
  commandsReceived = 0;
  private readonly motorMs: number;
  private readonly relockAfterMs: number;
  private readonly doorOpensOnUnlock: boolean;
  /** Bumped by every action so that a pending re-lock from an older unlock is dropped. */
  private generation = 0;

  constructor(
    readonly config: DeviceConfig,
    private readonly building: SimulatedBuilding,
    options: LockOptions = {},
  ) {
    this.clientId = `nuki_${config.topic.slice(config.topic.lastIndexOf('/') + 1)}`;
    this.will = msg(`${config.topic}/connected`, false, true, 1);
    this.commandTopics = [`${config.topic}/lockAction`];
    this.motorMs = options.motorMs ?? 600;
    this.relockAfterMs = options.relockAfterMs ?? 20_000;
    this.doorOpensOnUnlock = options.doorOpensOnUnlock ?? true;
  }

  private battery(simNow: number): number {
    const start = trait(this.building, this.config, 'battery', 30, 100);
    // a set of batteries lasts about half a year in a busy door
    return Math.max(0, Math.round(start - (((simNow / DAY_MS) % 180) / 180) * 25));
  }

  private stateMessages(): DeviceMessage[] {
    return [msg(`${this.config.topic}/state`, this.state, true, 1)];
  }

  birth(simNow: number): DeviceMessage[] {
    return [
      msg(`${this.config.topic}/connected`, true, true, 1),
      ...this.stateMessages(),
      msg(`${this.config.topic}/doorsensorState`, this.door, true, 1),
      ...this.report(simNow),
    ];
  }

  report(simNow: number): DeviceMessage[] {
    const charge = this.battery(simNow);
    return [
      msg(`${this.config.topic}/batteryChargeState`, charge, true, 1),
      msg(`${this.config.topic}/batteryCritical`, charge < 20, true, 1),
      msg(`${this.config.topic}/batteryCharging`, false, true, 1),
    ];
  }

  command(topic: string, payload: string, io: CommandIo): void {
    if (topic !== `${this.config.topic}/lockAction`) return;
    this.commandsReceived++;
    if (this.mode !== 'normal') return;
    // the extended form "action,…" carries extra fields after the action id
    const action = Number(payload.trim().split(',')[0]);
    const t = this.config.topic;
    const known = Object.values(NUKI_ACTION) as number[];
    if (!Number.isInteger(action) || !known.includes(action)) {
      io.publish([msg(`${t}/commandResponse`, NUKI_ERROR_BAD_PARAMETER, false, 1)]);
      return;
    }
    const generation = ++this.generation;
    const setState = (state: number) => {
      if (generation !== this.generation) return;
      this.state = state;
      io.publish(this.stateMessages());
    };
    io.publish([
      msg(`${t}/commandResponse`, 0, false, 1),
      msg(`${t}/lockActionEvent`, `${action},${NUKI_TRIGGER_MQTT},0,0,0`, false, 1),
    ]);
    const opens = action === NUKI_ACTION.unlock || action === NUKI_ACTION.unlatch;
    if (opens) {
      const unlatch = action === NUKI_ACTION.unlatch;
      setState(unlatch ? NUKI_STATE.unlatching : NUKI_STATE.unlocking);
      io.after(this.motorMs, () => {
        setState(unlatch ? NUKI_STATE.unlatched : NUKI_STATE.unlocked);
        if (unlatch) io.after(this.motorMs, () => setState(NUKI_STATE.unlocked));
        if (this.doorOpensOnUnlock) this.swingDoor(io, generation);
        if (this.relockAfterMs > 0) {
          io.after(this.relockAfterMs, () => {
            if (generation !== this.generation || this.mode !== 'normal') return;
            setState(NUKI_STATE.locking);
            io.after(this.motorMs, () => setState(NUKI_STATE.locked));
          });
        }
      });
      return;
    }
    // lock, lock'n'go (with or without unlatch), full lock: all end locked
    if (action === NUKI_ACTION.lockNGo || action === NUKI_ACTION.lockNGoUnlatch) {
      setState(NUKI_STATE.unlockedLockNGo);
      io.after(this.motorMs * 2, () => {
        setState(NUKI_STATE.locking);
        io.after(this.motorMs, () => setState(NUKI_STATE.locked));
      });
      return;
    }
    setState(NUKI_STATE.locking);
    io.after(this.motorMs, () => setState(NUKI_STATE.locked));
  }

  /** Someone walks through: the door sensor sees the door open, then closed again. */
  private swingDoor(io: CommandIo, generation: number): void {
    const t = this.config.topic;
    io.after(this.motorMs, () => {
      if (generation !== this.generation) return;
      this.door = NUKI_DOOR.opened;
      io.publish([msg(`${t}/doorsensorState`, this.door, true, 1)]);
      io.after(this.motorMs * 4, () => {
        this.door = NUKI_DOOR.closed;
        io.publish([msg(`${t}/doorsensorState`, this.door, true, 1)]);
      });
    });
  }
}

export const SIMULATED_PROFILES = [
  'zigbee2mqtt-occupancy',
  'zigbee2mqtt-air-quality',
  'shelly-gen1',
  'shelly-gen2',
  'shelly-pro-3em',
  'tasmota-energy',
  'nuki-mqtt',
] as const;

/** The virtual device for a site device, or undefined for a family the simulator does not know. */
export function createVirtualDevice(
  config: DeviceConfig,
  building: SimulatedBuilding,
  simStart: number,
  options: DeviceOptions = {},
): VirtualDevice | undefined {
  switch (config.profile) {
    case 'zigbee2mqtt-occupancy':
      return new Z2mOccupancySensor(config, building);
    case 'zigbee2mqtt-air-quality':
      return new Z2mAirQualitySensor(config, building);
    case 'shelly-gen1':
      return new ShellyGen1Device(config, building, options, simStart);
    case 'shelly-gen2':
      return new ShellyGen2Plug(config, building, options, simStart);
    case 'shelly-pro-3em':
      return new ShellyPro3em(config, building, options, simStart);
    case 'tasmota-energy':
      return new TasmotaPlug(config, building, options, simStart);
    case 'nuki-mqtt':
      return new NukiLock(config, building, options.lock);
    default:
      return undefined;
  }
}
