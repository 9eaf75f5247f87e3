import type { Capability } from '../device-profiles/capabilities.ts';
import {
  carrying,
  informational,
  isObject,
  parseJsonObject,
  plainAvailability,
  type ReportContext,
  type ReportDecoder,
  readBlocks,
  type TopicLayout,
  trustedTime,
} from '../device-profiles/define.ts';
import { DecodeError, type ProfileReading } from '../device-profiles/profile.ts';
import type { DeviceMessage } from '../simulations/virtual-device.ts';

/**
 * What every Shelly Gen2+ family shares (Plus, Pro, Gen3, Gen4 devices: shelly-gen2, shelly-pro-3em,
 * shelly-ht), decoded by their profiles and sent by their simulators: the Gen2+ API lays out every device's
 * MQTT the same way, the families differ in their components only.
 * Source: Shelly's Gen2+ API, https://shelly-api-docs.shelly.cloud/gen2/
 * - ComponentsAndServices/Mqtt: with `status_ntf` the whole status of a component is published on
 *   `<topic_prefix>/status/<component:id>`; RPC notifications (`rpc_ntf`) on `<topic_prefix>/events/rpc`;
 *   `<topic_prefix>/online` is `true`, retained, the last will `false`; RPC requests are taken on
 *   `<topic_prefix>/rpc`. The prefix is free text (default `<model>-<mac>`, may contain `/`).
 * - General/Notifications: a frame `{"src":<prefix>,"dst":<prefix>/events,"method":…,"params":{…}}`;
 *   `NotifyStatus` carries the changed keys of each component that changed, `NotifyFullStatus` (sent on
 *   connect, and by a waking sleeper) every component's whole status, each under its `<component:id>`;
 *   `params.ts` is the device's unix time in seconds; `NotifyEvent` carries events, no status.
 */

/**
 * The `src` of the building's RPC requests, under the device's own prefix: a Gen2+ device answers a request
 * on `<src>/rpc` (General/RPCChannels, "MQTT"; Mongoose OS's RPC convention, whose frames Gen2+ speaks), so
 * `<topic_prefix>/wesprint` gets the answer on `<topic_prefix>/wesprint/rpc`, a topic inside the device's own
 * prefix that its ACL lets it publish, instead of somewhere outside it the broker would refuse.
 */
export const RPC_ANSWER_SOURCE = 'wesprint';

/**
 * The prefix is free text: a topic is recognised by its suffix, `online`, `events/rpc`,
 * `wesprint/rpc` (the answer to the building's RPC request) or `status/<component>`; `takesStatus` says which components' status topics are the family's (all, unless
 * another family of the same prefix shape turns them into readings).
 */
export function shellyGen2Layout(takesStatus: (component: string) => boolean = () => true): TopicLayout {
  return {
    split(topic) {
      const last = topic.lastIndexOf('/');
      if (last <= 0 || last === topic.length - 1) return undefined;
      const tail = topic.slice(last + 1);
      if (tail === 'online') return { deviceTopic: topic.slice(0, last), subtopic: 'online' };
      const prev = topic.lastIndexOf('/', last - 1);
      if (prev <= 0) return undefined;
      const mid = topic.slice(prev + 1, last);
      if (
        ((mid === 'events' || mid === RPC_ANSWER_SOURCE) && tail === 'rpc') ||
        (mid === 'status' && takesStatus(tail))
      ) {
        return { deviceTopic: topic.slice(0, prev), subtopic: `${mid}/${tail}` };
      }
      return undefined;
    },
    join: (deviceTopic, subtopic) => `${deviceTopic}/${subtopic}`,
  };
}

/** `<topic_prefix>/online`: `true` when connected, `false` its last will. */
export const shellyGen2Online: ReportDecoder = plainAvailability({ online: 'true', offline: 'false' });

/** The status of a component that carries no reading (`sys`, `wifi`, `cloud`, …): checked, not stored. */
export const shellyGen2OtherStatus: ReportDecoder = informational(
  (payload, where) => void parseJsonObject(payload, where),
);

/**
 * `<topic_prefix>/events/rpc`: the frame is checked (a notification, its `params`, its `ts`) and its time
 * taken from `params.ts` when plausible; `read` turns the components the family knows into readings (see
 * `componentReadings`). `blocks`: every block `read` may use, for the profile's quantities.
 */
export function shellyGen2Notifications(
  blocks: readonly Capability[],
  read: (params: Record<string, unknown>, ts: number, ctx: ReportContext) => ProfileReading[],
): ReportDecoder {
  return carrying(blocks, (payload, ctx) => {
    const { receivedAt, where } = ctx;
    const { method, params } = parseJsonObject(payload, where);
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
    return { readings: read(params, ts, ctx) };
  });
}

/**
 * The readings of one component in a notification's `params`: none when it is absent or null (a
 * NotifyStatus names only what changed), an error when it is not an object. `prepare` reshapes its status
 * before the blocks read it, as for the component's status topic.
 */
export function componentReadings(
  params: Record<string, unknown>,
  component: string,
  blocks: readonly Capability[],
  ts: number,
  where: string,
  channel: string,
  prepare?: (status: Record<string, unknown>) => Record<string, unknown>,
): ProfileReading[] {
  const status = params[component];
  if (status === undefined || status === null) return [];
  if (!isObject(status)) throw new DecodeError(`${where}: params["${component}"] must be an object`);
  return readBlocks(prepare ? prepare(status) : status, blocks, ts, `${where}: ${component}`, channel);
}

/**
 * `<topic_prefix>/wesprint/rpc`: the device's answer to the building's RPC request (General/RPCProtocol,
 * "Response Frame": `{"id","src","dst","result":{…}}`, or `"error":{"code","message"}` when it refused),
 * matched to the command by the request's `id`, which is the building's command id.
 */
export const shellyGen2RpcAnswer: ReportDecoder = (payload, { where }) => {
  const frame = parseJsonObject(payload, where);
  const { id, result, error } = frame;
  if (typeof id !== 'string' && typeof id !== 'number')
    throw new DecodeError(`${where}: a response frame needs the request's "id"`);
  if (isObject(error)) {
    const code = typeof error.code === 'number' ? error.code : '?';
    const text = typeof error.message === 'string' ? error.message.slice(0, 200) : '';
    return {
      readings: [],
      commandResult: { ok: false, detail: `Shelly error ${code}: ${text}`, id: String(id) },
    };
  }
  if (!isObject(result)) throw new DecodeError(`${where}: a response frame needs "result" or "error"`);
  const was = typeof result.was_on === 'boolean' ? ` (was ${result.was_on ? 'on' : 'off'})` : '';
  return { readings: [], commandResult: { ok: true, detail: `done${was}`, id: String(id) } };
};

// --- what the simulators send ---------------------------------------------------------------------

/** `<topic_prefix>/online`, retained: `true` once connected, `false` as the last will. */
export function shellyGen2OnlineMessage(prefix: string, online: boolean): DeviceMessage {
  return { topic: `${prefix}/online`, payload: String(online), qos: 1, retain: true };
}

/** The payload of a notification on `<topic_prefix>/events/rpc`. */
export function shellyGen2NotificationPayload(
  prefix: string,
  method: 'NotifyStatus' | 'NotifyFullStatus',
  params: Record<string, unknown>,
): string {
  return JSON.stringify({ src: prefix, dst: `${prefix}/events`, method, params });
}
