import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { NORD, SUED, twoSites } from '../test-support/two-sites.ts';
import { loadNetwork, SiteFileError, siteFilesIn } from './load.ts';
import { asNetwork, deviceAccountName, deviceKey, networkOf, networkProblems } from './network.ts';

t.test('a lone site keeps its keys; a network qualifies them by site', async (t) => {
  const lone = asNetwork(NORD);
  const plug = NORD.devices[0] as (typeof NORD.devices)[0];
  t.equal(deviceKey(lone, 'nord', 'plug-1'), 'plug-1');
  t.equal(deviceAccountName(lone, 'nord', plug), 'plug-1');
  const network = twoSites();
  t.equal(deviceKey(network, 'nord', 'plug-1'), 'nord/plug-1');
  t.equal(deviceAccountName(network, 'sued', plug), 'sued/plug-1');
  t.equal(
    deviceAccountName(network, 'sued', { ...plug, username: 'shelly-17' }),
    'shelly-17',
    'pinned stays',
  );
  t.same(networkProblems(network), [], 'same device ids, own base topics: fine');
});

t.test('what must be unique across the network is said at start', async (t) => {
  const sameTopic = {
    ...SUED,
    devices: SUED.devices.map((d, i) => ({ ...d, topic: NORD.devices[i]?.topic ?? '' })),
  };
  t.match(networkProblems(networkOf([NORD, sameTopic])), [
    /sued\/plug-1 has the base topic "shellies\/shellyplug-s-A1A1A1" of nord\/plug-1/,
    /sued\/lock-1 has the base topic/,
  ]);
  t.match(networkProblems(networkOf([NORD, NORD])), [/site id "nord" is used by two site files/]);
  const pinned = (site: typeof NORD) => ({
    ...site,
    devices: site.devices.map((d) => ({ ...d, username: `pinned-${d.id}` })),
  });
  t.match(networkProblems(networkOf([pinned(NORD), pinned(SUED)]))[0], /MQTT user name "pinned-plug-1"/);
});

t.test('SITES_DIR: the site files of a folder, by name, checked together', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-sites-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  t.throws(() => siteFilesIn(dir), SiteFileError, 'an empty folder is a mistake');
  fs.writeFileSync(path.join(dir, '2-sued.site.json'), JSON.stringify(SUED));
  fs.writeFileSync(path.join(dir, '1-nord.site.yaml'), JSON.stringify(NORD));
  fs.writeFileSync(path.join(dir, 'README.md'), 'not a site');
  const network = loadNetwork(siteFilesIn(dir), dir);
  t.same(
    network.sites.map((s) => s.site.id),
    ['nord', 'sued'],
  );
  t.ok(network.qualified);
  fs.writeFileSync(path.join(dir, '3-nord-again.site.json'), JSON.stringify(NORD));
  t.throws(() => loadNetwork(siteFilesIn(dir), dir), /site id "nord" is used by two site files/);
});

t.test("a site's guest rules name sites of the network", async (t) => {
  const opens = { ...SUED, guests: [{ from: ['nord', 'west'], kinds: ['desk' as const] }] };
  t.same(networkProblems(networkOf([NORD, opens])), [
    'site "sued" opens spaces to guests of "west", which is no site of the network',
  ]);
  t.same(
    networkProblems(networkOf([NORD, { ...SUED, guests: [{ from: ['*'], kinds: ['desk' as const] }] }])),
    [],
  );
});
