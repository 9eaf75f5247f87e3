/** What the other parts use from the device-profile layer. */

export { isQuantity, QUANTITIES, type Quantity, type Unit } from '../building/quantities.ts';
export type { Reading } from '../building/reading.ts';
export {
  DecodeError,
  type DecodeResult,
  type DeviceAction,
  type DeviceProfile,
  type OutgoingMessage,
  type ProfileReading,
  type TopicMatch,
} from './profile.ts';
export {
  type DecodeOutcome,
  decodeMessage,
  deviceIdFromTopic,
  FAMILIES_DIR,
  loadProfiles,
  type SiteDevice,
} from './registry.ts';
