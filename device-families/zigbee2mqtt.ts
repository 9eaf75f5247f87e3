import { quote } from '../device-profiles/capabilities.ts';
import {
  isObject,
  parseJsonObject,
  type ReportDecoder,
  type TopicLayout,
  zonedIsoTime,
} from '../device-profiles/define.ts';
import { DecodeError } from '../device-profiles/profile.ts';
import type { DeviceMessage } from '../simulations/virtual-device.ts';

/**
 * What every Zigbee2MQTT family shares, decoded by their profiles and sent by their simulators: Zigbee2MQTT
 * is one bridge publishing for many devices, so the topic layout, availability and `last_seen` are the
 * bridge's, not the sensor's.
 * Source: https://www.zigbee2mqtt.io/guide/usage/mqtt_topics_and_messages.html
 *   ("zigbee2mqtt/FRIENDLY_NAME", "…/availability", "…/set", "…/get", "zigbee2mqtt/bridge/…")
 * and https://www.zigbee2mqtt.io/guide/configuration/device-availability.html (payload
 * `{"state":"online"}`; plain `online`/`offline` with the legacy availability payload of older versions).
 */

/** Zigbee2MQTT's default `base_topic`. */
export const Z2M_BASE = 'zigbee2mqtt';
const PREFIX = `${Z2M_BASE}/`;

/**
 * `zigbee2mqtt/<friendly_name>` is the device's state report; friendly names may contain `/`.
 * `…/availability` is its availability; `…/set[/attr]` and `…/get[/attr]` are commands to the device,
 * `zigbee2mqtt/bridge/…` is the bridge itself: neither is a device report.
 */
export const z2mLayout: TopicLayout = {
  split(topic) {
    if (!topic.startsWith(PREFIX) || topic.length === PREFIX.length) return undefined;
    const segments = topic.slice(PREFIX.length).split('/');
    if (segments[0] === 'bridge') return undefined;
    for (let i = 0; i < segments.length; i++) {
      const s = segments[i];
      if (s === '' || (i > 0 && (s === 'set' || s === 'get'))) return undefined;
    }
    if (segments.length > 1 && segments[segments.length - 1] === 'availability') {
      return { deviceTopic: topic.slice(0, topic.length - '/availability'.length), subtopic: 'availability' };
    }
    return { deviceTopic: topic, subtopic: 'state' };
  },
  join: (deviceTopic, subtopic) => (subtopic === 'state' ? deviceTopic : `${deviceTopic}/${subtopic}`),
};

export const z2mSubscriptions = [`${Z2M_BASE}/#`];

/** What the bridge listens on for a device (set/get, with JSON or per-attribute). */
export const z2mListens = ['set', 'set/+', 'get', 'get/+'];

export const z2mAvailability: ReportDecoder = (payload, { where }) => {
  const text = payload.toString('utf8').trim();
  let state: unknown = text;
  if (text.startsWith('{')) state = parseJsonObject(payload, where).state;
  if (state === 'online' || state === 'offline') return { readings: [], availability: state };
  throw new DecodeError(
    `${where}: expected {"state":"online"|"offline"} or online/offline, got ${quote(text)}`,
  );
};

/**
 * `last_seen` (when the bridge has it enabled) is the bridge's time of receipt from the Zigbee device:
 * epoch ms, or ISO 8601 with offset. It is better than ours for retained reports.
 */
export function z2mLastSeen(obj: Record<string, unknown>, where: string): number | undefined {
  const v = obj.last_seen;
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number') return v;
  if (typeof v === 'string') return zonedIsoTime(v);
  throw new DecodeError(
    `${where}: last_seen must be epoch ms or an ISO 8601 string, got ${isObject(v) ? 'an object' : typeof v}`,
  );
}

/** What the bridge publishes, retained, when a device comes or goes (Z2M ≥ 2.0 JSON availability payload). */
export function z2mAvailabilityMessage(deviceTopic: string, online: boolean): DeviceMessage {
  const payload = JSON.stringify({ state: online ? 'online' : 'offline' });
  return { topic: `${deviceTopic}/availability`, payload, qos: 1, retain: true };
}
