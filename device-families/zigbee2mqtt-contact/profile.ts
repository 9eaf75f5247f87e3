/**
 * Zigbee2MQTT door and window contact sensors, e.g. Aqara MCCGQ11LM, SONOFF SNZB-04.
 *
 * Decoding follows:
 * - https://www.zigbee2mqtt.io/guide/usage/mqtt_topics_and_messages.html, section "zigbee2mqtt/FRIENDLY_NAME"
 *   (every report is a JSON object of the device's exposes) and "…/availability".
 * - https://www.zigbee2mqtt.io/devices/MCCGQ11LM.html and https://www.zigbee2mqtt.io/devices/SNZB-04.html,
 *   section "Exposes": contact (binary, "Indicates if the contact is closed (= true) or open (= false)"),
 *   battery (%), battery_low (SNZB-04), linkquality (lqi, 0…255). `voltage` there is the battery in mV and
 *   MCCGQ11LM's `temperature` the chip's own: neither is mapped.
 * The contact becomes the building's door words (building/quantities.ts DOOR_STATES): true `closed`,
 * false `open`.
 */
import { battery, batteryLow, booleanState, linkquality } from '../../device-profiles/capabilities.ts';
import { defineProfile, jsonReport } from '../../device-profiles/define.ts';
import { z2mAvailability, z2mLastSeen, z2mLayout, z2mListens, z2mSubscriptions } from '../zigbee2mqtt.ts';

export default defineProfile({
  id: 'zigbee2mqtt-contact',
  vendor: 'Zigbee2MQTT',
  description: 'Zigbee door/window contact sensor via Zigbee2MQTT',
  sources: [
    'https://www.zigbee2mqtt.io/guide/usage/mqtt_topics_and_messages.html',
    'https://www.zigbee2mqtt.io/devices/MCCGQ11LM.html',
    'https://www.zigbee2mqtt.io/devices/SNZB-04.html',
    'https://www.zigbee2mqtt.io/guide/configuration/device-availability.html',
  ],
  // Reports each opening and closing at once, and checks in with battery and link quality about hourly.
  reportingIntervalS: 3600,
  layout: z2mLayout,
  subscriptions: z2mSubscriptions,
  reports: {
    state: jsonReport(
      [
        booleanState('door', { true: 'closed', false: 'open' }, 'contact'),
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
