/** What the other parts use from the device-profile layer. */

export {
  DecodeError,
  type DecodeResult,
  type DeviceAction,
  type DeviceProfile,
  type OutgoingMessage,
  type ProfileReading,
  type TopicMatch,
} from './profile.ts';
export { isQuantity, QUANTITY_UNITS, type Quantity, type Reading, type Unit } from './reading.ts';
export {
  type DecodeOutcome,
  decodeMessage,
  deviceIdFromTopic,
  FAMILIES_DIR,
  loadProfiles,
  type SiteDevice,
} from './registry.ts';
