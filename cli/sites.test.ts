import t from 'tap';
import { DEMO_NETWORK_DIR, DEMO_SITE_FILE } from '../simulations/demo-site.ts';
import { loadSite } from '../site/load.ts';
import { readSettings } from './settings.ts';
import { loadSites } from './sites.ts';

t.test('SITE_FILE is one site whose keys stay as they were; --sites N the first N of a folder', async (t) => {
  const one = loadSites(readSettings({}, false));
  t.equal(one.qualified, false);
  t.same(
    one.sites.map((s) => s.site.id),
    [loadSite(DEMO_SITE_FILE).site.id],
  );

  const demo = loadSites({ ...readSettings({ SITES_DIR: DEMO_NETWORK_DIR }, false), sitesLimit: 4 });
  t.ok(demo.qualified);
  t.equal(demo.sites.length, 4, 'the demo network has four houses');
  t.equal(demo.sites[0]?.site.id, 'kaufhaus-am-markt', 'the department store is the home site');
  const sizes = demo.sites.map((s) => s.devices.length);
  t.equal(new Set(sizes).size, 4, `four different sizes (${sizes.join(', ')} devices)`);
  t.ok(new Set(demo.sites.map((s) => s.site.timezone)).size > 1, 'not all in one time zone');
  const mainMeters = demo.sites.filter((s) => s.devices.some((d) => d.id === 'eg-main-meter'));
  t.ok(mainMeters.length > 1, 'device ids repeat between the houses');
  t.same(
    loadSites({ ...readSettings({ SITES_DIR: DEMO_NETWORK_DIR }, false), sitesLimit: 2 }).sites.map(
      (s) => s.site.id,
    ),
    ['kaufhaus-am-markt', 'werkhof-weimar'],
  );
});
