/**
 * A simulated door contact (Aqara MCCGQ11LM-style) behind Zigbee2MQTT: its state report on
 * `zigbee2mqtt/<friendly_name>` (JSON of its exposes: contact, battery %, voltage mV, linkquality) when the
 * door opens or closes and with its heartbeat, and the bridge's retained `<…>/availability`.
 * Formats as cited in profile.ts. The door opens when someone comes or goes (the number of people in the
 * space changed since the sensor last looked) and is closed again at its next look, a minute later.
 */

import { linkquality, ReportOnChange, seededTrait } from '../../simulations/device-traits.ts';
import type { SimulatedBuilding } from '../../simulations/simulated-building.ts';
import {
  type DeviceMessage,
  defineSimulator,
  message,
  type VirtualDevice,
} from '../../simulations/virtual-device.ts';
import type { DeviceConfig } from '../../site/site.ts';
import { z2mAvailabilityMessage } from '../zigbee2mqtt.ts';

export interface Z2mContactState {
  /** Zigbee2MQTT's convention: true is closed (the magnet at the sensor). */
  contact: boolean;
  battery: number;
  voltage: number;
  linkquality: number;
}

/** A contact sensor's report as Zigbee2MQTT publishes it. */
export function z2mContactPayload(s: Z2mContactState): string {
  return JSON.stringify({
    battery: s.battery,
    contact: s.contact,
    linkquality: s.linkquality,
    voltage: s.voltage,
  });
}

class Z2mContactSensor implements VirtualDevice {
  readonly clientId: string;
  /** How often the simulation looks whether someone came or went (the real sensor reports at once). */
  readonly firmwareIntervalS = 60;
  readonly will: DeviceMessage;
  readonly commandTopics: string[] = [];
  private people: number | undefined;
  /** Aqara end devices check in about every 50 minutes even when nothing happens. */
  private readonly reporting = new ReportOnChange<boolean>(50 * 60_000);

  constructor(
    readonly config: DeviceConfig,
    private readonly building: SimulatedBuilding,
  ) {
    this.clientId = config.id;
    this.will = z2mAvailabilityMessage(config.topic, false);
  }

  birth(simNow: number): DeviceMessage[] {
    this.people = this.building.peopleIn(this.config.space, simNow);
    this.reporting.forget();
    return [z2mAvailabilityMessage(this.config.topic, true), ...this.door(true, simNow)];
  }

  report(simNow: number): DeviceMessage[] {
    const people = this.building.peopleIn(this.config.space, simNow);
    const someoneCameOrWent = this.people !== undefined && people !== this.people;
    this.people = people;
    // Open while someone walks through; closed again at the next look.
    return this.door(!someoneCameOrWent, simNow);
  }

  private door(closed: boolean, simNow: number): DeviceMessage[] {
    if (!this.reporting.due(closed, simNow)) return [];
    const battery = Math.round(seededTrait(this.building, this.config, 'battery', 40, 100));
    return [
      message(
        this.config.topic,
        z2mContactPayload({
          contact: closed,
          battery,
          voltage: 2850 + battery * 2,
          linkquality: linkquality(this.building, this.config, simNow),
        }),
      ),
    ];
  }
}

export default defineSimulator((device, { building }) => new Z2mContactSensor(device, building));
