/**
 * A simulated radiator valve (Danfoss Ally 014G2461) behind Zigbee2MQTT, and the room it heats: its state on
 * `zigbee2mqtt/<friendly_name>` (`local_temperature`, `occupied_heating_setpoint`, `pi_heating_demand`,
 * `running_state`, `system_mode`, `battery`, `linkquality`) every ten minutes and at once after a change of
 * setpoint; the bridge's retained `<…>/availability`. It takes `{"occupied_heating_setpoint": VALUE}` on
 * `zigbee2mqtt/<friendly_name>/set`, as Zigbee2MQTT's device page says (formats as cited in profile.ts); a
 * value the valve cannot take is ignored, as Zigbee2MQTT drops a write outside the expose's range.
 *
 * The room, one heat balance (a first-order model, C·dT/dt = P·valve + Q_people − H·(T − T_out)), in watts:
 * H is the room's heat-loss coefficient from the site file (`heat_loss_w_per_k`, the one the board report's
 * "saved by automations" multiplies a setback's degree-hours by, reports/automation-savings.ts; without it
 * 1.5 W/K per m²), C the heat its floor area's structure stores (a solid old department store: 8 h times
 * 1.5 W/K per m², so a room of the usual H cools with a time constant of 8 h, a draughty one faster), P the
 * radiator, sized for the room: at full opening it holds the room 25 K above the air outside. The valve opens
 * in proportion to how far the room is below its setpoint (fully at half a degree below: the valve's band,
 * narrow enough that the room settles within a few tenths of its setpoint), and the outside follows the
 * season (about 2 °C in January, 18 °C in July) and the hour. People warm a room a little (the building's
 * occupancy). So a room set to 21 °C on a winter morning warms by roughly a degree an hour, and set back to
 * 16 °C cools slowly, the way a real room does; the heat its radiator gave is counted (`heatKwh`), so the
 * simulated building's saving from a setback is the one the board report estimates.
 */

import { linkquality, seededTrait } from '../../simulations/device-traits.ts';
import type { SimulatedBuilding } from '../../simulations/simulated-building.ts';
import {
  type CommandIo,
  type DeviceMessage,
  defineSimulator,
  message,
  round,
  type VirtualDevice,
} from '../../simulations/virtual-device.ts';
import type { DeviceConfig } from '../../site/site.ts';
import { z2mAvailabilityMessage } from '../zigbee2mqtt.ts';
import { TRV_SETPOINT } from './profile.ts';

/** A room's heat-loss coefficient per m² of floor when the site file gives none (W/K/m²). */
export const DEFAULT_HEAT_LOSS_W_PER_K_M2 = 1.5;
/** The heat a room's structure stores per m² of floor (J/K/m²): 8 h at the usual 1.5 W/K per m². */
const HEAT_CAPACITY_J_PER_K_M2 = 8 * 3600 * DEFAULT_HEAT_LOSS_W_PER_K_M2;
/** How far above the outside the radiator holds the room at full opening (K): its power is this times H. */
const FULL_HEAT_K = 25;
/** The valve's proportional band: fully open this far below the setpoint (K). */
const P_BAND_K = 0.5;
/**
 * What one person adds to the room's heat balance (W): the sensible heat the room keeps once the ventilation
 * has carried its share off (15 K·m² per person at 1.5 W/K per m², what the model added before it counted watts).
 */
const PERSON_W = 22.5;
/** Integration step (s); longer gaps than a day start again from the equilibrium. */
const STEP_S = 60;
const DAY_MS = 86_400_000;

/** The air outside (°C) at an instant: the season (coldest mid-January) and a day's swing. */
export function outsideC(simNow: number): number {
  const dayOfYear = (simNow % (365.25 * DAY_MS)) / DAY_MS;
  const season = 10 - 8 * Math.cos((2 * Math.PI * (dayOfYear - 15)) / 365.25);
  const hour = (simNow % DAY_MS) / 3_600_000;
  return season + 3 * Math.sin((2 * Math.PI * (hour - 9)) / 24);
}

/** The valve's opening (%) for a room at `roomC` heated to `setpointC`. */
export function valveOpening(roomC: number, setpointC: number): number {
  return Math.max(0, Math.min(100, ((setpointC - roomC) / P_BAND_K) * 100));
}

export interface Z2mThermostatState {
  localTemperature: number;
  setpoint: number;
  valve: number;
  battery: number;
  linkquality: number;
}

/** The state of a Danfoss Ally as Zigbee2MQTT publishes it. */
export function z2mThermostatPayload(s: Z2mThermostatState): string {
  return JSON.stringify({
    battery: s.battery,
    linkquality: s.linkquality,
    local_temperature: round(s.localTemperature, 2),
    occupied_heating_setpoint: s.setpoint,
    pi_heating_demand: Math.round(s.valve),
    running_state: s.valve > 0 ? 'heat' : 'idle',
    system_mode: 'heat',
  });
}

