/**
 * Shelly Gen2+ (Plus / Pro / Gen3 / Gen4) relays with metering, e.g. Plus 1PM, Plus Plug S, Pro 1PM,
 * PM Mini (component `pm1:0`).
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
 *
 * `params.ts` is the device's UTC clock (NTP-synced) and is used when plausible. `aenergy.minute_ts` marks
 * the by-minute window, not the measurement, so it is not a time stamp for the reading.
 * One site device is one meter: readings come from `switch:0` (or `pm1:0`); other components are accepted.
 */
import { current, energyCounter, power, temperature, voltage } from '../capabilities.ts';
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
} from '../define.ts';
import { DecodeError } from '../profile.ts';
import { FIRST_CHANNEL } from '../reading.ts';

const METER = [
  power({ bidirectional: true }, 'apower'),
  energyCounter('Wh', ['aenergy', 'total']),
  voltage(),
  current(),
  temperature(['temperature', 'tC']),
];
const METER_COMPONENTS = ['switch:0', 'pm1:0'];

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
  for (const key of METER_COMPONENTS) {
    const status = params[key];
    if (status === undefined || status === null) continue;
    if (!isObject(status)) throw new DecodeError(`${where}: params["${key}"] must be an object`);
    return { readings: readBlocks(status, METER, ts, `${where}: ${key}`, FIRST_CHANNEL) };
  }
  return { readings: [] };
});

const command = (word: string) => (deviceTopic: string) => [
  { topic: `${deviceTopic}/command/switch:0`, payload: word, qos: 1 as const, retain: false },
];

export default defineProfile({
  id: 'shelly-gen2',
  vendor: 'Shelly (Allterco)',
  description: 'Shelly Plus / Pro / Gen3 relay with power metering',
  sources: [
    'https://shelly-api-docs.shelly.cloud/gen2/ComponentsAndServices/Mqtt',
    'https://shelly-api-docs.shelly.cloud/gen2/ComponentsAndServices/Switch#status',
    'https://shelly-api-docs.shelly.cloud/gen2/General/Notifications#notifystatus',
  ],
  // Status is published on change; meters push a new aenergy every full minute.
  reportingIntervalS: 60,
  layout,
  // Default prefix is one level (`shellyplus1pm-<mac>`); a multi-level prefix needs its own filter.
  subscriptions: ['+/online', '+/status/switch:0', '+/status/pm1:0', '+/events/rpc'],
  reports: {
    online: plainAvailability({ online: 'true', offline: 'false' }),
    'status/switch:0': jsonReport(METER),
    'status/pm1:0': jsonReport(METER),
    'status/+': informational((payload, where) => void parseJsonObject(payload, where)),
    'events/rpc': notifications,
  },
  listens: ['rpc', 'command', 'command/+'],
  commands: { switch_on: command('on'), switch_off: command('off') },
});
