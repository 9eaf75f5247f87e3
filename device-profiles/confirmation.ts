import { FIRST_CHANNEL } from '../building/reading.ts';
import type { DeviceAction, ProfileReading } from './profile.ts';

/**
 * Which reading of the device confirms a command: the new state it reports once it has carried it out
 * (a relay's `on` on the commanded channel, the setpoint a thermostat now holds). Switches and thermostats
 * answer a command with their state, not with a receipt; a lock answers with a receipt of its own
 * (`commandResult`, Nuki's `commandResponse`) and is not confirmed here. Pure.
 */
export interface CommandAsked {
  action: DeviceAction;
  /** The commanded channel; absent: channel 0. */
  channel?: string;
  value?: number;
}

/** A setpoint read back within this of the one asked is the one asked (devices report 21 for 21.0). */
const SETPOINT_TOLERANCE = 0.01;

export function confirmedBy(
  command: CommandAsked,
  reading: Pick<ProfileReading, 'channel' | 'quantity' | 'value'>,
): boolean {
  if (reading.channel !== (command.channel ?? FIRST_CHANNEL)) return false;
  switch (command.action) {
    case 'switch_on':
      return reading.quantity === 'switch' && reading.value === 'on';
    case 'switch_off':
      return reading.quantity === 'switch' && reading.value === 'off';
    case 'set_setpoint':
      return (
        reading.quantity === 'setpoint' &&
        typeof reading.value === 'number' &&
        command.value !== undefined &&
        Math.abs(reading.value - command.value) <= SETPOINT_TOLERANCE
      );
    default:
      return false;
  }
}