/** The room's physics as the heat balance needs it (W/K, J/K, W). */
export interface RoomHeat {
  /** H: the heat-loss coefficient, W/K. */
  lossWPerK: number;
  /** C: the stored heat per kelvin, J/K. */
  capacityJPerK: number;
  /** P: the radiator's power fully open, W. */
  radiatorW: number;
}

/** The heat balance of a space: H from the site file (or its area), C from its area, P sized by H. Pure. */
export function roomHeat(space: { area_m2: number; heat_loss_w_per_k?: number }): RoomHeat {
  const lossWPerK = space.heat_loss_w_per_k ?? DEFAULT_HEAT_LOSS_W_PER_K_M2 * space.area_m2;
  return {
    lossWPerK,
    capacityJPerK: HEAT_CAPACITY_J_PER_K_M2 * space.area_m2,
    radiatorW: FULL_HEAT_K * lossWPerK,
  };
}

export class Z2mThermostat implements VirtualDevice {
  readonly clientId: string;
  readonly firmwareIntervalS = 600;
  readonly will: DeviceMessage;
  readonly commandTopics: string[];
  /** The setpoint the valve holds (°C); 20 until someone sets another. */
  setpoint = 20;
  private roomC: number | undefined;
  private at: number | undefined;
  /**
   * The heat the radiator gave the room since the valve was made (kWh): what a heat meter would count. A gap
   * of more than a day between two questions starts the room again from its equilibrium, and counts nothing.
   */
  heatKwh = 0;

  constructor(
    readonly config: DeviceConfig,
    private readonly building: SimulatedBuilding,
  ) {
    this.clientId = config.id;
    this.will = z2mAvailabilityMessage(config.topic, false);
    this.commandTopics = [`${config.topic}/set`];
  }

  /** The room's temperature at `simNow` (°C), its heat balance integrated from the last time asked. */
  roomTemperature(simNow: number): number {
    if (this.roomC === undefined || this.at === undefined || simNow - this.at > DAY_MS || simNow < this.at) {
      this.roomC = this.equilibrium(simNow);
      this.at = simNow;
      return this.roomC;
    }
    const heat = this.heat();
    let t = this.at;
    let room = this.roomC;
    while (t < simNow) {
      const dt = Math.min(STEP_S * 1000, simNow - t);
      const radiatorW = (valveOpening(room, this.setpoint) / 100) * heat.radiatorW;
      const netW = radiatorW + this.peopleW(t) - heat.lossWPerK * (room - outsideC(t));
      room += (netW * dt) / 1000 / heat.capacityJPerK;
      this.heatKwh += (radiatorW * dt) / 3_600_000 / 1000;
      t += dt;
    }
    this.roomC = room;
    this.at = simNow;
    return room;
  }

  private heat(): RoomHeat {
    return roomHeat(this.building.space(this.config.space));
  }

  private peopleW(simNow: number): number {
    return this.building.peopleIn(this.config.space, simNow) * PERSON_W;
  }

  /** Where the room settles with the valve at work: solved for T = out + valve(T)·K + people/H. */
  private equilibrium(simNow: number): number {
    const free = outsideC(simNow) + this.peopleW(simNow) / this.heat().lossWPerK;
    // valve(T) = (sp − T)/band, clamped: T = (free + K·sp/band) / (1 + K/band) while the valve is partly open
    const k = FULL_HEAT_K / P_BAND_K;
    const partly = (free + k * this.setpoint) / (1 + k);
    if (partly >= this.setpoint) return free;
    return Math.max(partly, free);
  }

  private state(simNow: number): DeviceMessage {
    const room = this.roomTemperature(simNow);
    return message(
      this.config.topic,
      z2mThermostatPayload({
        localTemperature: room,
        setpoint: this.setpoint,
        valve: valveOpening(room, this.setpoint),
        battery: Math.round(seededTrait(this.building, this.config, 'battery', 40, 100)),
        linkquality: linkquality(this.building, this.config, simNow),
      }),
    );
  }

  birth(simNow: number): DeviceMessage[] {
    return [z2mAvailabilityMessage(this.config.topic, true), this.state(simNow)];
  }

  report(simNow: number): DeviceMessage[] {
    return [this.state(simNow)];
  }

  command(topic: string, payload: string, io: CommandIo): void {
    if (topic !== `${this.config.topic}/set`) return;
    let body: unknown;
    try {
      body = JSON.parse(payload);
    } catch {
      return;
    }
    const value = (body as { occupied_heating_setpoint?: unknown } | null)?.occupied_heating_setpoint;
    if (typeof value !== 'number' || value < TRV_SETPOINT.min || value > 35) return;
    // The room so far is integrated with the old setpoint; from now on the new one counts.
    this.roomTemperature(io.simNow());
    this.setpoint = value;
    // The Zigbee write and Zigbee2MQTT's state message take a moment.
    io.after(150, () => io.publish([this.state(io.simNow())]));
  }
}

export default defineSimulator((device, { building }) => new Z2mThermostat(device, building));
