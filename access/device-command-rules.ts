import { valueRefusal } from '../device-profiles/command-values.ts';
import type { ActionValue, DeviceAction } from '../device-profiles/profile.ts';
import type { RateLimit } from './unlock-rules.ts';

/**
 * Which commands the building's commands route (`POST /api/devices/:id/commands`) sends, and to what. Who may
 * call it is the route's declaration (facility and admin, and integration tokens with `commands:write`); what
 * it may send is decided here. Pure: the route gathers the device's facts and carries out the verdict.
 */

/**
 * The actions of the commands route. Locks are not among them: a door is opened by the unlock route alone,
 * under its booking rules and rate limit (`access/unlock-rules.ts`), whoever asks.
 */
export const ROUTE_ACTIONS = [
  'switch_on',
  'switch_off',
  'set_setpoint',
] as const satisfies readonly DeviceAction[];
export type RouteAction = (typeof ROUTE_ACTIONS)[number];

export function isRouteAction(action: string): action is RouteAction {
  return (ROUTE_ACTIONS as readonly string[]).includes(action);
}

export type DeviceCommandRefusal = 'unknown_device' | 'unsupported' | 'invalid_value';

export type DeviceCommandVerdict =
  | { send: true }
  | { send: false; reason: DeviceCommandRefusal; detail: string };

export interface DeviceCommandFacts {
  /** The site's device (its family's actions and their values), or undefined when there is none of that id. */
  device:
    | {
        id: string;
        actions: readonly DeviceAction[];
        actionValues?: Partial<Record<DeviceAction, ActionValue>>;
      }
    | undefined;
  action: RouteAction;
  value?: number;
}

/**
 * In this order: no such device; the device's family cannot carry out the action (a plug has no setpoint, a
 * CO2 sensor switches nothing); the value is not one the action takes (`valueRefusal`, the same rule the
 * gateway applies before it encodes). Otherwise the command is sent; the device's answer decides the rest.
 */
export function decideDeviceCommand(f: DeviceCommandFacts): DeviceCommandVerdict {
  if (!f.device) return { send: false, reason: 'unknown_device', detail: 'no such device in this site' };
  if (!f.device.actions.includes(f.action))
    return {
      send: false,
      reason: 'unsupported',
      detail: `${f.device.id} cannot ${f.action}${f.device.actions.length > 0 ? ` (it can: ${f.device.actions.join(', ')})` : ''}`,
    };
  const refusal = valueRefusal(f.action, f.value, f.device.actionValues?.[f.action]);
  if (refusal) return { send: false, reason: 'invalid_value', detail: refusal };
  return { send: true };
}

/**
 * How many commands one caller (a member, an integration token) may send: an automation switching a floor's
 * Protel rooms at closing sends a few dozen at once, a runaway flow or a stolen token thousands. A caller past
 * it is answered 429 with Retry-After, audited, and nothing is sent.
 */
export const DEFAULT_DEVICE_COMMAND_RATE: RateLimit = { burst: 60, perMinute: 60 };
