/**
 * Zigbee2MQTT CO2 / air-quality sensors, e.g. Titan Products TPZRCO2HT-Z3, EFEKTA CO2 Smart Monitor,
 * Tuya air boxes.
 *
 * Decoding follows:
 * - https://www.zigbee2mqtt.io/guide/usage/mqtt_topics_and_messages.html, section "zigbee2mqtt/FRIENDLY_NAME"
 *   (every report is a JSON object of the device's exposes) and "…/availability".
 * - https://www.zigbee2mqtt.io/devices/TPZRCO2HT-Z3.html and https://www.zigbee2mqtt.io/devices/EFEKTA_CO2_Smart_Monitor.html,
 *   section "Exposes": co2 (ppm), temperature (°C), humidity (%), battery (%), linkquality (lqi).
 * - Exposes reference https://www.zigbee2mqtt.io/guide/usage/exposes.html: voc (ppb), pm25 (µg/m³), battery_low.
 */
import {
  battery,
  batteryLow,
  co2,
  humidity,
  linkquality,
  pm25,
  temperature,
  voc,
} from '../../device-profiles/capabilities.ts';
import { defineProfile, jsonReport } from '../../device-profiles/define.ts';
import { z2mAvailability, z2mLastSeen, z2mLayout, z2mListens, z2mSubscriptions } from '../zigbee2mqtt.ts';

export default defineProfile({
  id: 'zigbee2mqtt-air-quality',
  vendor: 'Zigbee2MQTT',
  description: 'Zigbee CO2 / air-quality sensor via Zigbee2MQTT',
  sources: [
    'https://www.zigbee2mqtt.io/guide/usage/mqtt_topics_and_messages.html',
    'https://www.zigbee2mqtt.io/devices/TPZRCO2HT-Z3.html',
    'https://www.zigbee2mqtt.io/devices/EFEKTA_CO2_Smart_Monitor.html',
    'https://www.zigbee2mqtt.io/guide/configuration/device-availability.html',
  ],
  // CO2 sensors typically report every 1–5 minutes.
  reportingIntervalS: 300,
  layout: z2mLayout,
  subscriptions: z2mSubscriptions,
  reports: {
    state: jsonReport(
      [co2(), temperature(), humidity(), voc(), pm25(), battery(), batteryLow(), linkquality()],
      {
        time: z2mLastSeen,
      },
    ),
    availability: z2mAvailability,
  },
  listens: z2mListens,
});
