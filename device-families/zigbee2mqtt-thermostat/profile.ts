/**
 * Zigbee thermostatic radiator valves behind Zigbee2MQTT: Danfoss Ally 014G2461, Eurotronic Spirit
 * SPZB0001, Bosch Radiator thermostat II BTH-RA (and any TRV exposing Zigbee2MQTT's `climate` feature
 * with `pi_heating_demand` or `position`).
 *
 * Decoding and the command follow:
 * - https://www.zigbee2mqtt.io/guide/usage/mqtt_topics_and_messages.html, "zigbee2mqtt/FRIENDLY_NAME"
 *   (the device's state as a JSON object of its exposes) and "zigbee2mqtt/FRIENDLY_NAME/set" (to set an
 *   expose: `{"occupied_heating_setpoint": 21}`), "…/availability".
 * - https://www.zigbee2mqtt.io/devices/014G2461.html, https://www.zigbee2mqtt.io/devices/SPZB0001.html and
 *   https://www.zigbee2mqtt.io/devices/BTH-RA.html, section "Exposes", climate:
 *   `local_temperature` "Current temperature measured on the device (in °C)";
 *   `occupied_heating_setpoint` "Temperature setpoint. To control publish a message to topic
 *   zigbee2mqtt/FRIENDLY_NAME/set with payload {"occupied_heating_setpoint": VALUE} where VALUE is the °C
 *   between 5 and 35" (Danfoss; 5 and 30 for the Spirit and the BTH-RA), in steps of 0.5;
 *   `pi_heating_demand` "Position of the valve (= demanded heat) where 0% is fully closed and 100% is fully
 *   open"; `battery` %; `linkquality`.
 * - Tuya-based valves (e.g. https://www.zigbee2mqtt.io/devices/TS0601_thermostat.html) say `position` (%)
 *   for the valve and `current_heating_setpoint` for the setpoint, which the Spirit also reports.
 *
 * The setpoint the building sends is refused outside 5…30 °C or off the 0.5 °C steps: what every one of the
 * cited valves takes. Zigbee2MQTT answers a successful write by publishing the device's state with the new
 * `occupied_heating_setpoint`: the `setpoint` reading that confirms the command. A valve has one channel, 0.
 */
import {
  battery,
  batteryLow,
  linkquality,
  setpoint,
  temperature,
  valve,
} from '../../device-profiles/capabilities.ts';
import { defineProfile, jsonReport } from '../../device-profiles/define.ts';
import type { ActionValue } from '../../device-profiles/profile.ts';
import { z2mAvailability, z2mLastSeen, z2mLayout, z2mListens, z2mSubscriptions } from '../zigbee2mqtt.ts';

/** The setpoint every cited valve takes (Danfoss goes to 35 °C, the Spirit and the BTH-RA to 30). */
export const TRV_SETPOINT: ActionValue = { unit: '°C', min: 5, max: 30, step: 0.5 };

export default defineProfile({
  id: 'zigbee2mqtt-thermostat',
  vendor: 'Zigbee2MQTT',
  description: 'Zigbee radiator thermostat (TRV) via Zigbee2MQTT',
  sources: [
    'https://www.zigbee2mqtt.io/guide/usage/mqtt_topics_and_messages.html',
    'https://www.zigbee2mqtt.io/devices/014G2461.html',
    'https://www.zigbee2mqtt.io/devices/SPZB0001.html',
    'https://www.zigbee2mqtt.io/devices/BTH-RA.html',
    'https://www.zigbee2mqtt.io/devices/TS0601_thermostat.html',
    'https://www.zigbee2mqtt.io/guide/configuration/device-availability.html',
  ],
  // Valves report on change and at least every ~10 min (Danfoss: local_temperature reporting).
  reportingIntervalS: 600,
  layout: z2mLayout,
  subscriptions: z2mSubscriptions,
  reports: {
    state: jsonReport(
      [
        temperature('local_temperature'),
        setpoint('occupied_heating_setpoint', 'current_heating_setpoint'),
        valve('pi_heating_demand', 'position'),
        battery(),
        batteryLow(),
        linkquality(),
      ],
      { time: z2mLastSeen },
    ),
    availability: z2mAvailability,
  },
  listens: z2mListens,
  commands: {
    set_setpoint: {
      value: TRV_SETPOINT,
      encode: (deviceTopic, _channel, { value }) => [
        {
          topic: `${deviceTopic}/set`,
          payload: JSON.stringify({ occupied_heating_setpoint: value }),
          qos: 1,
          retain: false,
        },
      ],
    },
  },
});
