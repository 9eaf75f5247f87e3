/**
 * Tasmota energy-monitoring plugs (Sonoff POW, Gosund/BlitzWolf/Nous plugs, …) with the default
 * FullTopic `%prefix%/%topic%/`. The device's base topic in the site file is its Tasmota `Topic`
 * (e.g. `tasmota_8A1B2C`); its messages live under `tele/<topic>/…` and `stat/<topic>/…`.
 *
 * Decoding follows the Tasmota documentation, https://tasmota.github.io/docs/:
 * - MQTT (https://tasmota.github.io/docs/MQTT/), sections "Command flow" / "Examples": commands on
 *   `cmnd/<topic>/<command>`, answers on `stat/<topic>/RESULT` and `stat/<topic>/POWER` (`ON`/`OFF`),
 *   telemetry on `tele/<topic>/STATE` and `tele/<topic>/SENSOR`, last will `tele/<topic>/LWT`
 *   `Online`/`Offline`.
 * - Power Monitoring (https://tasmota.github.io/docs/Power-Monitoring-Calibration/ and
 *   https://tasmota.github.io/docs/Commands/#power-monitoring): `ENERGY.Total` kWh, `Power` W, `Voltage` V,
 *   `Current` A; devices with several channels send `Power`/`Current` as arrays (summed here).
 * - `Time` is local time without zone unless SetOption52 adds the offset: only a zoned `Time` is used.
 */
import { current, energyCounter, power, voltage } from '../../device-profiles/capabilities.ts';
import {
  defineProfile,
  informational,
  jsonReport,
  parseJsonObject,
  plainAvailability,
  plainWord,
  type TopicLayout,
  zonedIsoTime,
} from '../../device-profiles/define.ts';
import { DecodeError } from '../../device-profiles/profile.ts';

const PREFIXES = new Set(['tele', 'stat']);

const layout: TopicLayout = {
  split(topic) {
    const a = topic.indexOf('/');
    if (a <= 0) return undefined;
    const prefix = topic.slice(0, a);
    if (!PREFIXES.has(prefix)) return undefined;
    const b = topic.indexOf('/', a + 1);
    if (b <= a + 1 || b === topic.length - 1 || topic.indexOf('/', b + 1) !== -1) return undefined;
    return { deviceTopic: topic.slice(a + 1, b), subtopic: `${prefix}/${topic.slice(b + 1)}` };
  },
  join(deviceTopic, subtopic) {
    const slash = subtopic.indexOf('/');
    return `${subtopic.slice(0, slash)}/${deviceTopic}/${subtopic.slice(slash + 1)}`;
  },
};

function tasmotaTime(obj: Record<string, unknown>, where: string): number | undefined {
  if (obj.Time === undefined) return undefined;
  if (typeof obj.Time !== 'string') throw new DecodeError(`${where}: Time must be a string`);
  return zonedIsoTime(obj.Time);
}

/** Multi-channel meters send arrays; the site device is the whole plug, so channels add up. */
function combineChannels(obj: Record<string, unknown>, where: string): Record<string, unknown> {
  const energy = obj.ENERGY;
  if (typeof energy !== 'object' || energy === null || Array.isArray(energy)) return obj;
  const e = energy as Record<string, unknown>;
  if (!['Power', 'Current', 'Voltage', 'Total'].some((k) => Array.isArray(e[k]))) return obj;
  const combined: Record<string, unknown> = { ...e };
  for (const key of ['Power', 'Current', 'Voltage', 'Total']) {
    const v = e[key];
    if (!Array.isArray(v)) continue;
    if (v.length === 0 || !v.every((x) => typeof x === 'number')) {
      throw new DecodeError(`${where}: ENERGY.${key} must be a number or an array of numbers`);
    }
    combined[key] = key === 'Voltage' ? v[0] : v.reduce((s: number, x: number) => s + x, 0);
  }
  return { ...obj, ENERGY: combined };
}

const json = informational((payload, where) => void parseJsonObject(payload, where));
const command = (word: string) => (deviceTopic: string) => [
  { topic: `cmnd/${deviceTopic}/POWER`, payload: word, qos: 1 as const, retain: false },
];

export default defineProfile({
  id: 'tasmota-energy',
  vendor: 'Tasmota',
  description: 'Tasmota plug / relay with energy monitoring',
  sources: [
    'https://tasmota.github.io/docs/MQTT/',
    'https://tasmota.github.io/docs/Commands/#power-monitoring',
    'https://tasmota.github.io/docs/Power-Monitoring-Calibration/',
  ],
  // TelePeriod defaults to 300 s.
  reportingIntervalS: 300,
  layout,
  subscriptions: ['tele/+/SENSOR', 'tele/+/LWT', 'tele/+/STATE', 'stat/+/POWER'],
  reports: {
    'tele/SENSOR': jsonReport(
      [
        energyCounter('kWh', ['ENERGY', 'Total']),
        power({}, ['ENERGY', 'Power']),
        voltage(['ENERGY', 'Voltage']),
        current(['ENERGY', 'Current']),
      ],
      { time: tasmotaTime, prepare: combineChannels },
    ),
    'tele/LWT': plainAvailability({ online: 'Online', offline: 'Offline' }),
    'tele/STATE': json,
    'tele/INFO1': json,
    'tele/INFO2': json,
    'tele/INFO3': json,
    'tele/RESULT': json,
    'stat/POWER': plainWord(['ON', 'OFF']),
    'stat/RESULT': json,
    'stat/+': informational(),
  },
  listens: ['cmnd/+'],
  commands: { switch_on: command('ON'), switch_off: command('OFF') },
});
