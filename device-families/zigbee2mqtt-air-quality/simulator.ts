/**
 * A simulated CO2 / air-quality sensor (e.g. Heiman HS3AQ) behind Zigbee2MQTT: its state report on
 * `zigbee2mqtt/<friendly_name>` (JSON of its exposes: co2 ppm, temperature °C, humidity %, battery %,
 * linkquality) every minute, and the bridge's retained `<…>/availability` `{"state":"online"}`
 * (Z2M ≥ 2.0 JSON availability payload). Formats as cited in profile.ts.
 */

import { linkquality, RoomCo2, roomClimate, seededTrait } from '../../simulations/device-traits.ts';
import { chance } from '../../simulations/physics.ts';
import type { SimulatedBuilding } from '../../simulations/simulated-building.ts';
import {
  type DeviceMessage,
  defineSimulator,
  message,
  round,
  type VirtualDevice,
} from '../../simulations/virtual-device.ts';
import type { DeviceConfig } from '../../site/site.ts';
import { z2mAvailabilityMessage } from '../zigbee2mqtt.ts';

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

class Z2mAirQualitySensor implements VirtualDevice {
  readonly clientId: string;
  readonly firmwareIntervalS = 60;
  readonly will: DeviceMessage;
  readonly commandTopics: string[] = [];
  private readonly air: RoomCo2;

  constructor(
    readonly config: DeviceConfig,
    private readonly building: SimulatedBuilding,
  ) {
    this.clientId = config.id;
    this.will = z2mAvailabilityMessage(config.topic, false);
    this.air = new RoomCo2(building, config.space);
  }

  birth(simNow: number): DeviceMessage[] {
    return [z2mAvailabilityMessage(this.config.topic, true), ...this.report(simNow)];
  }

  report(simNow: number): DeviceMessage[] {
    const co2 = this.air.at(simNow);
    const climate = roomClimate(this.building, this.config, simNow);
    return [
      message(
        this.config.topic,
        z2mAirQualityPayload({
          co2: co2 + (chance(this.config.id, simNow) - 0.5) * 8,
          temperature: climate.temperatureC,
          humidity: climate.humidityPct,
          battery: Math.round(seededTrait(this.building, this.config, 'battery', 50, 100)),
          linkquality: linkquality(this.building, this.config, simNow),
        }),
      ),
    ];
  }
}

export default defineSimulator((device, { building }) => new Z2mAirQualitySensor(device, building));
