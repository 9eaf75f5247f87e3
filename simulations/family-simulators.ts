import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { FAMILIES_DIR, familyFolders, PROFILE_FILE } from '../device-profiles/registry.ts';
import type { DeviceConfig } from '../site/site.ts';
import type { SimulatedBuilding } from './simulated-building.ts';
import type { DeviceOptions, FamilySimulator, VirtualDevice } from './virtual-device.ts';

/**
 * The simulators of the device families, found the way the registry finds their profiles: each family
 * folder of `device-families/` that has a `simulator.ts` brings one, registered under the id of the
 * profile beside it. A family without one is not simulated (its devices are skipped).
 */

export const SIMULATOR_FILE = 'simulator.ts';

/** The simulator of every family folder of `dir` (default: device-families/) that has one, by profile id. */
export async function loadSimulators(dir: string = FAMILIES_DIR): Promise<Map<string, FamilySimulator>> {
  const simulators = new Map<string, FamilySimulator>();
  for (const { folder, file } of await familyFolders(dir, SIMULATOR_FILE)) {
    if (!file) continue;
    if (!existsSync(path.join(dir, folder, PROFILE_FILE)))
      throw new Error(`device family folder ${folder} has a simulator but no ${PROFILE_FILE}`);
    const id = ((await defaultExport(dir, `${folder}/${PROFILE_FILE}`)) as { id?: unknown } | undefined)?.id;
    if (typeof id !== 'string') throw new Error(`device family profile ${folder}/${PROFILE_FILE} has no id`);
    const simulator = await defaultExport(dir, file);
    if (typeof (simulator as Partial<FamilySimulator> | undefined)?.create !== 'function')
      throw new Error(`device family simulator ${file} must export defineSimulator(…) as default`);
    simulators.set(id, simulator as FamilySimulator);
  }
  return simulators;
}

async function defaultExport(dir: string, file: string): Promise<unknown> {
  return ((await import(pathToFileURL(path.join(dir, file)).href)) as { default?: unknown }).default;
}

/** The virtual device for a site device, or undefined for a family that has no simulator. */
export function createVirtualDevice(
  simulators: ReadonlyMap<string, FamilySimulator>,
  config: DeviceConfig,
  building: SimulatedBuilding,
  simStart: number,
  options: DeviceOptions = {},
): VirtualDevice | undefined {
  return simulators.get(config.profile)?.create(config, { building, simStart, options });
}
