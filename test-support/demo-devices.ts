import type { DeviceProfile, ProfileReading } from '../device-profiles/profile.ts';
import { DEMO_SITE_FILE } from '../simulations/demo-site.ts';
import { SimulatedBuilding } from '../simulations/simulated-building.ts';
import type { DeviceMessage } from '../simulations/virtual-device.ts';
import { loadSite } from '../site/load.ts';
import type { DeviceConfig } from '../site/site.ts';

/**
 * What a family simulator's tests stand on: the demo building (Kaufhaus am Markt) simulated on a seed,
 * its site devices by id, and the family's own profile to decode what the simulator sends.
 */

/** Monday 12 January 2026, 00:00 UTC. */
export const MONDAY = Date.UTC(2026, 0, 12);

export function demoBuilding(seed = 'vd-test') {
  const site = loadSite(DEMO_SITE_FILE);
  const building = new SimulatedBuilding(site, seed);
  const device = (id: string): DeviceConfig => {
    const d = site.devices.find((x) => x.id === id);
    if (!d) throw new Error(`${id} is not in the demo site`);
    return d;
  };
  return { site, building, device };
}

/** The payload of the one message whose topic ends with `suffix` ('' for the first message). */
export function payloadOf(messages: DeviceMessage[], suffix: string): string {
  const m = messages.find((x) => x.topic.endsWith(suffix));
  if (!m) throw new Error(`no ${suffix} in ${messages.map((x) => x.topic).join(', ')}`);
  return m.payload;
}

/** The readings the family's profile decodes from the messages; a message it does not take is an error. */
export function decodeAll(profile: DeviceProfile, messages: DeviceMessage[], at: number): ProfileReading[] {
  return messages.flatMap((m) => {
    const match = profile.match(m.topic);
    if (!match) throw new Error(`${m.topic} is not a ${profile.id} topic`);
    return profile.decode(match, Buffer.from(m.payload), at).readings;
  });
}
