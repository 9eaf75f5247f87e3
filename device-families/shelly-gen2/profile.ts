/**
 * Shelly Gen2+ (Plus / Pro / Gen3 / Gen4) relays with metering, e.g. Plus 1PM, Plus Plug S, Pro 1PM,
 * PM Mini (component `pm1:0`), and the multi-channel Plus 2PM, Pro 2PM and Pro 4PM (`switch:0` … `switch:3`).
 *
 * Decoding follows the Shelly Gen2 API, https://shelly-api-docs.shelly.cloud/gen2/:
 * - ComponentsAndServices/Mqtt (Components/SystemComponents/Mqtt): with `status_ntf` the whole status of
 *   a component is published on `<topic_prefix>/status/<component:id>`; RPC notifications on
 *   `<topic_prefix>/events/rpc`; `<topic_prefix>/online` is `true`, last will `false`; the MQTT control
 *   interface listens on `<topic_prefix>/command/<component:id>` (`on`/`off`/`toggle`) and RPC on
 *   `<topic_prefix>/rpc`.
 * - ComponentsAndServices/Switch, section "Status": `apower` (W), `voltage` (V), `current` (A),
 *   `aenergy.total` (Wh), `temperature.tC` (°C, the device's own temperature).
 * - General/Notifications, section "NotifyStatus": `{"method":"NotifyStatus","params":{"ts":<unix s>,
 *   "switch:0":{…changed keys…}}}`; NotifyFullStatus carries the full status the same way.
 * - Devices/Gen2/ShellyPro4PM (and ShellyPlus2PM, ShellyPro2PM): the device has `switch:0` … `switch:3`
 *   (`…:1` for the 2PMs), each a Switch component with its own metering and its own status topic.
 * - ComponentsAndServices/Switch, "MQTT control": `<topic_prefix>/command/switch:<id>` takes `on`/`off`.
 *
 * Channels: component `switch:<id>` or `pm1:<id>` is channel `<id>`, on its status topic and inside a
 * notification (one NotifyFullStatus carries every switch of a Pro 4PM). Commands address a channel:
 * switch output 2 of a Pro 4PM is `command/switch:2`.
 *
 * `params.ts` is the device's UTC clock (NTP-synced) and is used when plausible. `aenergy.minute_ts` marks
 * the by-minute window, not the measurement, so it is not a time stamp for the reading.
 * Other components (`sys`, `wifi`, `input:N`, …) are accepted and carry no reading.
 */
import { current, energyCounter, power, temperature, voltage } from '../../device-profiles/capabilities.ts';
import {
  carrying,
  defineProfile,
  informational,
  isObject,
  jsonReport,
  numberedChannel,
  parseJsonObject,
  plainAvailability,
  type ReportDecoder,
  readBlocks,
  type TopicLayout,
  trustedTime,
} from '../../device-profiles/define.ts';
import { DecodeError, type ProfileReading } from '../../device-profiles/profile.ts';

const METER = [
  power({ bidirectional: true }, 'apower'),
  energyCounter('Wh', ['aenergy', 'total']),
  voltage(),
  current(),
  temperature(['temperature', 'tC']),
];
/** Metering components; the id after the colon is the channel. */
const METER_COMPONENT = /^(?:switch|pm1):(\d{1,3})$/;

/** The topic prefix is free text (default `<model>-<mac>`, may contain `/`): recognise by the suffix. */
const layout: TopicLayout = {
  split(topic) {
    const last = topic.lastIndexOf('/');
    if (last <= 0 || last === topic.length - 1) return undefined;
    const tail = topic.slice(last + 1);
    if (tail === 'online') return { deviceTopic: topic.slice(0, last), subtopic: 'online' };
    const prev = topic.lastIndexOf('/', last - 1);
    if (prev <= 0) return undefined;
    const mid = topic.slice(prev + 1, last);
    if ((mid === 'events' && tail === 'rpc') || mid === 'status') {
      return { deviceTopic: topic.slice(0, prev), subtopic: `${mid}/${tail}` };
    }
    return undefined;
  },
  join: (deviceTopic, subtopic) => `${deviceTopic}/${subtopic}`,
};

const notifications: ReportDecoder = carrying(METER, (payload, { receivedAt, where }) => {
  const frame = parseJsonObject(payload, where);
  const { method, params } = frame;
  if (typeof method !== 'string')
    throw new DecodeError(`${where}: a notification frame needs a string "method"`);
  if (method !== 'NotifyStatus' && method !== 'NotifyFullStatus' && method !== 'NotifyEvent') {
    throw new DecodeError(
      `${where}: "${method}" is not a notification (NotifyStatus/NotifyFullStatus/NotifyEvent)`,
    );
  }
  if (!isObject(params)) throw new DecodeError(`${where}: ${method} needs a "params" object`);
  if (params.ts !== undefined && typeof params.ts !== 'number') {
    throw new DecodeError(`${where}: params.ts must be a unix time in seconds`);
  }
  if (method === 'NotifyEvent') return { readings: [] };
  const ts = trustedTime(typeof params.ts === 'number' ? params.ts * 1000 : undefined, receivedAt);
  const readings: ProfileReading[] = [];
  for (const [key, status] of Object.entries(params)) {
    const component = METER_COMPONENT.exec(key);
    if (component === null || status === undefined || status === null) continue;
    if (!isObject(status)) throw new DecodeError(`${where}: params["${key}"] must be an object`);
    readings.push(...readBlocks(status, METER, ts, `${where}: ${key}`, numberedChannel(`status/${key}`)));
  }
  return { readings };
});

const command = (word: string) => (deviceTopic: string, channel: string) => [
  { topic: `${deviceTopic}/command/switch:${channel}`, payload: word, qos: 1 as const, retain: false },
];

export default defineProfile({
  id: 'shelly-gen2',
  vendor: 'Shelly (Allterco)',
  description: 'Shelly Plus / Pro / Gen3 relay with power metering',
  sources: [
    'https://shelly-api-docs.shelly.cloud/gen2/ComponentsAndServices/Mqtt',
    'https://shelly-api-docs.shelly.cloud/gen2/ComponentsAndServices/Switch#status',
    'https://shelly-api-docs.shelly.cloud/gen2/General/Notifications#notifystatus',
    'https://shelly-api-docs.shelly.cloud/gen2/Devices/Gen2/ShellyPro4PM',
    'https://shelly-api-docs.shelly.cloud/gen2/Devices/Gen2/ShellyPlus2PM',
  ],
  // Status is published on change; meters push a new aenergy every full minute.
  reportingIntervalS: 60,
  layout,
  // Default prefix is one level (`shellyplus1pm-<mac>`); a multi-level prefix needs its own filter.
  subscriptions: [
    '+/online',
    '+/status/switch:0',
    '+/status/switch:1',
    '+/status/switch:2',
    '+/status/switch:3',
    '+/status/pm1:0',
    '+/events/rpc',
  ],
  reports: {
    online: plainAvailability({ online: 'true', offline: 'false' }),
    'status/switch:0': jsonReport(METER),
    'status/switch:1': jsonReport(METER),
    'status/switch:2': jsonReport(METER),
    'status/switch:3': jsonReport(METER),
    'status/pm1:0': jsonReport(METER),
    'status/+': informational((payload, where) => void parseJsonObject(payload, where)),
    'events/rpc': notifications,
  },
  channelOf: numberedChannel,
  listens: ['rpc', 'command', 'command/+'],
  commands: { switch_on: command('on'), switch_off: command('off') },
});
