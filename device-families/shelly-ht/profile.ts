/**
 * Shelly Plus H&T and Shelly H&T Gen3: battery temperature and humidity sensors that sleep. They wake
 * when a reading has moved by its threshold, and at least every 2 hours, report over MQTT and go back to
 * sleep, dropping off the broker (whose last will for them says `online` `false`).
 *
 * Decoding follows the Shelly Gen2+ API, https://shelly-api-docs.shelly.cloud/gen2/:
 * - Devices/Gen2/ShellyPlusHT and Devices/Gen3/ShellyHTG3: the device's components are `temperature:0`,
 *   `humidity:0`, `devicepower:0` (and `ht_ui`, `sys`, `wifi`, … which carry no reading).
 * - ComponentsAndServices/Mqtt: RPC notifications on `<topic_prefix>/events/rpc`; with `status_ntf` the
 *   status of a component on `<topic_prefix>/status/<component:id>`; `<topic_prefix>/online` is `true`,
 *   last will `false`.
 * - General/Notifications: `NotifyFullStatus` (what a waking device sends: every component's status) and
 *   `NotifyStatus` (the changed keys), `params.ts` the device's unix time in seconds.
 * - ComponentsAndServices/Temperature, "Status": `tC` (°C, null on a sensor error), `tF`;
 *   ComponentsAndServices/Humidity: `rh` (%); ComponentsAndServices/DevicePower: `battery.V`,
 *   `battery.percent`, `external.present` (powered over USB: the battery figure then means nothing).
 * - Shelly support, "Wake-up schemes and data reporting for Shelly Plus H&T and Shelly Gen3 H&T"
 *   (support.shelly.cloud, article 103000226308): a periodic report every 2 hours from firmware 0.12.0,
 *   earlier when a threshold is crossed; every 5 minutes on USB power.
 */
import { battery, humidity, temperature } from '../../device-profiles/capabilities.ts';
import {
  carrying,
  defineProfile,
  informational,
  isObject,
  jsonReport,
  parseJsonObject,
  plainAvailability,
  type ReportDecoder,
  readBlocks,
  type TopicLayout,
  trustedTime,
} from '../../device-profiles/define.ts';
import { DecodeError, type ProfileReading } from '../../device-profiles/profile.ts';

const TEMPERATURE = [temperature('tC')];
const HUMIDITY = [humidity('rh')];
const POWER = [battery(['battery', 'percent'])];
const COMPONENTS: Record<string, typeof TEMPERATURE> = {
  'temperature:0': TEMPERATURE,
  'humidity:0': HUMIDITY,
  'devicepower:0': POWER,
};

/** On USB power the battery is not what powers the device: its percentage is not reported. */
const onBattery = (status: Record<string, unknown>) =>
  !(isObject(status.external) && status.external.present === true);

/** The topic prefix is free text (default `<model>-<mac>`, may contain `/`): recognised by the suffix. */
const layout: TopicLayout = {
  split(topic) {
    const last = topic.lastIndexOf('/');
    if (last <= 0 || last === topic.length - 1) return undefined;
    const tail = topic.slice(last + 1);
    if (tail === 'online') return { deviceTopic: topic.slice(0, last), subtopic: 'online' };
    const prev = topic.lastIndexOf('/', last - 1);
    if (prev <= 0) return undefined;
    const mid = topic.slice(prev + 1, last);
    if ((mid === 'events' && tail === 'rpc') || mid === 'status')
      return { deviceTopic: topic.slice(0, prev), subtopic: `${mid}/${tail}` };
    return undefined;
  },
  join: (deviceTopic, subtopic) => `${deviceTopic}/${subtopic}`,
};

const notifications: ReportDecoder = carrying(
  [...TEMPERATURE, ...HUMIDITY, ...POWER],
  (payload, { channel, receivedAt, where }) => {
    const { method, params } = parseJsonObject(payload, where);
    if (method !== 'NotifyStatus' && method !== 'NotifyFullStatus' && method !== 'NotifyEvent')
      throw new DecodeError(`${where}: ${JSON.stringify(method)} is not a notification of this device`);
    if (!isObject(params)) throw new DecodeError(`${where}: ${method} needs a "params" object`);
    if (params.ts !== undefined && typeof params.ts !== 'number')
      throw new DecodeError(`${where}: params.ts must be a unix time in seconds`);
    if (method === 'NotifyEvent') return { readings: [] };
    const ts = trustedTime(typeof params.ts === 'number' ? params.ts * 1000 : undefined, receivedAt);
    const readings: ProfileReading[] = [];
    for (const [component, blocks] of Object.entries(COMPONENTS)) {
      const status = params[component];
      if (status === undefined || status === null) continue;
      if (!isObject(status)) throw new DecodeError(`${where}: params["${component}"] must be an object`);
      if (blocks === POWER && !onBattery(status)) continue;
      readings.push(...readBlocks(status, blocks, ts, `${where}: ${component}`, channel));
    }
    return { readings };
  },
);

export default defineProfile({
  id: 'shelly-ht',
  vendor: 'Shelly (Allterco)',
  description: 'Shelly Plus H&T / H&T Gen3 temperature and humidity sensor (battery, sleeps between reports)',
  sources: [
    'https://shelly-api-docs.shelly.cloud/gen2/Devices/Gen2/ShellyPlusHT',
    'https://shelly-api-docs.shelly.cloud/gen2/Devices/Gen3/ShellyHTG3',
    'https://shelly-api-docs.shelly.cloud/gen2/ComponentsAndServices/Mqtt',
    'https://shelly-api-docs.shelly.cloud/gen2/General/Notifications',
    'https://shelly-api-docs.shelly.cloud/gen2/ComponentsAndServices/Temperature',
    'https://shelly-api-docs.shelly.cloud/gen2/ComponentsAndServices/Humidity',
    'https://shelly-api-docs.shelly.cloud/gen2/ComponentsAndServices/DevicePower',
    'https://support.shelly.cloud/en/support/solutions/articles/103000226308',
  ],
  // At least every 2 hours; offline only after three missed reports, whatever its last will says meanwhile.
  reportingIntervalS: 2 * 3600,
  sleeping: true,
  layout,
  // Default prefix is one level (`shellyplusht-<mac>`); a multi-level prefix needs its own filter.
  subscriptions: [
    '+/online',
    '+/events/rpc',
    '+/status/temperature:0',
    '+/status/humidity:0',
    '+/status/devicepower:0',
  ],
  reports: {
    online: plainAvailability({ online: 'true', offline: 'false' }),
    'events/rpc': notifications,
    'status/temperature:0': jsonReport(TEMPERATURE),
    'status/humidity:0': jsonReport(HUMIDITY),
    'status/devicepower:0': jsonReport(POWER, {
      prepare: (status) => (onBattery(status) ? status : {}),
    }),
    'status/+': informational((payload, where) => void parseJsonObject(payload, where)),
  },
  listens: ['rpc'],
});
