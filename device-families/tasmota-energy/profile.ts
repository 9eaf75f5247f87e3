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
 * - Commands (https://tasmota.github.io/docs/Commands/#control): `Power<x>` "control the corresponding
 *   power state" (x = 1…32; `Power` is `Power1`) with `ON`/`OFF`; the device answers with
 *   `stat/<topic>/RESULT` `{"POWER1":"ON"}` and `stat/<topic>/POWER1` `ON`, and reports every output in
 *   `tele/<topic>/STATE` (`"POWER1":"ON"`, …). A device with one relay says `POWER`, not `POWER1`, unless
 *   SetOption26 is set (https://tasmota.github.io/docs/SetOptions/, "SetOption26: use indexes even when
 *   only one relay is present").
 *
 * Channels: relay `<x>` (`POWER<x>`) is channel `<x - 1>`, so the one relay of a plug (`POWER`) is
 * channel 0 as every device's first output; switching channel 2 of a 4-channel board sends
 * `cmnd/<topic>/POWER3`. Energy stays the whole device's (channel 0): multi-channel meters' arrays are summed.
 * The answer's `POWER<x>` state is the `switch` reading that confirms a command.
 */
import { FIRST_CHANNEL } from '../../building/reading.ts';
import { current, energyCounter, power, switchState, voltage } from '../../device-profiles/capabilities.ts';
import {
  carrying,
  defineProfile,
  informational,
  jsonReport,
  parseJsonObject,
  plainAvailability,
  plainState,
  type ReportDecoder,
  type TopicLayout,
  trustedTime,
  zonedIsoTime,
} from '../../device-profiles/define.ts';
import { DecodeError, type ProfileReading } from '../../device-profiles/profile.ts';

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

/** Relays a device may have that the building switches (Tasmota counts up to 32; boards have up to 8). */
const RELAYS = 8;
const POWER_KEY = /^POWER([1-9]\d?)?$/;

/** `POWER` and `POWER1` are relay 1, channel 0; `POWER<x>` channel `<x - 1>`. */
function relayChannel(key: string): string | undefined {
  const m = POWER_KEY.exec(key);
  if (!m) return undefined;
  const relay = m[1] === undefined ? 1 : Number(m[1]);
  return relay > 32 ? undefined : String(relay - 1);
}

const SWITCH = switchState();
const ON_OFF = { ON: true, OFF: false } as const;

/** The `POWER<x>` keys of a JSON answer or state, each its channel's switch reading. */
function powerStates(obj: Record<string, unknown>, ts: number, where: string): ProfileReading[] {
  const readings: ProfileReading[] = [];
  for (const [key, raw] of Object.entries(obj)) {
    const channel = relayChannel(key);
    if (channel === undefined) continue;
    if (raw !== 'ON' && raw !== 'OFF')
      throw new DecodeError(`${where}: ${key} must be "ON" or "OFF", got ${JSON.stringify(raw)}`);
    readings.push({
      channel,
      quantity: SWITCH.quantity,
      value: SWITCH.normalise(ON_OFF[raw], `${where}: ${key}`),
      unit: SWITCH.unit,
      ts,
    });
  }
  return readings;
}

/** `stat/<topic>/RESULT` and `tele/<topic>/STATE`: JSON whose `POWER<x>` keys are the relays' states. */
const withPowerStates: ReportDecoder = carrying([SWITCH], (payload, { receivedAt, where }) => {
  const obj = parseJsonObject(payload, where);
  const ts = trustedTime(tasmotaTime(obj, where), receivedAt);
  return { readings: powerStates(obj, ts, where) };
});

/** `stat/POWER3` → channel 2; every other sub-topic speaks of the whole device, channel 0. */
function channelOf(subtopic: string): string {
  return subtopic.startsWith('stat/') ? (relayChannel(subtopic.slice(5)) ?? FIRST_CHANNEL) : FIRST_CHANNEL;
}

const powerCommand = (word: 'ON' | 'OFF') => (deviceTopic: string, channel: string) => [
  { topic: `cmnd/${deviceTopic}/POWER${Number(channel) + 1}`, payload: word, qos: 1 as const, retain: false },
];

const relayStates = Object.fromEntries(
  Array.from({ length: RELAYS }, (_, i) => [`stat/POWER${i + 1}`, plainState(SWITCH, ON_OFF)]),
);

export default defineProfile({
  id: 'tasmota-energy',
  vendor: 'Tasmota',
  description: 'Tasmota plug / relay with energy monitoring',
  sources: [
    'https://tasmota.github.io/docs/MQTT/',
    'https://tasmota.github.io/docs/Commands/#power-monitoring',
    'https://tasmota.github.io/docs/Power-Monitoring-Calibration/',
    'https://tasmota.github.io/docs/Commands/#control',
    'https://tasmota.github.io/docs/SetOptions/',
  ],
  // TelePeriod defaults to 300 s.
  reportingIntervalS: 300,
  layout,
  subscriptions: [
    'tele/+/SENSOR',
    'tele/+/LWT',
    'tele/+/STATE',
    'stat/+/POWER',
    'stat/+/RESULT',
    ...Array.from({ length: RELAYS }, (_, i) => `stat/+/POWER${i + 1}`),
  ],
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
    'tele/STATE': withPowerStates,
    'tele/INFO1': json,
    'tele/INFO2': json,
    'tele/INFO3': json,
    'tele/RESULT': json,
    'stat/POWER': plainState(SWITCH, ON_OFF),
    ...relayStates,
    'stat/RESULT': withPowerStates,
    'stat/+': informational(),
  },
  channelOf,
  listens: ['cmnd/+'],
  commands: { switch_on: powerCommand('ON'), switch_off: powerCommand('OFF') },
});
