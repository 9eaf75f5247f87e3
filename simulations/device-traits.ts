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
import type { DeviceOptions } from './virtual-device.ts';

/**
 * The physics every family's simulator composes, the way capability blocks compose profiles: seeded
 * per-device constants, radio and mains, daylight, a room's air and climate, a meter's counter with its
 * reboots, a sensor that reports on change with a heartbeat. What a family adds is its firmware: payloads,
 * topics, intervals, state machines.
 */

/** Per-device constants drawn from the seed: battery level, radio quality, mains voltage. */
export function seededTrait(
  building: SimulatedBuilding,
  device: DeviceConfig,
  what: string,
  min: number,
  max: number,
): number {
  return min + (max - min) * chance(building.seed, device.id, what);
}

/** A Zigbee radio's link quality (LQI 0–255): the device's own, wobbling minute by minute. */
export function linkquality(building: SimulatedBuilding, device: DeviceConfig, simNow: number): number {
  const base = seededTrait(building, device, 'lqi', 60, 200);
  const wobble = (chance(building.seed, device.id, Math.floor(simNow / 60_000)) - 0.5) * 20;
  return Math.max(0, Math.min(255, Math.round(base + wobble)));
}

/** The mains voltage a device measures on a phase, moving every 30 s around 229 V. */
export function mainsVoltage(
  building: SimulatedBuilding,
  device: DeviceConfig,
  simNow: number,
  phase = 0,
): number {
  return 229 + (chance(building.seed, device.id, phase, Math.floor(simNow / 30_000)) - 0.5) * 4;
}

/** Daylight through the windows at a local hour, lux. */
export function daylightLux(hour: number): number {
  return hour < 6 || hour > 20 ? 0 : Math.max(0, Math.sin(((hour - 6) / 14) * Math.PI)) * 280;
}

// ---------------------------------------------------------------------------------------------------
// Air

/**
 * The CO2 of the room a sensor is in, followed from report to report with the people in it and the
 * ventilation; a stage direction for the room (`building.stage`) wins.
 */
export class RoomCo2 {
  private ppm = OUTDOOR_CO2_PPM + 30;
  private simAt: number | undefined;

  constructor(
    private readonly building: SimulatedBuilding,
    private readonly spaceId: string,
  ) {}

  /** Advances to `simNow` and returns the room's CO2, ppm. */
  at(simNow: number): number {
    const space = this.building.space(this.spaceId);
    const people = (ms: number) => this.building.peopleIn(space.id, ms);
    // A sensor switched on mid-day starts from a warmed-up room: replay the last six hours.
    const from = this.simAt ?? simNow - 6 * 3_600_000;
    this.ppm = advanceCo2(
      this.ppm,
      from,
      simNow,
      spaceVolumeM3(space.area_m2, space.kind),
      space.kind,
      people,
    );
    this.simAt = simNow;
    this.ppm = this.building.stagedCo2(space.id) ?? this.ppm;
    return this.ppm;
  }
}

/**
 * Temperature (°C) and relative humidity (%) a sensor in the device's space reads: warmer and more humid
 * the more people per m², with the sensor's own small noise.
 */
export function roomClimate(
  building: SimulatedBuilding,
  device: DeviceConfig,
  simNow: number,
): { temperatureC: number; humidityPct: number } {
  const space = building.space(device.space);
  const perM2 = building.peopleIn(space.id, simNow) / space.area_m2;
  return {
    temperatureC: 20.2 + Math.min(3, perM2 * 12) + (chance(device.id, simNow, 't') - 0.5) * 0.2,
    humidityPct: 38 + Math.min(15, perM2 * 60) + (chance(device.id, simNow, 'h') - 0.5),
  };
}

// ---------------------------------------------------------------------------------------------------
// Meters

/** How a floor's load spreads over the three phases of its sub-distribution. */
const PHASE_SHARE = [0.42, 0.33, 0.25] as const;

/** A phase's power factor, moving every five minutes between 0.90 and 0.98. */
function phasePowerFactor(device: DeviceConfig, phase: number, simNow: number): number {
  return 0.9 + 0.08 * chance(device.id, phase, Math.floor(simNow / 300_000));
}

