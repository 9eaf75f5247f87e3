/**
 * Shelly Pro 3EM (Gen2, also Pro 3EM-400 and the Gen3 3EM) in its default "triphase" profile: a
 * three-phase main meter whose firmware sums the phases itself, so one site device is one floor's
 * whole consumption (unlike a Gen1 3EM, whose `emeter/0..2` are three separate meters).
 *
 * Decoding follows the Shelly Gen2+ API, https://shelly-api-docs.shelly.cloud/gen2/:
 * - Devices/Gen2/ShellyPro3EM: in the triphase profile one EM component `em:0` combines the phases and
 *   provides totals; one EMData component `emdata:0` stores the energy of the whole device.
 * - ComponentsAndServices/EM, section "Status": per phase `a_/b_/c_current` (A), `a_/b_/c_voltage` (V),
 *   `a_/b_/c_act_power` (W, signed: negative is export), `…_aprt_power`, `…_pf`, `…_freq`, and the
 *   totals `total_current` (A), `total_act_power` (W), `total_aprt_power` (VA), `n_current` (A or null).
 * - ComponentsAndServices/EMData, section "Status": per phase `a_/b_/c_total_act_energy` and
 *   `…_total_act_ret_energy` (Wh), totals `total_act` and `total_act_ret` (Wh, all phases).
 * - the topic layout (`<topic_prefix>/status/<component:id>`, `events/rpc`, `online`) and the notification
 *   frame (NotifyStatus: `{"method":"NotifyStatus","params":{"ts":<unix s>,"em:0":{…changed keys…}}}`,
 *   NotifyFullStatus the same with the full status) are every Gen2+ device's: `../shelly-gen2plus.ts`;
 *   with "MQTT control" enabled `<topic_prefix>/command` takes `status_update` (ComponentsAndServices/Mqtt).
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
 * Topics: the prefix is free text (default `shellypro3em-<mac>`), recognised by its suffix as for every
 * Gen2+ device. Relay and plug components (`switch:N`, `pm1:N`) are shelly-gen2's; a Pro 3EM has none, so
 * this family leaves those topics alone. `online` and `events/rpc` have the same shape for every Gen2+
 * device; without a site file the family that finds readings in the message wins (see registry.ts).
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
import { defineProfile, jsonReport } from '../../device-profiles/define.ts';
import { DecodeError } from '../../device-profiles/profile.ts';
import {
  componentReadings,
  shellyGen2Layout,
  shellyGen2Notifications,
  shellyGen2Online,
  shellyGen2OtherStatus,
} from '../shelly-gen2plus.ts';

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

// One frame may carry both components (NotifyFullStatus always does).
const notifications = shellyGen2Notifications([...EM, ...EMDATA], (params, ts, { where }) =>
  Object.entries(COMPONENTS).flatMap(([key, blocks]) =>
    componentReadings(params, key, blocks, ts, where, FIRST_CHANNEL),
  ),
);

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
  layout: shellyGen2Layout((component) => !RELAY_COMPONENT.test(component)),
  // Default prefix is one level (`shellypro3em-<mac>`); a multi-level prefix needs its own filter.
  subscriptions: ['+/online', '+/status/em:0', '+/status/emdata:0', '+/events/rpc'],
  reports: {
    online: shellyGen2Online,
    'status/em:0': jsonReport(EM),
    'status/emdata:0': jsonReport(EMDATA),
    // sys, wifi, eth, cloud, mqtt, temperature:0, … go out with status_ntf too: checked, not stored.
    'status/+': shellyGen2OtherStatus,
    'events/rpc': notifications,
  },
  // No relay, so no `command/<component>`: RPC (Shelly.GetStatus, EMData.ResetCounters, …) and status_update.
  listens: ['rpc', 'command'],
});
