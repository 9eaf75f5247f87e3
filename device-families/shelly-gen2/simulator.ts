/**
 * A simulated Shelly Gen2 plug or relay (Plus Plug S, Pro 4PM), in the formats of the Shelly Gen2 MQTT API
 * cited in profile.ts: each switch's component status on `<id>/status/switch:<n>` (status_ntf) and one
 * `<id>/events/rpc` NotifyStatus carrying them all (rpc_ntf); `aenergy.total` Wh, `by_minute` mWh of the
 * last three whole minutes, `minute_ts` the current minute's start; `<id>/online` true (retained) with the
 * last will false; a report every 60 s.
 *
 * How many switches: one, or as many as the outputs the site file places (`channels`: a Pro 4PM whose
 * outputs 0..3 feed four rooms has four).
 *
 * Switching: an RPC request frame on `<id>/rpc` (`{"id","src","method":"Switch.Set","params":{"id","on"}}`)
 * sets that output and is answered on `<src>/rpc` with `{"id","src","dst","result":{"was_on"}}`, or with
 * `"error":{"code":-105,…}` for a switch id the device does not have (General/RPCProtocol, Switch.Set);
 * then the output's new status goes out on `status/switch:<n>` and in a NotifyStatus (`source` "MQTT").
 * An output that is off draws nothing and its counter stands still.
 */

import { MeterCounter, mainsVoltage, SwitchedOutputs } from '../../simulations/device-traits.ts';
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
import { shellyGen2NotificationPayload, shellyGen2OnlineMessage } from '../shelly-gen2plus.ts';

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
  return [
    ...statuses.map((status, id) => message(`${deviceTopic}/status/switch:${id}`, JSON.stringify(status))),
    message(`${deviceTopic}/events/rpc`, shellyGen2NotificationPayload(deviceTopic, 'NotifyStatus', params)),
  ];
}

/** One switch, or one for each output up to the highest the site file places. */
function switchesOf(config: DeviceConfig): number {
  return Math.max(1, ...(config.channels ?? []).map((c) => c.channel + 1));
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
  readonly commandTopics: string[];
  private readonly meter: MeterCounter;
  private readonly switches: number;
  readonly outputs: SwitchedOutputs;
  private source = 'init';

  constructor(
    readonly config: DeviceConfig,
    private readonly building: SimulatedBuilding,
    options: DeviceOptions,
    simStart: number,
  ) {
    this.clientId = config.topic;
    this.will = shellyGen2OnlineMessage(config.topic, false);
    this.meter = new MeterCounter(config, building, options, simStart);
    this.switches = switchesOf(config);
    this.outputs = new SwitchedOutputs(this.switches);
    this.commandTopics = [`${config.topic}/rpc`];
  }

  command(topic: string, payload: string, io: CommandIo): void {
    if (topic !== `${this.config.topic}/rpc`) return;
    let frame: { id?: unknown; src?: unknown; method?: unknown; params?: { id?: unknown; on?: unknown } };
    try {
      frame = JSON.parse(payload);
    } catch {
      return;
    }
    // "src … Required": without it the device has nowhere to answer, and does nothing.
    if (typeof frame.src !== 'string' || frame.src === '' || frame.method !== 'Switch.Set') return;
    const answer = (body: object) =>
      message(
        `${frame.src}/rpc`,
        JSON.stringify({ id: frame.id, src: this.config.topic, dst: frame.src, ...body }),
        false,
        1,
      );
    const output = frame.params?.id;
    if (typeof output !== 'number' || !this.outputs.has(output) || typeof frame.params?.on !== 'boolean') {
      io.publish([
        answer({ error: { code: -105, message: `Argument 'id', value ${String(output)} not found!` } }),
      ]);
      return;
    }
    const wasOn = this.outputs.set(output, frame.params.on);
    io.publish([answer({ result: { was_on: wasOn } })]);
    io.after(50, () => {
      this.source = 'MQTT';
      const [status, notification] = this.statusOf(output, io.simNow());
      io.publish([status, notification]);
    });
  }

  /** One output's status topic and a NotifyStatus naming that output only, as after a change. */
  private statusOf(output: number, simNow: number): [DeviceMessage, DeviceMessage] {
    const messages = this.report(simNow);
    const status = messages[output] as DeviceMessage;
    const params = { ts: round(simNow / 1000, 2), [`switch:${output}`]: JSON.parse(status.payload) };
    return [
      status,
      message(
        `${this.config.topic}/events/rpc`,
        shellyGen2NotificationPayload(this.config.topic, 'NotifyStatus', params),
      ),
    ];
  }

  birth(simNow: number): DeviceMessage[] {
    this.source = 'init';
    return [shellyGen2OnlineMessage(this.config.topic, true), ...this.report(simNow)];
  }

  report(simNow: number): DeviceMessage[] {
    if (this.meter.advance(simNow)) this.source = 'init';
    const power = this.meter.powerW(simNow);
    const voltage = mainsVoltage(this.building, this.config, simNow);
    const minuteStart = Math.floor(simNow / 60_000) * 60_000;
    const share = 1 / this.switches;
    const minuteMwh = (ms: number) => (this.meter.powerW(ms) * share * 60 * 1000) / 3600;
    const output = (_: unknown, n: number): Gen2SwitchState => {
      const metered = this.outputs.metered(n, this.meter.counter.wh * share, power * share);
      return {
        source: this.source,
        output: this.outputs.isOn(n),
        apowerW: metered.powerW,
        voltageV: voltage,
        currentA: metered.powerW / voltage / 0.95,
        totalWh: metered.wh,
        byMinuteMwh: [
          minuteMwh(minuteStart - 60_000),
          minuteMwh(minuteStart - 120_000),
          minuteMwh(minuteStart - 180_000),
        ],
        minuteTs: minuteStart / 1000,
        temperatureC: 30 + power / 80,
      };
    };
    const messages = shellyGen2Messages(
      this.config.topic,
      Array.from({ length: this.switches }, output),
      simNow,
    );
    this.source = 'timer';
    return messages;
  }
}

export default defineSimulator(
  (device, { building, options, simStart }) => new ShellyGen2Plug(device, building, options, simStart),
);
