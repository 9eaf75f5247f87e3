/**
 * Zigbee2MQTT presence / occupancy sensors (PIR and mmWave), e.g. Aqara RTCGQ11LM, Philips Hue SML001.
 *
 * Decoding follows:
 * - https://www.zigbee2mqtt.io/guide/usage/mqtt_topics_and_messages.html, section "zigbee2mqtt/FRIENDLY_NAME"
 *   (JSON state report, example `{"occupancy": true}` for RTCGQ01LM) and "…/availability".
 * - https://www.zigbee2mqtt.io/devices/RTCGQ11LM.html, section "Exposes": battery (%), occupancy (binary),
 *   illuminance_lux / illuminance (lx), linkquality (lqi, 0…255). `voltage` there is the battery in mV and
 *   `device_temperature` the chip's temperature: neither is mapped.
 * - mmWave sensors expose `presence` instead of `occupancy` (e.g. https://www.zigbee2mqtt.io/devices/TS0601_smart_human_presence_sensor_1.html).
 * Older Zigbee2MQTT sent `illuminance` as a raw value next to `illuminance_lux`, so `illuminance_lux` wins.
 */
import {
  battery,
  batteryLow,
  humidity,
  illuminance,
  linkquality,
  occupancy,
  temperature,
} from '../../device-profiles/capabilities.ts';
import { defineProfile, jsonReport } from '../../device-profiles/define.ts';
import { z2mAvailability, z2mLastSeen, z2mLayout, z2mListens, z2mSubscriptions } from '../zigbee2mqtt.ts';

export default defineProfile({
  id: 'zigbee2mqtt-occupancy',
  vendor: 'Zigbee2MQTT',
  description: 'Zigbee presence/occupancy sensor via Zigbee2MQTT',
  sources: [
    'https://www.zigbee2mqtt.io/guide/usage/mqtt_topics_and_messages.html',
    'https://www.zigbee2mqtt.io/devices/RTCGQ11LM.html',
    'https://www.zigbee2mqtt.io/guide/configuration/device-availability.html',
  ],
  // PIR sensors report on change and at least hourly (battery/linkquality check-in).
  reportingIntervalS: 3600,
  layout: z2mLayout,
  subscriptions: z2mSubscriptions,
  reports: {
    state: jsonReport(
      [
        occupancy('occupancy', 'presence'),
        illuminance('illuminance_lux', 'illuminance'),
        temperature(),
        humidity(),
        battery(),
        batteryLow(),
        linkquality(),
      ],
      { time: z2mLastSeen },
    ),
    availability: z2mAvailability,
  },
  listens: z2mListens,
});