/** Counters did not start at zero: the meter has been in service for a while (seeded per meter). */
export function inServiceCounterWh(building: SimulatedBuilding, config: DeviceConfig): number {
  return seededTrait(building, config, 'counter', 0.02, 1) * building.meterLoad(config).baseW * 24 * 365;
}

/** Shared by all metering devices: a counter that follows the building's load and reboots now and then. */
export class MeterCounter {
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

  /**
   * A main meter's three phases at `simNow` (after `advance`): the load and the counter spread over them
   * in `PHASE_SHARE` parts, each phase with its own mains voltage and power factor.
   */
  phases(simNow: number): MeterPhase[] {
    const powerW = this.powerW(simNow);
    return PHASE_SHARE.map((share, i) => ({
      powerW: powerW * share,
      voltageV: mainsVoltage(this.building, this.config, simNow, i),
      pf: phasePowerFactor(this.config, i, simNow),
      totalWh: this.counter.wh * share,
    }));
  }
}

/** One phase of a main meter: W, V, its power factor and its share of the counter, Wh. */
export interface MeterPhase {
  powerW: number;
  voltageV: number;
  pf: number;
  totalWh: number;
}

// ---------------------------------------------------------------------------------------------------
// Reporting

/**
 * When a sensor that reports on change speaks: when its state differs from what it last sent, and without a
 * change once its heartbeat is due (a Zigbee end device's periodic check-in).
 */
export class ReportOnChange<T> {
  private last: T | undefined;
  private lastSentAt = -Infinity;

  constructor(private readonly heartbeatMs: number) {}

  /** Whether the sensor sends `state` at `simNow`; if it does, that is what it last sent. */
  due(state: T, simNow: number): boolean {
    if (state === this.last && simNow - this.lastSentAt < this.heartbeatMs) return false;
    this.last = state;
    this.lastSentAt = simNow;
    return true;
  }

  /** After a (re)connect the sensor sends its state, whatever it last sent. */
  forget(): void {
    this.last = undefined;
  }
}

// ---------------------------------------------------------------------------------------------------
// Switched outputs

/**
 * A plug's or relay's outputs as the building switches them: each on or off, drawing nothing while off, and
 * its counter standing still meanwhile (the load the building would draw goes uncounted, not saved up).
 * All on at first, as a plug after power-up (Shelly's and Tasmota's default "restore last state" of a new one).
 */
export class SwitchedOutputs {
  private readonly on: boolean[];
  /** Wh each output's counter has not counted while it was off. */
  private readonly missedWh: number[];
  private lastWh: number[] = [];

  constructor(readonly count: number) {
    this.on = Array.from({ length: count }, () => true);
    this.missedWh = Array.from({ length: count }, () => 0);
  }

  has(output: number): boolean {
    return Number.isInteger(output) && output >= 0 && output < this.count;
  }

  isOn(output: number): boolean {
    return this.on[output] ?? false;
  }

  /** Switches an output; returns what it was. */
  set(output: number, on: boolean): boolean {
    const was = this.isOn(output);
    if (this.has(output)) this.on[output] = on;
    return was;
  }

  /**
   * What output `output` counts and draws, given what it would with its load always on: the counter's rise
   * while it was off is taken out (a counter that went back, a reboot, starts the reckoning afresh).
   */
  metered(output: number, alwaysOnWh: number, alwaysOnW: number): { wh: number; powerW: number } {
    const last = this.lastWh[output];
    if (last !== undefined && alwaysOnWh < last) this.missedWh[output] = 0;
    else if (last !== undefined && !this.isOn(output))
      this.missedWh[output] = (this.missedWh[output] ?? 0) + (alwaysOnWh - last);
    this.lastWh[output] = alwaysOnWh;
    return {
      wh: Math.max(0, alwaysOnWh - (this.missedWh[output] ?? 0)),
      powerW: this.isOn(output) ? alwaysOnW : 0,
    };
  }
}
