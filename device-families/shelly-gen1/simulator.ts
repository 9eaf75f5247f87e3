/**
 * A simulated Shelly Gen1 meter, in the formats of the Shelly Gen1 MQTT API cited in profile.ts: plain
 * values under `shellies/<id>/…`, `shellies/<id>/online` true (retained) with the last will false, a report
 * every 30 s (the default update period).
 * - A main meter (`meter_role: main` in the site file) is a Shelly 3EM on the three phases of its floor:
 *   per phase `emeter/<i>/power` W, `pf`, `current` A, `voltage` V, `total` and `total_returned` Wh.
 * - Any other is a Shelly Plug S: `relay/0` on/off, `relay/0/power` W, `relay/0/energy` in watt-minutes
 *   since the plug last booted, `temperature` °C and `temperature_f`, `overtemperature`. It takes `on`, `off`
 *   and `toggle` on `relay/0/command` and answers with `relay/0` and `relay/0/power` at once ("Shelly
 *   Plug/PlugS: MQTT"); while off it draws nothing and its counter stands still.
 */

import { MeterCounter, SwitchedOutputs } from '../../simulations/device-traits.ts';
import type { SimulatedBuilding } from '../../simulations/simulated-building.ts';
import {
  type CommandIo,
  type DeviceMessage,
  type DeviceOptions,
  defineSimulator,
  message,
  round,
  type VirtualDevice,
} from '../../simulations/virtual-device.ts';
import type { DeviceConfig } from '../../site/site.ts';

export interface EmeterPhase {
  powerW: number;
  pf: number;
  currentA: number;
  voltageV: number;
  totalWh: number;
}

/** Shelly 3EM (Gen1): one set of plain-value topics per phase. */
export function shellyGen1EmeterMessages(deviceTopic: string, phases: EmeterPhase[]): DeviceMessage[] {
  const out: DeviceMessage[] = [message(`${deviceTopic}/relay/0`, 'on')];
  phases.forEach((p, i) => {
    const base = `${deviceTopic}/emeter/${i}`;
    out.push(
      message(`${base}/power`, round(p.powerW, 2)),
      message(`${base}/pf`, round(p.pf, 2)),
      message(`${base}/current`, round(p.currentA, 2)),
      message(`${base}/voltage`, round(p.voltageV, 2)),
      message(`${base}/total`, round(p.totalWh, 1)),
      message(`${base}/total_returned`, 0),
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
    message(`${deviceTopic}/relay/0`, s.on ? 'on' : 'off'),
    message(`${deviceTopic}/relay/0/power`, round(s.powerW, 2)),
    message(`${deviceTopic}/relay/0/energy`, Math.round(s.energyWmin)),
    message(`${deviceTopic}/temperature`, round(s.temperatureC, 2)),
    message(`${deviceTopic}/temperature_f`, round((s.temperatureC * 9) / 5 + 32, 2)),
    message(`${deviceTopic}/overtemperature`, 0),
  ];
}

class ShellyGen1Device implements VirtualDevice {
  readonly clientId: string;
  readonly firmwareIntervalS = 30;
  readonly will: DeviceMessage;
  readonly commandTopics: string[];
  private readonly meter: MeterCounter;
  /** The site file says so: a Gen1 main meter is a 3EM, one channel per phase. */
  private readonly isEmeter: boolean;
  /** A plug's one relay. */
  readonly outputs = new SwitchedOutputs(1);

  constructor(
    readonly config: DeviceConfig,
    building: SimulatedBuilding,
    options: DeviceOptions,
    simStart: number,
  ) {
    this.clientId = config.topic.slice(config.topic.lastIndexOf('/') + 1);
    this.will = message(`${config.topic}/online`, false, true, 1);
    this.meter = new MeterCounter(config, building, options, simStart);
    this.isEmeter = config.meter_role === 'main';
    // A 3EM's relay output drives a contactor the building never switches: it listens to nothing here.
    this.commandTopics = this.isEmeter ? [] : [`${config.topic}/relay/0/command`];
  }

  birth(simNow: number): DeviceMessage[] {
    return [message(`${this.config.topic}/online`, true, true, 1), ...this.report(simNow)];
  }

  report(simNow: number): DeviceMessage[] {
    this.meter.advance(simNow);
    const power = this.meter.powerW(simNow);
    if (this.isEmeter) {
      return shellyGen1EmeterMessages(
        this.config.topic,
        this.meter.phases(simNow).map((p) => ({ ...p, currentA: p.powerW / (p.voltageV * p.pf) })),
      );
    }
    const relay = this.outputs.metered(0, this.meter.counter.wh, power);
    return shellyGen1RelayMessages(this.config.topic, {
      on: this.outputs.isOn(0),
      powerW: relay.powerW,
      // relay/0/energy counts watt-minutes since the plug last booted
      energyWmin: relay.wh * 60,
      temperatureC: 28 + relay.powerW / 100,
    });
  }

  command(topic: string, payload: string, io: CommandIo): void {
    if (this.isEmeter || topic !== `${this.config.topic}/relay/0/command`) return;
    const word = payload.trim();
    if (word !== 'on' && word !== 'off' && word !== 'toggle') return;
    this.outputs.set(0, word === 'toggle' ? !this.outputs.isOn(0) : word === 'on');
    io.after(50, () => io.publish(this.report(io.simNow()).slice(0, 3)));
  }
}

export default defineSimulator(
  (device, { building, options, simStart }) => new ShellyGen1Device(device, building, options, simStart),
);
