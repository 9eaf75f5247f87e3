import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import t from 'tap';
import { decodeMessage, deviceIdFromTopic, FAMILIES_DIR, loadProfiles, type SiteDevice } from './registry.ts';

const NOW = Date.UTC(2026, 10, 20, 9, 0, 0);
const buf = (s: string) => Buffer.from(s);

t.test('discovers every family folder and nothing else', async (t) => {
  const profiles = await loadProfiles();
  const folders = (await readdir(FAMILIES_DIR, { withFileTypes: true }))
    .filter((e) => e.isDirectory())
    .map((e) => e.name);
  t.equal(profiles.size, folders.length, 'one profile per family folder');
  t.same([...profiles.keys()].sort(), folders.sort(), 'folder name = profile id');
  for (const id of [
    'zigbee2mqtt-occupancy',
    'zigbee2mqtt-air-quality',
    'shelly-gen1',
    'shelly-gen2',
    'tasmota-energy',
    'nuki-mqtt',
  ]) {
    t.ok(profiles.has(id), id);
  }
  for (const p of profiles.values())
    t.ok(p.sources.length > 0 && p.subscriptions.length > 0, `${p.id} cites sources`);
});

t.test('adding a family is adding one folder', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'wesprint-families-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  // Outside the project the ESM marker has to come along, as it would in any package.
  await writeFile(path.join(dir, 'package.json'), '{"type":"module"}\n');
  const here = (f: string) => JSON.stringify(pathToFileURL(path.join(import.meta.dirname, f)).href);
  const family = async (folder: string, files: Record<string, string>) => {
    await mkdir(path.join(dir, folder), { recursive: true });
    for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, folder, name), text);
  };
  await family('acme-meter', {
    'profile.ts': `import { energyCounter } from ${here('capabilities.ts')};
import { defineProfile, jsonReport, rootedLayout } from ${here('define.ts')};
export default defineProfile({
  id: 'acme-meter', vendor: 'ACME', description: 'test family', sources: ['https://example.invalid/acme'],
  reportingIntervalS: 60, layout: rootedLayout('acme'), subscriptions: ['acme/+/report'],
  reports: { report: jsonReport([energyCounter('Wh', 'wh')]) }, listens: [],
});
`,
    // Beside the profile, neither its tests nor its simulator is taken for a profile.
    'profile.test.ts': 'throw new Error("tests are not profiles");\n',
    'simulator.ts': 'throw new Error("simulators are not profiles");\n',
  });
  // A file beside the folders (something the families share) is not a family.
  await writeFile(path.join(dir, 'acme-shared.ts'), 'throw new Error("shared files are not families");\n');
  const profiles = await loadProfiles(dir);
  t.same([...profiles.keys()], ['acme-meter']);
  const out = decodeMessage(profiles, 'acme/m1/report', buf('{"wh":2500}'), NOW);
  t.ok(out.ok);
  if (out.ok)
    t.same(out.result.readings, [{ channel: '0', quantity: 'energy', value: 2.5, unit: 'kWh', ts: NOW }]);

  await family('acme-copy', {
    'profile.ts': `export { default } from ${JSON.stringify(pathToFileURL(path.join(dir, 'acme-meter', 'profile.ts')).href)};\n`,
  });
  await t.rejects(
    loadProfiles(dir),
    /"acme-meter" is defined twice: acme-copy\/profile.ts and acme-meter\/profile.ts/,
  );
  await rm(path.join(dir, 'acme-copy'), { recursive: true });
  await family('broken', { 'profile.ts': 'export default { id: "broken" };\n' });
  await t.rejects(loadProfiles(dir), /broken\/profile.ts: missing or invalid match\(\), decode\(\), acl\(\)/);
  await rm(path.join(dir, 'broken'), { recursive: true });
  await family('half-done', { 'simulator.ts': 'export default {};\n' });
  await t.rejects(loadProfiles(dir), /device family folder half-done has no profile.ts/);
});

