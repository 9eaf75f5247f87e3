import type { DeviceConfig } from '../site/site.ts';
import type { CounterState } from './physics.ts';
import type { SimulatedBuilding } from './simulated-building.ts';

/**
 * What a device family's simulator implements (`device-families/<id>/simulator.ts`): a virtual device
 * produces exactly the MQTT messages its real firmware publishes, from the simulated building's state.
 * It does no I/O itself; the simulator process (simulator.ts) connects each one with its own MQTT client
 * and credentials and passes the messages on, and the history (backfill) decodes them in process.
 * The vendor formats each family follows are cited in its folder.
 */

export interface DeviceMessage {
  topic: string;
  payload: string;
  qos: 0 | 1;
  retain: boolean;
}

/** What a device may do in response to a command: publish now or later (real milliseconds). */
export interface CommandIo {
  publish(messages: DeviceMessage[]): void;
  after(realMs: number, action: () => void): void;
  simNow(): number;
}

export type LockMode = 'normal' | 'unresponsive' | 'offline';

export interface LockOptions {
  /** Real milliseconds the motor takes to turn (state 2 → 3, 4 → 1). */
  motorMs?: number;
  /** Real milliseconds after which an unlocked door locks itself again (0 = never). */
  relockAfterMs?: number;
  /** After an unlock the door is opened and closed again (door sensor 3 → 2). */
  doorOpensOnUnlock?: boolean;
}

/** A virtual lock, as the simulator's lock controls (tests, demo) see it. */
export interface VirtualLock {
  /** The state code as the firmware reports it (Nuki: 1 locked, 3 unlocked, …). */
  readonly state: number;
  /** `unresponsive`: stays connected but ignores commands (offline is the simulator's business). */
  mode: LockMode;
  readonly commandsReceived: number;
}

export interface VirtualDevice {
  readonly config: DeviceConfig;
  readonly clientId: string;
  /** How often the firmware looks at its sensor / reports, in device (simulated) seconds. */
  readonly firmwareIntervalS: number;
  /** Last will, set at connect: what the broker publishes when the device drops off. */
  readonly will: DeviceMessage;
  /** What the firmware publishes right after each (re)connect. */
  birth(simNow: number): DeviceMessage[];
  /** Advances the device's physics to `simNow` and returns what it publishes now (maybe nothing). */
  report(simNow: number): DeviceMessage[];
  /** Command topics the device subscribes to. */
  readonly commandTopics: string[];
  command?(topic: string, payload: string, io: CommandIo): void;
  /** Set by a lock. */
  readonly lock?: VirtualLock;
}

export interface DeviceOptions {
  rebootProbabilityPerDay?: number;
  lock?: LockOptions;
  /** A meter's counter at the start, Wh: the live simulator going on from the stored history. */
  counterWh?: number;
  /**
   * A meter's counter at each instant, given from outside instead of integrated here: the history
   * backfill computes it so that the history ends where the live meter starts.
   */
  counterAt?: (simNow: number) => CounterState;
}

/** What a family's simulator is given for each device of its family. */
export interface SimulationContext {
  building: SimulatedBuilding;
  /** Simulated epoch ms at which the device starts. */
  simStart: number;
  options: DeviceOptions;
}

/** The default export of a family's `simulator.ts`: it makes the virtual device of a site device. */
export interface FamilySimulator {
  create(device: DeviceConfig, context: SimulationContext): VirtualDevice;
}

export function defineSimulator(create: FamilySimulator['create']): FamilySimulator {
  return { create };
}

export const round = (v: number, digits: number) => Number(v.toFixed(digits));

export const message = (
  topic: string,
  payload: string | number | boolean,
  retain = false,
  qos: 0 | 1 = 0,
): DeviceMessage => ({
  topic,
  payload: String(payload),
  qos,
  retain,
});
