/**
 * A simulated Nuki Smart Lock, in the formats of the Nuki MQTT API (v1.4) cited in profile.ts:
 * `nuki/<id>/state`, `connected` (true, last will false), `batteryCritical`, `batteryChargeState`,
 * `batteryCharging`, `doorsensorState`, all retained; commands on `lockAction`, answered on
 * `commandResponse` (0 = success, else BLE API error code) and announced on `lockActionEvent`
 * (`action,trigger,authId,codeId,autoUnlock`; trigger 172 = MQTT). The state machine: the motor turns
 * (unlocking → unlocked), the door is walked through, the lock locks itself again after a while.
 */

import { seededTrait } from '../../simulations/device-traits.ts';
import { DAY_MS } from '../../simulations/physics.ts';
import type { SimulatedBuilding } from '../../simulations/simulated-building.ts';
import {
  type CommandIo,
  type DeviceMessage,
  defineSimulator,
  type LockMode,
  type LockOptions,
  message,
  type VirtualDevice,
  type VirtualLock,
} from '../../simulations/virtual-device.ts';
import type { DeviceConfig } from '../../site/site.ts';

/** Nuki lock states (MQTT API / BLE API). */
export const NUKI_STATE = {
  uncalibrated: 0,
  locked: 1,
  unlocking: 2,
  unlocked: 3,
  locking: 4,
  unlatched: 5,
  unlockedLockNGo: 6,
  unlatching: 7,
  motorBlocked: 254,
  undefined: 255,
} as const;

export const NUKI_DOOR = { deactivated: 1, closed: 2, opened: 3, unknown: 4 } as const;

/** Nuki lock actions accepted on `lockAction`. */
export const NUKI_ACTION = {
  unlock: 1,
  lock: 2,
  unlatch: 3,
  lockNGo: 4,
  lockNGoUnlatch: 5,
  fullLock: 6,
} as const;

/** BLE API keyturner error K_ERROR_BAD_PARAMETER: an action the lock does not know. */
export const NUKI_ERROR_BAD_PARAMETER = 0x23;
/** lockActionEvent trigger for actions that came over MQTT. */
export const NUKI_TRIGGER_MQTT = 172;

export class NukiLock implements VirtualDevice, VirtualLock {
  readonly clientId: string;
  /** The lock reports its battery about hourly; state changes go out at once. */
  readonly firmwareIntervalS = 3600;
  readonly will: DeviceMessage;
  readonly commandTopics: string[];
  readonly lock: VirtualLock = this;
  state: number = NUKI_STATE.locked;
  door: number = NUKI_DOOR.closed;
  /** `unresponsive`: stays connected but ignores commands (offline is the simulator's business). */
  mode: LockMode = 'normal';
  commandsReceived = 0;
  private readonly motorMs: number;
  private readonly relockAfterMs: number;
  private readonly doorOpensOnUnlock: boolean;
  /** Bumped by every action so that a pending re-lock from an older unlock is dropped. */
  private generation = 0;

  constructor(
    readonly config: DeviceConfig,
    private readonly building: SimulatedBuilding,
    options: LockOptions = {},
  ) {
    this.clientId = `nuki_${config.topic.slice(config.topic.lastIndexOf('/') + 1)}`;
    this.will = message(`${config.topic}/connected`, false, true, 1);
    this.commandTopics = [`${config.topic}/lockAction`];
    this.motorMs = options.motorMs ?? 600;
    this.relockAfterMs = options.relockAfterMs ?? 20_000;
    this.doorOpensOnUnlock = options.doorOpensOnUnlock ?? true;
  }

  private battery(simNow: number): number {
    const start = seededTrait(this.building, this.config, 'battery', 30, 100);
    // a set of batteries lasts about half a year in a busy door
    return Math.max(0, Math.round(start - (((simNow / DAY_MS) % 180) / 180) * 25));
  }

