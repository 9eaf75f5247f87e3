import type { CommandMessage, CommandOutcome } from '../building/topics.ts';
import { valueRefusal } from '../device-profiles/command-values.ts';
import { type ActionValue, DEVICE_ACTIONS, type DeviceAction } from '../device-profiles/profile.ts';

/**
 * Whether the gateway may carry out a command from the building's command topic. Pure, so the rules that keep
 * a lock safe (never twice, never late, never to a device that cannot do it) are tested on their own.
 */
export const ACTIONS: readonly DeviceAction[] = DEVICE_ACTIONS;

/** A command whose expiry lies further ahead than this is refused: nothing may wait that long to open a door. */
export const MAX_COMMAND_LIFETIME_MS = 5 * 60_000;

export type CommandDecision =
  | { execute: true; command: CommandMessage & { action: DeviceAction } }
  | { execute: false; id: string | null; outcome: CommandOutcome; detail: string };

export interface CommandContext {
  now: number;
  deviceKnown: boolean;
  deviceOnline: boolean;
  supportedActions: readonly DeviceAction[];
  /** The values the device's family declares for its actions (`DeviceProfile.actionValues`). */
  actionValues?: Partial<Record<DeviceAction, ActionValue>>;
  alreadySeen: (id: string) => boolean;
  busy: boolean;
}

const UUIDISH = /^[A-Za-z0-9_-]{8,64}$/;
/** A channel as the firmware numbers it (relay/switch output): 0…99. */
const CHANNEL = /^(0|[1-9][0-9]?)$/;

export function parseCommand(payload: Buffer): CommandMessage | string {
  let raw: unknown;
  try {
    raw = JSON.parse(payload.toString('utf8'));
  } catch {
    return 'command is not JSON';
  }
  if (typeof raw !== 'object' || raw === null) return 'command is not a JSON object';
  const { id, action, expiresAt, channel, value } = raw as Record<string, unknown>;
  if (typeof id !== 'string' || !UUIDISH.test(id)) return 'command id must be 8-64 characters [A-Za-z0-9_-]';
  if (typeof action !== 'string') return 'command action must be a string';
  if (typeof expiresAt !== 'number' || !Number.isFinite(expiresAt))
    return 'command expiresAt must be epoch ms';
  if (channel !== undefined && (typeof channel !== 'string' || !CHANNEL.test(channel)))
    return 'command channel must be a channel number as a string ("0" … "99")';
  // Whether the action takes this value is the device's family's to say (decideCommand); here only its type.
  if (value !== undefined && (typeof value !== 'number' || !Number.isFinite(value)))
    return 'command value must be a number';
  return {
    id,
    action,
    expiresAt,
    ...(channel === undefined ? {} : { channel }),
    ...(value === undefined ? {} : { value }),
  };
}

export function decideCommand(command: CommandMessage, ctx: CommandContext): CommandDecision {
  const refuse = (outcome: CommandOutcome, detail: string): CommandDecision => ({
    execute: false,
    id: command.id,
    outcome,
    detail,
  });
  if (ctx.alreadySeen(command.id))
    return refuse('duplicate', 'command id was already received; not executed again');
  if (command.expiresAt <= ctx.now)
    return refuse('expired', 'command arrived after its expiry; not executed');
  if (command.expiresAt - ctx.now > MAX_COMMAND_LIFETIME_MS)
    return refuse('failed', `command expiry is more than ${MAX_COMMAND_LIFETIME_MS / 1000} s ahead`);
  if (!ctx.deviceKnown) return refuse('failed', 'no such device in this site');
  const action = command.action as DeviceAction;
  if (!ACTIONS.includes(action) || !ctx.supportedActions.includes(action))
    return refuse('unsupported', `device cannot ${command.action}`);
  // Before the device is asked anything: a setpoint of 80 °C never reaches the encoder, let alone the valve.
  const refusal = valueRefusal(action, command.value, ctx.actionValues?.[action]);
  if (refusal) return refuse('invalid_value', refusal);
  if (!ctx.deviceOnline) return refuse('offline', 'device is offline');
  if (ctx.busy) return refuse('failed', 'device is still carrying out another command');
  return { execute: true, command: { ...command, action } };
}
