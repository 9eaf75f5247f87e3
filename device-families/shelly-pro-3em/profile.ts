/**
 * Shelly Pro 3EM (Gen2, also Pro 3EM-400 and the Gen3 3EM) in its default "triphase" profile: a
 * three-phase main meter whose firmware sums the phases itself, so one site device is one floor's
 * whole consumption (unlike a Gen1 3EM, whose `emeter/0..2` are three separate meters).
 *
 * Decoding follows the Shelly Gen2 API, https://shelly-api-docs.shelly.cloud/gen2/:
 * - Devices/Gen2/ShellyPro3EM: in the triphase profile one EM component `em:0` combines the phases and
 *   provides totals; one EMData component `emdata:0` stores the energy of the whole device.
 * - ComponentsAndServices/EM, section "Status": per phase `a_/b_/c_current` (A), `a_/b_/c_voltage` (V),
 *   `a_/b_/c_act_power` (W, signed: negative is export), `…_aprt_power`, `…_pf`, `…_freq`, and the
 *   totals `total_current` (A), `total_act_power` (W), `total_aprt_power` (VA), `n_current` (A or null).
 * - ComponentsAndServices/EMData, section "Status": per phase `a_/b_/c_total_act_energy` and
 *   `…_total_act_ret_energy` (Wh), totals `total_act` and `total_act_ret` (Wh, all phases).
 * - ComponentsAndServices/Mqtt: with `status_ntf` the whole status of a component is published on
 *   `<topic_prefix>/status/<component:id>`; RPC notifications on `<topic_prefix>/events/rpc`;
 *   `<topic_prefix>/online` is `true`, last will `false`; RPC requests are taken on `<topic_prefix>/rpc`,
 *   and with "MQTT control" enabled `<topic_prefix>/command` takes `status_update`.
 * - General/Notifications, "NotifyStatus": `{"method":"NotifyStatus","params":{"ts":<unix s>,
 *   "em:0":{…changed keys…}}}`; NotifyFullStatus carries the full status the same way.
 *
 * Readings (all channel 0: in the triphase profile the device is one meter): power = `total_act_power`, energy = `total_act` (the cumulative import counter, Wh → kWh),
 * current = `total_current`. Voltage is phase A's: the device powers itself from phase A and N, so
 * `a_voltage` is present on every installation, while B and C may be unwired when the meter watches a
 * smaller circuit (a mean would then be meaningless). Returned energy (`total_act_ret`) is not stored:
 * a department-store floor does not feed the grid.
 *
 * The firmware's totals are taken as they are, not checked against the phases: the documented EM example
 * itself has a `total_act_power` that is not the sum of its phase powers.
 *
 * Topics: the prefix is free text (default `shellypro3em-<mac>`), recognised by its suffix like Shelly Gen2.
 * Relay and plug components (`switch:N`, `pm1:N`) are shelly-gen2's; a Pro 3EM has none, so this family
 * leaves those topics alone. `online` and `events/rpc` have the same shape for every Gen2 device; without a
 * site file the family that finds readings in the message wins (see registry.ts).
 */

import { FIRST_CHANNEL } from '../../building/reading.ts';
import {
  type Capability,
  current,
  describe,
  energyCounter,
  power,
  voltage,
} from '../../device-profiles/capabilities.ts';
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
import { DecodeError } from '../../device-profiles/profile.ts';

/**
 * Total current of three phases: the Pro 3EM-400 measures up to 400 A per phase, so the sum may exceed
 * the 1000 A a single-phase `current()` block allows.
 */
const MAX_TOTAL_CURRENT_A = 3 * 400;
const totalCurrent: Capability = {
  ...current('total_current'),
  normalise(raw, where) {
    if (typeof raw !== 'number' || !Number.isFinite(raw))
      throw new DecodeError(`${where}: expected a number, got ${describe(raw)}`);
    if (raw < 0 || raw > MAX_TOTAL_CURRENT_A) {
      throw new DecodeError(
        `${where}: ${raw} is outside the range a real device reports (0…${MAX_TOTAL_CURRENT_A})`,
      );
    }
    return raw;
  },
};

