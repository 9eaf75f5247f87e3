import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import t from 'tap';
import { FAMILIES_DIR, loadProfiles } from '../device-profiles/registry.ts';
import { loadSite } from '../site/load.ts';
import { DEMO_SITE_FILE } from './demo-site.ts';
import { createVirtualDevice, loadSimulators } from './family-simulators.ts';
import { SimulatedBuilding } from './simulated-building.ts';

const NOW = Date.UTC(2026, 0, 12, 10);

t.test('every family folder with a simulator brings it, under its profile id', async (t) => {
  const simulators = await loadSimulators();
  const profiles = await loadProfiles();
  const withSimulator = [];
  for (const folder of await readdir(FAMILIES_DIR, { withFileTypes: true })) {
    if (!folder.isDirectory()) continue;
    const files = await readdir(path.join(FAMILIES_DIR, folder.name));
    if (files.includes('simulator.ts')) withSimulator.push(folder.name);
  }
  t.same([...simulators.keys()].sort(), withSimulator.sort(), 'one per folder with a simulator.ts');
  for (const id of simulators.keys()) t.ok(profiles.has(id), `${id} is a profile's id`);
  for (const id of [
    'zigbee2mqtt-occupancy',
    'zigbee2mqtt-air-quality',
    'shelly-gen1',
    'shelly-gen2',
    'shelly-pro-3em',
    'tasmota-energy',
    'nuki-mqtt',
  ])
    t.ok(simulators.has(id), id);
});

t.test('every device of the demo building is simulated, and what it says decodes', async (t) => {
  const simulators = await loadSimulators();
  const profiles = await loadProfiles();
  const site = loadSite(DEMO_SITE_FILE);
  const building = new SimulatedBuilding(site, 'families');
  for (const config of site.devices) {
    const device = createVirtualDevice(simulators, config, building, NOW);
    if (!device) {
      t.fail(`${config.id} (${config.profile}) has no virtual device`);
      continue;
    }
    const profile = profiles.get(config.profile);
    for (const m of device.birth(NOW)) {
      const match = profile?.match(m.topic);
      if (!match || match.deviceTopic !== config.topic) t.fail(`${config.id}: ${m.topic} is not its topic`);
      else profile?.decode(match, Buffer.from(m.payload), NOW);
    }
  }
  const stranger = { id: 'x1', profile: 'no-such-family', topic: 'x/1', space: site.spaces[0]?.id ?? '' };
  t.equal(
    createVirtualDevice(simulators, stranger, building, NOW),
    undefined,
    'a family without a simulator has no virtual device',
  );
});

t.test('adding a family simulator is adding simulator.ts to its folder', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'wesprint-simulators-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, 'package.json'), '{"type":"module"}\n');
  const here = (f: string) => JSON.stringify(pathToFileURL(path.join(import.meta.dirname, f)).href);
  const family = async (folder: string, files: Record<string, string>) => {
    await mkdir(path.join(dir, folder), { recursive: true });
    for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, folder, name), text);
  };
  // The simulator is registered under the id of the profile beside it, whatever the folder's name.
  await family('acme', {
    'profile.ts': 'export default { id: "acme-meter" };\n',
    'simulator.ts': `import { defineSimulator } from ${here('virtual-device.ts')};
export default defineSimulator((config) => ({
  config, clientId: config.id, firmwareIntervalS: 60, commandTopics: [],
  will: { topic: config.topic + '/online', payload: 'false', qos: 1, retain: true },
  birth: () => [], report: () => [{ topic: config.topic + '/wh', payload: '1', qos: 0, retain: false }],
}));
`,
    'simulator.test.ts': 'throw new Error("tests are not simulators");\n',
  });
  await family('sensor-only', { 'profile.ts': 'export default { id: "sensor-only" };\n' });
  const simulators = await loadSimulators(dir);
  t.same([...simulators.keys()], ['acme-meter'], 'a family without simulator.ts is not simulated');
  const site = loadSite(DEMO_SITE_FILE);
  const device = createVirtualDevice(
    simulators,
    { id: 'm1', profile: 'acme-meter', topic: 'acme/m1', space: site.spaces[0]?.id ?? '' },
    new SimulatedBuilding(site),
    NOW,
  );
  t.same(device?.report(NOW), [{ topic: 'acme/m1/wh', payload: '1', qos: 0, retain: false }]);

  await family('orphan', { 'simulator.ts': 'export default {};\n' });
  await t.rejects(loadSimulators(dir), /device family folder orphan has a simulator but no profile.ts/);
  await family('orphan', { 'profile.ts': 'export default { id: "orphan" };\n' });
  await t.rejects(loadSimulators(dir), /simulator orphan\/simulator.ts must export defineSimulator/);
});
