/**
 * Shelly Gen2+ (Plus / Pro / Gen3 / Gen4) relays with metering, e.g. Plus 1PM, Plus Plug S, Pro 1PM,
 * PM Mini (component `pm1:0`), and the multi-channel Plus 2PM, Pro 2PM and Pro 4PM (`switch:0` … `switch:3`).
 *
 * Decoding follows the Shelly Gen2+ API, https://shelly-api-docs.shelly.cloud/gen2/:
 * - the topic layout (`<topic_prefix>/status/<component:id>`, `events/rpc`, `online`) and the notification
 *   frame (NotifyStatus: `{"method":"NotifyStatus","params":{"ts":<unix s>,"switch:0":{…changed keys…}}}`,
 *   NotifyFullStatus the same with the full status) are every Gen2+ device's: `../shelly-gen2plus.ts`;
 * - ComponentsAndServices/Mqtt: the MQTT control interface listens on `<topic_prefix>/command/<component:id>`
 *   (`on`/`off`/`toggle`).
 * - ComponentsAndServices/Switch, section "Status": `apower` (W), `voltage` (V), `current` (A),
 *   `aenergy.total` (Wh), `temperature.tC` (°C, the device's own temperature).
 * - Devices/Gen2/ShellyPro4PM (and ShellyPlus2PM, ShellyPro2PM): the device has `switch:0` … `switch:3`
 *   (`…:1` for the 2PMs), each a Switch component with its own metering and its own status topic.
 * - ComponentsAndServices/Switch, "Switch.Set": `{"id":<switch id>,"on":true|false}`, the result
 *   `{"was_on":…}`; "Status": `output` true/false, the output's state (the `switch` reading).
 * - General/RPCChannels, "MQTT": requests are published to `<topic_prefix>/rpc`, the full request frame of
 *   General/RPCProtocol (`{"id","src","method","params"}`, `src` required); the answer goes to `<src>/rpc`.
 *
 * Channels: component `switch:<id>` or `pm1:<id>` is channel `<id>`, on its status topic and inside a
 * notification (one NotifyFullStatus carries every switch of a Pro 4PM). Commands address a channel with
 * the RPC `Switch.Set` on `<topic_prefix>/rpc`: switch output 2 of a Pro 4PM off is
 * `{"id":"<command id>","src":"<topic_prefix>/wesprint","method":"Switch.Set","params":{"id":2,"on":false}}`.
 * The device answers on `<topic_prefix>/wesprint/rpc` (`result` or `error`, with the command's id) and
 * reports the new `output` in a NotifyStatus on `events/rpc` and on `status/switch:2`; whichever comes
 * first settles the command (an RPC error fails it: a Plus 1PM has no `switch:2`, error -105).
 * The MQTT control interface (`command/switch:<id>` `on`/`off`) does the same without an answer; it stays in
 * the device's ACL for installations that use it.
 *
 * `params.ts` is the device's UTC clock (NTP-synced) and is used when plausible. `aenergy.minute_ts` marks
 * the by-minute window, not the measurement, so it is not a time stamp for the reading.
 * Other components (`sys`, `wifi`, `input:N`, …) are accepted and carry no reading.
 */
import {
  current,
  energyCounter,
  power,
  switchState,
  temperature,
  voltage,
} from '../../device-profiles/capabilities.ts';
import { defineProfile, jsonReport, numberedChannel } from '../../device-profiles/define.ts';
import type { CommandDetails } from '../../device-profiles/profile.ts';
import {
  componentReadings,
  RPC_ANSWER_SOURCE,
  shellyGen2Layout,
  shellyGen2Notifications,
  shellyGen2Online,
  shellyGen2OtherStatus,
  shellyGen2RpcAnswer,
} from '../shelly-gen2plus.ts';

const METER = [
  power({ bidirectional: true }, 'apower'),
  energyCounter('Wh', ['aenergy', 'total']),
  voltage(),
  current(),
  temperature(['temperature', 'tC']),
  switchState('output'),
];
/** Metering components; the id after the colon is the channel. */
const METER_COMPONENT = /^(?:switch|pm1):(\d{1,3})$/;

const notifications = shellyGen2Notifications(METER, (params, ts, { where }) =>
  Object.keys(params)
    .filter((key) => METER_COMPONENT.test(key))
    .flatMap((key) => componentReadings(params, key, METER, ts, where, numberedChannel(`status/${key}`))),
);

/** `Switch.Set` for one output, as a full request frame on `<topic_prefix>/rpc`. */
const switchSet =
  (on: boolean) =>
  (deviceTopic: string, channel: string, { id }: CommandDetails) => [
    {
      topic: `${deviceTopic}/rpc`,
      payload: JSON.stringify({
        id: id ?? 'wesprint',
        src: `${deviceTopic}/${RPC_ANSWER_SOURCE}`,
        method: 'Switch.Set',
        params: { id: Number(channel), on },
      }),
      qos: 1 as const,
      retain: false,
    },
  ];

export default defineProfile({
  id: 'shelly-gen2',
  vendor: 'Shelly (Allterco)',
  description: 'Shelly Plus / Pro / Gen3 relay with power metering',
  sources: [
    'https://shelly-api-docs.shelly.cloud/gen2/ComponentsAndServices/Mqtt',
    'https://shelly-api-docs.shelly.cloud/gen2/ComponentsAndServices/Switch#status',
    'https://shelly-api-docs.shelly.cloud/gen2/ComponentsAndServices/Switch#switchset',
    'https://shelly-api-docs.shelly.cloud/gen2/General/RPCProtocol',
    'https://shelly-api-docs.shelly.cloud/gen2/General/RPCChannels#mqtt',
    'https://shelly-api-docs.shelly.cloud/gen2/General/Notifications#notifystatus',
    'https://shelly-api-docs.shelly.cloud/gen2/Devices/Gen2/ShellyPro4PM',
    'https://shelly-api-docs.shelly.cloud/gen2/Devices/Gen2/ShellyPlus2PM',
  ],
  // Status is published on change; meters push a new aenergy every full minute.
  reportingIntervalS: 60,
  layout: shellyGen2Layout(),
  // Default prefix is one level (`shellyplus1pm-<mac>`); a multi-level prefix needs its own filter.
  subscriptions: [
    '+/online',
    '+/status/switch:0',
    '+/status/switch:1',
    '+/status/switch:2',
    '+/status/switch:3',
    '+/status/pm1:0',
    '+/events/rpc',
    `+/${RPC_ANSWER_SOURCE}/rpc`,
  ],
  reports: {
    online: shellyGen2Online,
    'status/switch:0': jsonReport(METER),
    'status/switch:1': jsonReport(METER),
    'status/switch:2': jsonReport(METER),
    'status/switch:3': jsonReport(METER),
    'status/pm1:0': jsonReport(METER),
    'status/+': shellyGen2OtherStatus,
    'events/rpc': notifications,
    [`${RPC_ANSWER_SOURCE}/rpc`]: shellyGen2RpcAnswer,
  },
  channelOf: numberedChannel,
  listens: ['rpc', 'command', 'command/+'],
  commands: { switch_on: switchSet(true), switch_off: switchSet(false) },
});
