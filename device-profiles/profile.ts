import type { Quantity } from '../building/quantities.ts';
import type { Reading } from '../building/reading.ts';

/**
 * The contract between the device families and the rest of the system.
 * A family's file exports a `DeviceProfile` (built declaratively from capability blocks); the gateway,
 * the broker's ACL, the simulator and `wesprint decode` only ever talk to this interface.
 */

/** Which device a topic belongs to and which of its sub-topics it is. */
export interface TopicMatch {
  /** The device's base topic, exactly as written in the site file's `topic` (e.g. `zigbee2mqtt/desk-3-12`). */
  deviceTopic: string;
  /** The family's own name for the sub-topic, e.g. `state`, `availability`, `relay/0/power`, `status/switch:0`. */
  subtopic: string;
}

/** A reading before the gateway knows which site device it belongs to. */
export type ProfileReading = Omit<Reading, 'device'>;

export interface DecodeResult {
  readings: ProfileReading[];
  /** Set when the message says the device went online/offline (LWT, availability topics). */
  availability?: 'online' | 'offline';
  /**
   * Set when the message is the device's answer to a command. `id`: the command it answers, when the vendor's
   * answer names it (a Shelly Gen2 RPC response); an answer naming another command finishes none.
   */
  commandResult?: { ok: boolean; detail: string; id?: string };
}

/** Thrown by `decode` for a message on a family topic that is not what the firmware sends. */
export class DecodeError extends Error {
  override name = 'DecodeError';
}

/** A command the building asks a device to carry out, in the building's words. */
export type DeviceAction = 'unlock' | 'lock' | 'unlatch' | 'switch_on' | 'switch_off' | 'set_setpoint';

/** Every action, in one place (the command rules, the API's schema). */
export const DEVICE_ACTIONS: readonly DeviceAction[] = [
  'unlock',
  'lock',
  'unlatch',
  'switch_on',
  'switch_off',
  'set_setpoint',
];

/**
 * The value an action carries (a setpoint), as the family declares it from the vendor's documented range:
 * a command outside it is refused before it is encoded (`device-profiles/command-values.ts`).
 */
export interface ActionValue {
  unit: string;
  min: number;
  max: number;
  /** The device's resolution: a value must be a whole multiple of it (0.5 °C for a radiator valve). */
  step: number;
}

/** What an encoder gets beside the action and channel. */
export interface CommandDetails {
  /** The value of an action that takes one (declared in `actionValues`). */
  value?: number;
  /** The building's command id, for vendors whose request carries one and answers with it (Shelly RPC). */
  id?: string;
}

export interface OutgoingMessage {
  topic: string;
  payload: string;
  qos: 0 | 1 | 2;
  retain: boolean;
}

export interface DeviceProfile {
  /** Stable id used in site files, e.g. `zigbee2mqtt-occupancy`, `nuki-mqtt`. */
  id: string;
  vendor: string;
  description: string;
  /** Vendor documentation the decoding follows (cited, and the source of the test payloads). */
  sources: string[];
  /** What the family may report; used by the API/dashboard to know what to show. */
  quantities: Quantity[];
  /** Seconds between regular reports, so health checks can tell "quiet" from "offline". */
  reportingIntervalS: number;
  /**
   * The device sleeps between its reports (a battery sensor that wakes, reports and drops off the network):
   * its last will or an "offline" it announces is its sleep, not an outage. It is offline only once it has
   * missed its reports, like any device (gateway/device-health.ts).
   */
  sleeping?: boolean;
  /** MQTT topic filters that carry this family's messages (what the gateway subscribes to). */
  subscriptions: string[];
  /** Does this topic belong to this family? Returns the device's base topic and sub-topic. */
  match(topic: string): TopicMatch | undefined;
  /** Decode one message; throws DecodeError for malformed payloads. Pure: no I/O. */
  decode(match: TopicMatch, payload: Buffer, receivedAt: number): DecodeResult;
  /** Actions the family can carry out; absent for pure sensors. */
  actions?: DeviceAction[];
  /** The actions that carry a value, and its range; an action not listed carries none. */
  actionValues?: Partial<Record<DeviceAction, ActionValue>>;
  /**
   * Encode an action for one channel (default 0: switch output 2 of a Pro 4PM is channel `2`) into the
   * vendor's command message(s). Throws for an action the family cannot carry out or a value it refuses.
   */
  encodeCommand?(
    deviceTopic: string,
    action: DeviceAction,
    channel?: string,
    details?: CommandDetails,
  ): OutgoingMessage[];
  /** Least-privilege MQTT ACL for a device of this family living at `deviceTopic` (filters, `+`/`#` allowed). */
  acl(deviceTopic: string): { publish: string[]; subscribe: string[] };
}