const EM = [power({ bidirectional: true }, 'total_act_power'), voltage('a_voltage'), totalCurrent];
const EMDATA = [energyCounter('Wh', 'total_act')];
const COMPONENTS: Record<string, readonly Capability[]> = { 'em:0': EM, 'emdata:0': EMDATA };

/** Components whose status the relay family (shelly-gen2) turns into readings. */
const RELAY_COMPONENT = /^(switch|pm1):\d+$/;

const layout: TopicLayout = {
  split(topic) {
    const last = topic.lastIndexOf('/');
    if (last <= 0 || last === topic.length - 1) return undefined;
    const tail = topic.slice(last + 1);
    if (tail === 'online') return { deviceTopic: topic.slice(0, last), subtopic: 'online' };
    const prev = topic.lastIndexOf('/', last - 1);
    if (prev <= 0) return undefined;
    const mid = topic.slice(prev + 1, last);
    if (mid === 'events' && tail === 'rpc')
      return { deviceTopic: topic.slice(0, prev), subtopic: 'events/rpc' };
    if (mid === 'status' && !RELAY_COMPONENT.test(tail)) {
      return { deviceTopic: topic.slice(0, prev), subtopic: `status/${tail}` };
    }
    return undefined;
  },
  join: (deviceTopic, subtopic) => `${deviceTopic}/${subtopic}`,
};

const notifications: ReportDecoder = carrying([...EM, ...EMDATA], (payload, { receivedAt, where }) => {
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
  // One frame may carry both components (NotifyFullStatus always does).
  const readings = [];
  for (const [key, blocks] of Object.entries(COMPONENTS)) {
    const status = params[key];
    if (status === undefined || status === null) continue;
    if (!isObject(status)) throw new DecodeError(`${where}: params["${key}"] must be an object`);
    readings.push(...readBlocks(status, blocks, ts, `${where}: ${key}`, FIRST_CHANNEL));
  }
  return { readings };
});

export default defineProfile({
  id: 'shelly-pro-3em',
  vendor: 'Shelly (Allterco)',
  description: 'Shelly Pro 3EM three-phase energy meter (triphase profile: phase totals by the firmware)',
  sources: [
    'https://shelly-api-docs.shelly.cloud/gen2/Devices/Gen2/ShellyPro3EM',
    'https://shelly-api-docs.shelly.cloud/gen2/ComponentsAndServices/EM#status',
    'https://shelly-api-docs.shelly.cloud/gen2/ComponentsAndServices/EMData#status',
    'https://shelly-api-docs.shelly.cloud/gen2/ComponentsAndServices/Mqtt',
    'https://shelly-api-docs.shelly.cloud/gen2/General/Notifications#notifystatus',
  ],
  // EM status goes out on change (5 % / 10 W thresholds); EMData is stored and updated every minute.
  reportingIntervalS: 60,
  layout,
  // Default prefix is one level (`shellypro3em-<mac>`); a multi-level prefix needs its own filter.
  subscriptions: ['+/online', '+/status/em:0', '+/status/emdata:0', '+/events/rpc'],
  reports: {
    online: plainAvailability({ online: 'true', offline: 'false' }),
    'status/em:0': jsonReport(EM),
    'status/emdata:0': jsonReport(EMDATA),
    // sys, wifi, eth, cloud, mqtt, temperature:0, … go out with status_ntf too: checked, not stored.
    'status/+': informational((payload, where) => void parseJsonObject(payload, where)),
    'events/rpc': notifications,
  },
  // No relay, so no `command/<component>`: RPC (Shelly.GetStatus, EMData.ResetCounters, …) and status_update.
  listens: ['rpc', 'command'],
});
