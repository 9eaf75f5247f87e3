/**
 * Shelly Gen1 relays and meters: Plug / Plug S, Shelly 1PM, Shelly EM, Shelly 3EM (plain-value topics).
 *
 * Decoding follows the Shelly Gen1 API, https://shelly-api-docs.shelly.cloud/gen1/:
 * - "Shelly Plug/PlugS: MQTT" and "Shelly1/1PM: MQTT": `shellies/<id>/relay/0` on/off/overpower,
 *   `relay/0/power` instantaneous power in W, `relay/0/energy` "an incrementing energy counter in
 *   Watt-minute", `temperature` °C, `relay/0/command` accepts on/off/toggle.
 * - "Shelly EM: MQTT" / "Shelly 3EM: MQTT": `emeter/<i>/energy` and `returned_energy` in Watt-minute,
 *   `emeter/<i>/total` and `total_returned` "total energy in Wh (accumulated in device's non-volatile
 *   memory)", `emeter/<i>/power` W, `reactive_power`, `voltage` V, `current` A (3EM), `pf` (3EM).
 * - "MQTT" (common): `shellies/<id>/online` is `true` on connect and the last will is `false`;
 *   `shellies/<id>/info` and `announce` are JSON; `shellies/<id>/command` takes announce/update.
 *
 * - "Shelly EM: MQTT": two channels, `emeter/0` and `emeter/1`; "Shelly 3EM: MQTT": three, `emeter/0..2`,
 *   one per phase; "Shelly 2.5: MQTT": `relay/0` and `relay/1`, each with its own `power` and `energy`.
 *
 * Every channel gives readings: `relay/<i>/…` and `emeter/<i>/…` are channel `<i>` (a 3EM main meter is
 * its three phases; summing them is the reader's business, see reports/meter-energy.ts). Commands address a
 * channel: `relay/<i>/command` `on`/`off` ("Shelly1/1PM: MQTT", "Shelly 2.5: MQTT": "accepts on, off or
 * toggle"); the relay answers with its new state on `relay/<i>` (`on`/`off`), which is the `switch` reading
 * that confirms the command (`overpower`: the relay switched itself off, so `off`).
 * For an EM the non-volatile `emeter/<i>/total` (Wh) is the counter; its `emeter/<i>/energy` restarts at
 * every reboot and would be a second, conflicting energy series, so it is not a reading. Returned energy
 * (`total_returned`, `returned_energy`) is checked and not stored: the building has no quantity for export.
 */

import { FIRST_CHANNEL } from '../../building/reading.ts';
import {
  current,
  energyCounter,
  power,
  switchState,
  temperature,
  voltage,
} from '../../device-profiles/capabilities.ts';
import {
  defineProfile,
  informational,
  parseJsonObject,
  plainAvailability,
  plainState,
  plainValue,
  plainWord,
  rootedLayout,
  unusedNumber,
} from '../../device-profiles/define.ts';
import { DecodeError } from '../../device-profiles/profile.ts';

const numberText = unusedNumber();

/** `relay/<i>/…` and `emeter/<i>/…` are channel `<i>`; the firmware numbers them 0, 1, 2. */
function relayOrMeterChannel(subtopic: string): string {
  const [head, index = ''] = subtopic.split('/');
  if (head !== 'relay' && head !== 'emeter') return FIRST_CHANNEL;
  if (!/^\d{1,2}$/.test(index))
    throw new DecodeError(`shelly-gen1 ${subtopic}: "${index}" is no ${head} number`);
  return String(Number(index));
}
const json = informational((payload, where) => void parseJsonObject(payload, where));

const command = (word: string) => (deviceTopic: string, channel: string) => [
  { topic: `${deviceTopic}/relay/${channel}/command`, payload: word, qos: 1 as const, retain: false },
];

export default defineProfile({
  id: 'shelly-gen1',
  vendor: 'Shelly (Allterco)',
  description: 'Shelly Gen1 plug / 1PM / EM / 3EM',
  sources: [
    'https://shelly-api-docs.shelly.cloud/gen1/#shelly-plug-plugs-mqtt',
    'https://shelly-api-docs.shelly.cloud/gen1/#shelly1-1pm-mqtt',
    'https://shelly-api-docs.shelly.cloud/gen1/#shelly-em-mqtt',
    'https://shelly-api-docs.shelly.cloud/gen1/#shelly-3em-mqtt',
    'https://shelly-api-docs.shelly.cloud/gen1/#shelly2-5-mqtt',
  ],
  // Gen1 republishes its status every `mqtt_update_period` (default 30 s).
  reportingIntervalS: 30,
  layout: rootedLayout('shellies'),
  // What the gateway needs: the channels that yield readings or availability.
  subscriptions: [
    'shellies/+/online',
    'shellies/+/relay/+',
    'shellies/+/relay/+/power',
    'shellies/+/relay/+/energy',
    'shellies/+/emeter/+/+',
    'shellies/+/temperature',
    'shellies/+/voltage',
  ],
  reports: {
    online: plainAvailability({ online: 'true', offline: 'false' }),
    'relay/+': plainState(switchState(), { on: true, off: false, overpower: false }),
    'relay/+/power': plainValue(power()),
    'relay/+/energy': plainValue(energyCounter('Wmin')),
    'relay/+/overpower_value': numberText,
    'emeter/+/power': plainValue(power({ bidirectional: true })),
    'emeter/+/total': plainValue(energyCounter('Wh')),
    'emeter/+/voltage': plainValue(voltage()),
    'emeter/+/current': plainValue(current()),
    'emeter/+/energy': numberText,
    'emeter/+/returned_energy': numberText,
    'emeter/+/total_returned': numberText,
    'emeter/+/reactive_power': numberText,
    'emeter/+/pf': numberText,
    temperature: plainValue(temperature()),
    temperature_f: numberText,
    overtemperature: plainWord(['0', '1']),
    temperature_status: plainWord(['Normal', 'High', 'Very High']),
    voltage: plainValue(voltage()),
    'input/+': plainWord(['0', '1']),
    'input_event/+': json,
    'longpush/+': plainWord(['0', '1']),
    info: json,
    announce: json,
    'ext_temperature/+': numberText,
  },
  channelOf: relayOrMeterChannel,
  listens: ['relay/+/command', 'command'],
  commands: {
    switch_on: command('on'),
    switch_off: command('off'),
  },
});
