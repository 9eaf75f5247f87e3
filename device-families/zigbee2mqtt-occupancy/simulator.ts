/**
 * A simulated Aqara-style motion sensor behind Zigbee2MQTT: its state report on `zigbee2mqtt/<friendly_name>`
 * (JSON of its exposes) when occupancy changes and with its heartbeat, and the bridge's retained
 * `<…>/availability` `{"state":"online"}` (Z2M ≥ 2.0 JSON availability payload).
 * Formats as cited in profile.ts (https://www.zigbee2mqtt.io/guide/usage/mqtt_topics_and_messages.html).
 */

import { daylightLux, linkquality, ReportOnChange, seededTrait } from '../../simulations/device-traits.ts';
import { chance } from '../../simulations/physics.ts';
import type { SimulatedBuilding } from '../../simulations/simulated-building.ts';
import {
  type DeviceMessage,
  defineSimulator,
  message,
  type VirtualDevice,
} from '../../simulations/virtual-device.ts';
import type { DeviceConfig } from '../../site/site.ts';
import { z2mAvailabilityMessage } from '../zigbee2mqtt.ts';

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

class Z2mOccupancySensor implements VirtualDevice {
  readonly clientId: string;
  readonly firmwareIntervalS = 60;
  readonly will: DeviceMessage;
  readonly commandTopics: string[] = [];
  /** Aqara motion sensors send a heartbeat about every 50 minutes even without motion. */
  private readonly reporting = new ReportOnChange<boolean>(50 * 60_000);

  constructor(
    readonly config: DeviceConfig,
    private readonly building: SimulatedBuilding,
  ) {
    this.clientId = config.id;
    this.will = z2mAvailabilityMessage(config.topic, false);
  }

  birth(simNow: number): DeviceMessage[] {
    this.reporting.forget();
    return [z2mAvailabilityMessage(this.config.topic, true), ...this.report(simNow)];
  }

  report(simNow: number): DeviceMessage[] {
    const occupied = this.building.peopleIn(this.config.space, simNow) > 0;
    if (!this.reporting.due(occupied, simNow)) return [];
    const t = this.building.local(simNow);
    const lit = occupied && this.building.isSpaceOpen(this.config.space, simNow);
    const battery = Math.round(seededTrait(this.building, this.config, 'battery', 35, 100));
    return [
      message(
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

export default defineSimulator((device, { building }) => new Z2mOccupancySensor(device, building));
