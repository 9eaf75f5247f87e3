/**
 * A simulated Shelly Pro 3EM (Gen2, triphase profile), in the formats of the Shelly Gen2 API cited in
 * profile.ts: `<id>/status/em:0` (EM status: per phase `a_/b_/c_…` current, voltage, act/aprt power, pf,
 * freq, and the firmware's totals) and `<id>/status/emdata:0` (EMData status: per-phase and total active
 * energy in Wh), both also in one NotifyStatus on `<id>/events/rpc`; `<id>/online` true (retained) with the
 * last will false.
 */

import { MeterCounter } from '../../simulations/device-traits.ts';
import { chance } from '../../simulations/physics.ts';
import type { SimulatedBuilding } from '../../simulations/simulated-building.ts';
import {
  type DeviceMessage,
  type DeviceOptions,
  defineSimulator,
  message,
  round,
  type VirtualDevice,
} from '../../simulations/virtual-device.ts';
import type { DeviceConfig } from '../../site/site.ts';
import { shellyGen2NotificationPayload, shellyGen2OnlineMessage } from '../shelly-gen2plus.ts';

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
  const params = { ts: round(simNow / 1000, 2), 'em:0': em, 'emdata:0': emdata };
  return [
    message(`${deviceTopic}/status/em:0`, JSON.stringify(em)),
    message(`${deviceTopic}/status/emdata:0`, JSON.stringify(emdata)),
    message(`${deviceTopic}/events/rpc`, shellyGen2NotificationPayload(deviceTopic, 'NotifyStatus', params)),
  ];
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
  private readonly meter: MeterCounter;

  constructor(
    readonly config: DeviceConfig,
    building: SimulatedBuilding,
    options: DeviceOptions,
    simStart: number,
  ) {
    this.clientId = config.topic;
    this.will = shellyGen2OnlineMessage(config.topic, false);
    this.meter = new MeterCounter(config, building, options, simStart);
  }

  birth(simNow: number): DeviceMessage[] {
    return [shellyGen2OnlineMessage(this.config.topic, true), ...this.report(simNow)];
  }

  report(simNow: number): DeviceMessage[] {
    this.meter.advance(simNow);
    const phases = this.meter.phases(simNow).map((p) => ({
      actPowerW: p.powerW,
      pf: p.pf,
      voltageV: p.voltageV,
      freqHz: 50 + (chance(this.config.id, 'freq', Math.floor(simNow / 30_000)) - 0.5) * 0.1,
      totalActWh: p.totalWh,
    }));
    return shellyPro3emMessages(this.config.topic, phases, simNow);
  }
}

export default defineSimulator(
  (device, { building, options, simStart }) => new ShellyPro3em(device, building, options, simStart),
);
