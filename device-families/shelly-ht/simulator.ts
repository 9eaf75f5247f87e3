/**
 * A simulated Shelly Plus H&T: asleep, it wakes every 2 hours (its periodic update, and at once when its
 * room changes, e.g. a stage direction), says `online` `true`, publishes its NotifyFullStatus on
 * `<topic_prefix>/events/rpc` (temperature, humidity, battery) and drops off the network again, upon which
 * the broker publishes its last will `online` `false`. The simulator keeps its devices connected, so it
 * publishes that `false` itself: the gateway sees what it sees from the real one. Formats as cited in
 * profile.ts.
 */

import { roomClimate, seededTrait } from '../../simulations/device-traits.ts';
import { DAY_MS } from '../../simulations/physics.ts';
import type { SimulatedBuilding } from '../../simulations/simulated-building.ts';
import {
  type DeviceMessage,
  defineSimulator,
  message,
  round,
  type VirtualDevice,
} from '../../simulations/virtual-device.ts';
import type { DeviceConfig } from '../../site/site.ts';
import { shellyGen2NotificationPayload, shellyGen2OnlineMessage } from '../shelly-gen2plus.ts';

/** The periodic wake-up of firmware 0.12.0 and later. */
export const WAKE_PERIOD_S = 2 * 3600;

export interface HtStatus {
  /** The device's clock, unix ms; left out, the frame carries no `ts` (see ShellyPlusHt.report). */
  ts?: number;
  temperatureC: number;
  humidityPct: number;
  batteryPct: number;
  batteryV: number;
}

/** The NotifyFullStatus a waking Plus H&T sends (General/Notifications; components of ShellyPlusHT). */
export function fullStatusPayload(prefix: string, mac: string, s: HtStatus): string {
  return shellyGen2NotificationPayload(prefix, 'NotifyFullStatus', {
    ...(s.ts === undefined ? {} : { ts: round(s.ts / 1000, 2) }),
    ble: {},
    cloud: { connected: false },
    'devicepower:0': {
      id: 0,
      battery: { V: round(s.batteryV, 2), percent: s.batteryPct },
      external: { present: false },
    },
    ht_ui: {},
    'humidity:0': { id: 0, rh: round(s.humidityPct, 1) },
    mqtt: { connected: true },
    sys: { mac, restart_required: false, uptime: 2, wakeup_period: WAKE_PERIOD_S },
    'temperature:0': { id: 0, tC: round(s.temperatureC, 1), tF: round((s.temperatureC * 9) / 5 + 32, 1) },
    wifi: { status: 'got ip', rssi: -62 },
  });
}

class ShellyPlusHt implements VirtualDevice {
  readonly clientId: string;
  readonly firmwareIntervalS = WAKE_PERIOD_S;
  readonly will: DeviceMessage;
  readonly commandTopics: string[] = [];
  private readonly mac: string;

  constructor(
    readonly config: DeviceConfig,
    private readonly building: SimulatedBuilding,
  ) {
    this.clientId = config.topic.slice(config.topic.lastIndexOf('/') + 1);
    this.mac = (/([0-9a-f]{12})$/i.exec(config.topic)?.[1] ?? '000000000000').toUpperCase();
    this.will = shellyGen2OnlineMessage(config.topic, false);
  }

  birth(simNow: number): DeviceMessage[] {
    return this.report(simNow);
  }

  /** One wake-up: online, the full status, asleep again. */
  report(simNow: number): DeviceMessage[] {
    const climate = roomClimate(this.building, this.config, simNow);
    // Three AA cells (4.5 V new) last about a year of two-hourly wake-ups.
    const start = seededTrait(this.building, this.config, 'battery', 60, 100);
    const batteryPct = Math.max(5, Math.round(start - (((simNow / DAY_MS) % 365) / 365) * 50));
    return [
      shellyGen2OnlineMessage(this.config.topic, true),
      message(
        `${this.config.topic}/events/rpc`,
        // Without `ts`: the simulation's clock runs ahead of the gateway's at SIM_SPEED > 1, which would
        // take the first wake-ups' times (within its five minutes of tolerance) and then, rightly, not the
        // later ones, so a later wake-up would look older than the first. Received now is measured now.
        fullStatusPayload(this.config.topic, this.mac, {
          temperatureC: climate.temperatureC,
          humidityPct: climate.humidityPct,
          batteryPct,
          batteryV: 3.6 + (batteryPct / 100) * 0.9,
        }),
        false,
        1,
      ),
      this.will,
    ];
  }
}

export default defineSimulator((device, { building }) => new ShellyPlusHt(device, building));
