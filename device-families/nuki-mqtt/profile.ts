/**
 * Nuki Smart Lock 3.0 Pro / 4.0 through Nuki's official MQTT API (built into the lock's firmware).
 * The device's base topic is `nuki/<Nuki ID in hex>`, e.g. `nuki/2BB28570`.
 *
 * Decoding follows "Nuki MQTT API" v1.4–1.6 (PDF on https://developer.nuki.io/t/mqtt-api-specification-v1-4/19223,
 * linked from https://developer.nuki.io/c/apis/mqtt-api/42), sections "Topics" and "Lock Actions":
 * - `state`: lock state code as in the Nuki Smart Lock BLE API (0 uncalibrated, 1 locked, 2 unlocking,
 *   3 unlocked, 4 locking, 5 unlatched, 6 unlocked (lock 'n' go), 7 unlatching, 252 calibration,
 *   253 boot run, 254 motor blocked, 255 undefined).
 * - `doorsensorState`: 1 deactivated, 2 door closed, 3 door opened, 4 door state unknown, 5 calibrating,
 *   16 uncalibrated, 240 tampered, 255 unknown (0 = unavailable: no door sensor paired).
 * - `batteryCritical` true/false, `batteryChargeState` 0–100 %, `batteryCharging`, `keypadBatteryCritical`,
 *   `doorsensorBatteryCritical` true/false; `connected` true, last will false.
 * - `lockAction` (the lock subscribes): 1 unlock, 2 lock, 3 unlatch, 4 lock 'n' go, 5 lock 'n' go with
 *   unlatch, 6 full lock ("Only actions 1-6 are supported"); `lock`/`unlock` take `true`.
 * - `commandResponse`: "the return code of the last command it executed: 0 = Success, 1-255 = Error code
 *   as described in the BLE API".
 * - `lockActionEvent`: "LockAction,Trigger,Auth-ID,Code-ID,Auto-Unlock/button presses/keypad source",
 *   e.g. `3,0,54321,12345,1`. It announces an action about to run; the resulting `state` is the reading.
 *
 * A lock must never be able to publish its own `lockAction`: the ACL lists only what the lock publishes.
 * Commands are never retained, or the lock would replay an unlock whenever it reconnects.
 */
import type { DoorState, LockState } from '../../building/quantities.ts';
import { battery, batteryLow, doorState, lockState } from '../../device-profiles/capabilities.ts';
import {
  defineProfile,
  informational,
  plainAvailability,
  plainValue,
  plainWord,
  rootedLayout,
  unusedNumber,
} from '../../device-profiles/define.ts';
import { DecodeError, type DeviceAction } from '../../device-profiles/profile.ts';

export const NUKI_LOCK_STATES: Record<number, LockState> = {
  0: 'uncalibrated',
  1: 'locked',
  2: 'unlocking',
  3: 'unlocked',
  4: 'locking',
  5: 'unlatched',
  6: 'unlocked_lock_n_go',
  7: 'unlatching',
  252: 'calibration',
  253: 'boot_run',
  254: 'motor_blocked',
  255: 'undefined',
};

export const NUKI_DOOR_STATES: Record<number, DoorState> = {
  0: 'unavailable',
  1: 'deactivated',
  2: 'closed',
  3: 'open',
  4: 'unknown',
  5: 'calibrating',
  16: 'uncalibrated',
  240: 'tampered',
  255: 'unknown',
};

export const NUKI_LOCK_ACTIONS: Partial<Record<DeviceAction, number>> = { unlock: 1, lock: 2, unlatch: 3 };

const INTEGER = /^\d{1,10}$/;
const trueFalse = plainWord(['true', 'false']);

const lockAction = (action: DeviceAction) => (deviceTopic: string) => [
  {
    topic: `${deviceTopic}/lockAction`,
    payload: String(NUKI_LOCK_ACTIONS[action]),
    qos: 1 as const,
    retain: false,
  },
];

export default defineProfile({
  id: 'nuki-mqtt',
  vendor: 'Nuki',
  description: 'Nuki Smart Lock (official MQTT API)',
  sources: [
    'https://developer.nuki.io/t/mqtt-api-specification-v1-4/19223',
    'https://developer.nuki.io/c/apis/mqtt-api/42',
  ],
  // Locks publish on change only; `connected` (LWT) tells offline from quiet.
  reportingIntervalS: 86_400,
  layout: rootedLayout('nuki'),
  subscriptions: ['nuki/+/+'],
  reports: {
    state: plainValue(lockState(NUKI_LOCK_STATES)),
    doorsensorState: plainValue(doorState(NUKI_DOOR_STATES)),
    batteryCritical: plainValue(batteryLow()),
    batteryChargeState: plainValue(battery()),
    connected: plainAvailability({ online: 'true', offline: 'false' }),
    commandResponse: (payload, { where }) => {
      const text = payload.toString('utf8').trim();
      const code = INTEGER.test(text) ? Number(text) : Number.NaN;
      if (!(code >= 0 && code <= 255))
        throw new DecodeError(`${where}: expected a return code 0…255, got "${text}"`);
      return code === 0
        ? { readings: [], commandResult: { ok: true, detail: 'success' } }
        : {
            readings: [],
            commandResult: {
              ok: false,
              detail: `Nuki error 0x${code.toString(16).toUpperCase().padStart(2, '0')}`,
            },
          };
    },
    lockActionEvent: informational((payload, where) => {
      const fields = payload.toString('utf8').trim().split(',');
      if (fields.length !== 5 || !fields.every((f) => INTEGER.test(f))) {
        throw new DecodeError(
          `${where}: expected five comma-separated integers (action,trigger,authId,codeId,detail)`,
        );
      }
    }),
    batteryCharging: trueFalse,
    keypadBatteryCritical: trueFalse,
    doorsensorBatteryCritical: trueFalse,
    serverConnected: trueFalse,
    deviceType: unusedNumber(),
    mode: unusedNumber(),
    name: informational(),
    firmware: informational(),
    timestamp: informational(),
  },
  listens: ['lockAction', 'lock', 'unlock'],
  commands: { unlock: lockAction('unlock'), lock: lockAction('lock'), unlatch: lockAction('unlatch') },
});
