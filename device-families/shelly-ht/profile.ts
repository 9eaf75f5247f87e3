/**
 * Shelly Plus H&T and Shelly H&T Gen3: battery temperature and humidity sensors that sleep. They wake
 * when a reading has moved by its threshold, and at least every 2 hours, report over MQTT and go back to
 * sleep, dropping off the broker (whose last will for them says `online` `false`).
 *
 * Decoding follows the Shelly Gen2+ API, https://shelly-api-docs.shelly.cloud/gen2/:
 * - Devices/Gen2/ShellyPlusHT and Devices/Gen3/ShellyHTG3: the device's components are `temperature:0`,
 *   `humidity:0`, `devicepower:0` (and `ht_ui`, `sys`, `wifi`, … which carry no reading).
 * - the topic layout (`<topic_prefix>/events/rpc`, `status/<component:id>`, `online` `true` with the last
 *   will `false`) and the notification frame (`NotifyFullStatus`, what a waking device sends: every
 *   component's status; `NotifyStatus`, the changed keys; `params.ts`) are every Gen2+ device's:
 *   `../shelly-gen2plus.ts`.
 * - ComponentsAndServices/Temperature, "Status": `tC` (°C, null on a sensor error), `tF`;
 *   ComponentsAndServices/Humidity: `rh` (%); ComponentsAndServices/DevicePower: `battery.V`,
 *   `battery.percent`, `external.present` (powered over USB: the battery figure then means nothing).
 * - Shelly support, "Wake-up schemes and data reporting for Shelly Plus H&T and Shelly Gen3 H&T"
 *   (support.shelly.cloud, article 103000226308): a periodic report every 2 hours from firmware 0.12.0,
 *   earlier when a threshold is crossed; every 5 minutes on USB power.
 */
import { battery, humidity, temperature } from '../../device-profiles/capabilities.ts';
import { defineProfile, isObject, jsonReport } from '../../device-profiles/define.ts';
import {
  componentReadings,
  shellyGen2Layout,
  shellyGen2Notifications,
  shellyGen2Online,
  shellyGen2OtherStatus,
} from '../shelly-gen2plus.ts';

const TEMPERATURE = [temperature('tC')];
const HUMIDITY = [humidity('rh')];
const POWER = [battery(['battery', 'percent'])];
const COMPONENTS: Record<string, typeof TEMPERATURE> = {
  'temperature:0': TEMPERATURE,
  'humidity:0': HUMIDITY,
  'devicepower:0': POWER,
};

/**
 * A `devicepower:0` status as the battery block reads it: on USB power the battery is not what powers the
 * device, so its percentage is not reported.
 */
const batteryStatus = (status: Record<string, unknown>) =>
  isObject(status.external) && status.external.present === true ? {} : status;

const notifications = shellyGen2Notifications(
  [...TEMPERATURE, ...HUMIDITY, ...POWER],
  (params, ts, { channel, where }) =>
    Object.entries(COMPONENTS).flatMap(([component, blocks]) => {
      const prepare = blocks === POWER ? batteryStatus : undefined;
      return componentReadings(params, component, blocks, ts, where, channel, prepare);
    }),
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
  layout: shellyGen2Layout(),
  // Default prefix is one level (`shellyplusht-<mac>`); a multi-level prefix needs its own filter.
  subscriptions: [
    '+/online',
    '+/events/rpc',
    '+/status/temperature:0',
    '+/status/humidity:0',
    '+/status/devicepower:0',
  ],
  reports: {
    online: shellyGen2Online,
    'events/rpc': notifications,
    'status/temperature:0': jsonReport(TEMPERATURE),
    'status/humidity:0': jsonReport(HUMIDITY),
    'status/devicepower:0': jsonReport(POWER, { prepare: batteryStatus }),
    'status/+': shellyGen2OtherStatus,
  },
  listens: ['rpc'],
});