t.test('decodeMessage without a site map', async (t) => {
  const profiles = await loadProfiles();
  const co2 = decodeMessage(profiles, 'zigbee2mqtt/protel-12', buf('{"co2":812,"temperature":22.3}'), NOW);
  t.ok(co2.ok);
  if (co2.ok) {
    t.equal(co2.profile.id, 'zigbee2mqtt-air-quality', 'the family yielding more readings wins');
    t.equal(co2.device, 'zigbee2mqtt-protel-12');
    t.same(co2.match, { deviceTopic: 'zigbee2mqtt/protel-12', subtopic: 'state' });
  }
  const pir = decodeMessage(
    profiles,
    'zigbee2mqtt/desk-1',
    buf('{"occupancy":true,"temperature":22.3}'),
    NOW,
  );
  t.equal(pir.ok && pir.profile.id, 'zigbee2mqtt-occupancy');
  const lwt = decodeMessage(profiles, 'shellies/shellyplug-s-C18B12/online', buf('true'), NOW);
  t.equal(lwt.ok && lwt.profile.id, 'shelly-gen1', 'anchored shellies/… beats the free Gen2 prefix');

  t.same(decodeMessage(profiles, 'office/coffee-machine', buf('on'), NOW), {
    ok: false,
    reason: 'unknown_device',
    detail: 'no device family recognises topic "office/coffee-machine"',
  });
  const bad = decodeMessage(profiles, 'zigbee2mqtt/protel-12', buf('{"co2":-5}'), NOW);
  t.equal(bad.ok, false);
  if (!bad.ok) {
    t.equal(bad.reason, 'malformed');
    t.equal(bad.device, 'zigbee2mqtt-protel-12');
    t.match(bad.detail, /co2: -5 is outside/);
  }
  const bridge = decodeMessage(profiles, 'zigbee2mqtt/bridge/state', buf('online'), NOW);
  t.equal(!bridge.ok && bridge.reason, 'ignored');
  const echo = decodeMessage(profiles, 'nuki/2BB28570/lockAction', buf('1'), NOW);
  t.equal(!echo.ok && echo.reason, 'ignored', 'our own command seen on the way to the lock');
});

t.test('decodeMessage with a site map', async (t) => {
  const profiles = await loadProfiles();
  const site = new Map<string, SiteDevice>([
    ['shellies/shellyem-B9A3F1', { id: 'main-meter', profile: 'shelly-gen1' }],
    ['nuki/2BB28570', { id: 'protel-12-door', profile: profiles.get('nuki-mqtt') ?? 'nuki-mqtt' }],
    ['zigbee2mqtt/protel-12', { id: 'protel-12-air', profile: 'zigbee2mqtt-air-quality' }],
    ['zigbee2mqtt/desk-1', { id: 'desk-1-pir', profile: 'zigbee2mqtt-occupancy' }],
    ['tele/ghost', { id: 'ghost', profile: 'no-such-family' }],
  ]);
  const total = decodeMessage(profiles, 'shellies/shellyem-B9A3F1/emeter/0/total', buf('1000'), NOW, site);
  t.ok(total.ok);
  if (total.ok) {
    t.equal(total.device, 'main-meter');
    t.same(total.result.readings, [{ channel: '0', quantity: 'energy', value: 1, unit: 'kWh', ts: NOW }]);
  }
  const lock = decodeMessage(profiles, 'nuki/2BB28570/state', buf('3'), NOW, site);
  t.equal(lock.ok && lock.result.readings[0]?.value, 'unlocked');
  // The site says this device is an occupancy sensor: its profile decodes, even for a CO2-looking report.
  const pir = decodeMessage(profiles, 'zigbee2mqtt/desk-1', buf('{"occupancy":false,"co2":500}'), NOW, site);
  t.ok(pir.ok && pir.profile.id === 'zigbee2mqtt-occupancy' && pir.result.readings.length === 1);

  const stranger = decodeMessage(profiles, 'shellies/shellyplug-s-FFFFFF/relay/0/power', buf('5'), NOW, site);
  t.same(stranger, {
    ok: false,
    reason: 'unknown_device',
    detail: 'no device in the site file has base topic "shellies/shellyplug-s-FFFFFF"',
  });
  const garbage = decodeMessage(profiles, 'nuki/2BB28570/state', buf('\u0000\u00ff'), NOW, site);
  t.same(garbage.ok ? undefined : [garbage.reason, garbage.device], ['malformed', 'protel-12-door']);
  const unknownProfile = decodeMessage(profiles, 'tele/ghost/LWT', buf('Online'), NOW, site);
  t.equal(!unknownProfile.ok && unknownProfile.reason, 'unknown_device');
  t.equal(decodeMessage(profiles, 'a/b/c', buf('x'), NOW, site).ok, false);
});

t.test('device ids derived from topics fit the site id pattern', async (t) => {
  for (const topic of [
    'shellies/shellyplug-s-C18B12',
    'nuki/2BB28570',
    'zigbee2mqtt/Floor 2/Desk #3',
    '///',
    'x'.repeat(100),
  ]) {
    t.match(deviceIdFromTopic(topic), /^[a-z0-9][a-z0-9_-]{0,63}$/, topic);
  }
});
