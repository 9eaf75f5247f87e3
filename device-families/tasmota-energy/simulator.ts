/**
 * A simulated Tasmota energy plug, in the formats of the Tasmota documentation cited in profile.ts:
 * `tele/<topic>/SENSOR` with `ENERGY` (kWh, W, V, A; Today and Yesterday by the device's local day) and
 * `tele/<topic>/STATE` every TelePeriod (default 300 s), last will `tele/<topic>/LWT` Online/Offline;
 * `Time` is the device's local time without zone (SetOption52 off); client id `DVES_<last 6 of MAC>`.
 */

import { MeterCounter, mainsVoltage, SwitchedOutputs, seededTrait } from '../../simulations/device-traits.ts';
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

class TasmotaPlug implements VirtualDevice {
  readonly clientId: string;
  /** TelePeriod default. */
  readonly firmwareIntervalS = 300;
  readonly will: DeviceMessage;
  readonly commandTopics: string[];
  private readonly meter: MeterCounter;
  /** The plug's one relay (`POWER`, channel 0). */
  readonly outputs = new SwitchedOutputs(1);
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
    this.will = message(`tele/${config.topic}/LWT`, 'Offline', true, 1);
    this.meter = new MeterCounter(config, building, options, simStart);
    this.totalStartTime = building.local(this.meter.counter.startedAt).isoLocal;
    this.bootedAt = simStart;
    this.commandTopics = [`cmnd/${config.topic}/POWER`, `cmnd/${config.topic}/POWER1`];
  }

  /**
   * `cmnd/<topic>/POWER` or `POWER1` with ON/OFF/TOGGLE (or 1/0/2): the relay switches and Tasmota answers
   * `stat/<topic>/RESULT` `{"POWER":"ON"}` and `stat/<topic>/POWER` `ON` (one relay: no index, SetOption26 off).
   */
  command(topic: string, payload: string, io: CommandIo): void {
    if (!this.commandTopics.includes(topic)) return;
    const word = payload.trim().toUpperCase();
    const asked = { ON: true, '1': true, OFF: false, '0': false } as Record<string, boolean>;
    let on = asked[word];
    if (word === 'TOGGLE' || word === '2') on = !this.outputs.isOn(0);
    if (on === undefined) return;
    this.outputs.set(0, on);
    const state = on ? 'ON' : 'OFF';
    io.after(30, () =>
      io.publish([
        message(`stat/${this.config.topic}/RESULT`, JSON.stringify({ POWER: state })),
        message(`stat/${this.config.topic}/POWER`, state),
      ]),
    );
  }

  birth(simNow: number): DeviceMessage[] {
    return [message(`tele/${this.config.topic}/LWT`, 'Online', true, 1), ...this.report(simNow)];
  }

  report(simNow: number): DeviceMessage[] {
    if (this.meter.advance(simNow)) {
      this.totalStartTime = this.building.local(this.meter.counter.startedAt).isoLocal;
      this.bootedAt = this.meter.counter.startedAt;
      this.today.startWh = 0;
      this.lastReportWh = 0;
    }
    const relay = this.outputs.metered(0, this.meter.counter.wh, this.meter.powerW(simNow));
    const wh = relay.wh;
    const t = this.building.local(simNow);
    if (t.date !== this.today.date) {
      if (this.today.date) this.yesterdayKwh = (wh - this.today.startWh) / 1000;
      this.today = { date: t.date, startWh: wh };
    }
    const periodWh = this.lastReportWh === undefined ? 0 : wh - this.lastReportWh;
    this.lastReportWh = wh;
    const rssi = Math.round(seededTrait(this.building, this.config, 'rssi', 40, 90));
    return [
      message(
        `tele/${this.config.topic}/STATE`,
        tasmotaStatePayload(t.isoLocal, (simNow - this.bootedAt) / 1000, this.outputs.isOn(0), rssi),
      ),
      message(
        `tele/${this.config.topic}/SENSOR`,
        tasmotaSensorPayload({
          time: t.isoLocal,
          totalStartTime: this.totalStartTime,
          totalKwh: wh / 1000,
          yesterdayKwh: this.yesterdayKwh,
          todayKwh: (wh - this.today.startWh) / 1000,
          periodWh,
          powerW: relay.powerW,
          voltageV: mainsVoltage(this.building, this.config, simNow),
          factor: 0.92,
        }),
      ),
    ];
  }
}

export default defineSimulator(
  (device, { building, options, simStart }) => new TasmotaPlug(device, building, options, simStart),
);
