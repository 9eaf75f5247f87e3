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
 * One site device is one meter, and a reading has no channel, so readings come from channel 0
 * (`relay/0`, `emeter/0`); further channels are accepted but not turned into readings.
 * For an EM the non-volatile `emeter/0/total` (Wh) is the counter; its `emeter/0/energy` restarts at every
 * reboot and would be a second, conflicting energy series, so it is not a reading.
 */
import { current, energyCounter, power, temperature, voltage } from '../capabilities.ts';
import {
  defineProfile,
  informational,
  parseJsonObject,
  plainAvailability,
  plainValue,
  plainWord,
  rootedLayout,
  unusedNumber,
} from '../define.ts';

const numberText = unusedNumber();
const json = informational((payload, where) => void parseJsonObject(payload, where));

const command = (subtopic: string, word: string) => (deviceTopic: string) => [
  { topic: `${deviceTopic}/${subtopic}`, payload: word, qos: 1 as const, retain: false },
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
  ],
  // Gen1 republishes its status every `mqtt_update_period` (default 30 s).
  reportingIntervalS: 30,
  layout: rootedLayout('shellies'),
  // What the gateway needs: the channels that yield readings or availability.
  subscriptions: [
    'shellies/+/online',
    'shellies/+/relay/0',
    'shellies/+/relay/0/power',
    'shellies/+/relay/0/energy',
    'shellies/+/emeter/0/+',
    'shellies/+/temperature',
    'shellies/+/voltage',
  ],
  reports: {
    online: plainAvailability({ online: 'true', offline: 'false' }),
    'relay/0': plainWord(['on', 'off', 'overpower']),
    'relay/0/power': plainValue(power()),
    'relay/0/energy': plainValue(energyCounter('Wmin')),
    'relay/+': plainWord(['on', 'off', 'overpower']),
    'relay/+/power': numberText,
    'relay/+/energy': numberText,
    'relay/+/overpower_value': numberText,
    'emeter/0/power': plainValue(power({ bidirectional: true })),
    'emeter/0/total': plainValue(energyCounter('Wh')),
    'emeter/0/voltage': plainValue(voltage()),
    'emeter/0/current': plainValue(current()),
    'emeter/+/power': numberText,
    'emeter/+/total': numberText,
    'emeter/+/voltage': numberText,
    'emeter/+/current': numberText,
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
  listens: ['relay/+/command', 'command'],
  commands: {
    switch_on: command('relay/0/command', 'on'),
    switch_off: command('relay/0/command', 'off'),
  },
});