  private stateMessages(): DeviceMessage[] {
    return [message(`${this.config.topic}/state`, this.state, true, 1)];
  }

  birth(simNow: number): DeviceMessage[] {
    return [
      message(`${this.config.topic}/connected`, true, true, 1),
      ...this.stateMessages(),
      message(`${this.config.topic}/doorsensorState`, this.door, true, 1),
      ...this.report(simNow),
    ];
  }

  report(simNow: number): DeviceMessage[] {
    const charge = this.battery(simNow);
    return [
      message(`${this.config.topic}/batteryChargeState`, charge, true, 1),
      message(`${this.config.topic}/batteryCritical`, charge < 20, true, 1),
      message(`${this.config.topic}/batteryCharging`, false, true, 1),
    ];
  }

  command(topic: string, payload: string, io: CommandIo): void {
    if (topic !== `${this.config.topic}/lockAction`) return;
    this.commandsReceived++;
    if (this.mode !== 'normal') return;
    // the extended form "action,…" carries extra fields after the action id
    const action = Number(payload.trim().split(',')[0]);
    const t = this.config.topic;
    const known = Object.values(NUKI_ACTION) as number[];
    if (!Number.isInteger(action) || !known.includes(action)) {
      io.publish([message(`${t}/commandResponse`, NUKI_ERROR_BAD_PARAMETER, false, 1)]);
      return;
    }
    const generation = ++this.generation;
    const setState = (state: number) => {
      if (generation !== this.generation) return;
      this.state = state;
      io.publish(this.stateMessages());
    };
    io.publish([
      message(`${t}/commandResponse`, 0, false, 1),
      message(`${t}/lockActionEvent`, `${action},${NUKI_TRIGGER_MQTT},0,0,0`, false, 1),
    ]);
    const opens = action === NUKI_ACTION.unlock || action === NUKI_ACTION.unlatch;
    if (opens) {
      const unlatch = action === NUKI_ACTION.unlatch;
      setState(unlatch ? NUKI_STATE.unlatching : NUKI_STATE.unlocking);
      io.after(this.motorMs, () => {
        setState(unlatch ? NUKI_STATE.unlatched : NUKI_STATE.unlocked);
        if (unlatch) io.after(this.motorMs, () => setState(NUKI_STATE.unlocked));
        if (this.doorOpensOnUnlock) this.swingDoor(io, generation);
        if (this.relockAfterMs > 0) {
          io.after(this.relockAfterMs, () => {
            if (generation !== this.generation || this.mode !== 'normal') return;
            setState(NUKI_STATE.locking);
            io.after(this.motorMs, () => setState(NUKI_STATE.locked));
          });
        }
      });
      return;
    }
    // lock, lock'n'go (with or without unlatch), full lock: all end locked
    if (action === NUKI_ACTION.lockNGo || action === NUKI_ACTION.lockNGoUnlatch) {
      setState(NUKI_STATE.unlockedLockNGo);
      io.after(this.motorMs * 2, () => {
        setState(NUKI_STATE.locking);
        io.after(this.motorMs, () => setState(NUKI_STATE.locked));
      });
      return;
    }
    setState(NUKI_STATE.locking);
    io.after(this.motorMs, () => setState(NUKI_STATE.locked));
  }

  /** Someone walks through: the door sensor sees the door open, then closed again. */
  private swingDoor(io: CommandIo, generation: number): void {
    const t = this.config.topic;
    io.after(this.motorMs, () => {
      if (generation !== this.generation) return;
      this.door = NUKI_DOOR.opened;
      io.publish([message(`${t}/doorsensorState`, this.door, true, 1)]);
      io.after(this.motorMs * 4, () => {
        this.door = NUKI_DOOR.closed;
        io.publish([message(`${t}/doorsensorState`, this.door, true, 1)]);
      });
    });
  }
}

export default defineSimulator(
  (device, { building, options }) => new NukiLock(device, building, options.lock),
);
