import t from 'tap';
import { loadProfiles } from '../device-profiles/registry.ts';
import { DEMO_SITE_FILE } from '../simulations/demo-site.ts';
import { loadSite } from '../site/load.ts';
import { automationRooms, firstFlows } from './first-flows.ts';

const site = loadSite(DEMO_SITE_FILE);
const profiles = await loadProfiles();

t.test("the demo's rooms: team rooms' sockets for standby, every valve for heating", async (t) => {
  const { standby, heating } = automationRooms(site, profiles);
  t.same(standby, {
    'og2-protel-01': [{ device: 'og2-protel-steckdosen', channel: '0' }, 'og2-protel-01-wasserkocher'],
    'og2-protel-02': [{ device: 'og2-protel-steckdosen', channel: '1' }],
    'og2-protel-03': [{ device: 'og2-protel-steckdosen', channel: '2' }],
    'og2-protel-04': [{ device: 'og2-protel-steckdosen', channel: '3' }],
    'og3-besprechung-1': ['og3-besprechung-1-display'],
  });
  t.same(Object.keys(heating).sort(), [
    'eg-diskursraum',
    'og2-protel-01',
    'og2-protel-02',
    'og2-protel-03',
    'og2-protel-04',
  ]);
  t.notOk(
    Object.values(standby)
      .flat()
      .some((o) => (typeof o === 'string' ? o : o.device).includes('main-meter')),
    "no main meter's relay",
  );
});

t.test('the first flows: both examples with these rooms, one server with the token', async (t) => {
  const flows = firstFlows({ site, profiles, apiUrl: 'http://127.0.0.1:8080', token: 'wsp_example' });
  t.same(
    flows.filter((n) => n.type === 'tab').map((n) => n.label),
    ['Standby off', 'Heating follows bookings', 'Air'],
  );
  const servers = flows.filter((n) => n.type === 'wesprint-config');
  t.equal(servers.length, 1, 'one server for both');
  t.match(servers[0], { url: 'http://127.0.0.1:8080', credentials: { token: 'wsp_example' } });
  const ids = flows.map((n) => n.id);
  t.equal(new Set(ids).size, ids.length, 'no node twice');
  const heating = flows.find((n) => n.id === 'heating-tab') as unknown as {
    env: { name: string; value: string }[];
  };
  t.same(
    Object.keys(JSON.parse(heating.env.find((e) => e.name === 'ROOMS')?.value ?? '{}')),
    Object.keys(automationRooms(site, profiles).heating),
  );
  const bare = { ...site, devices: site.devices.filter((d) => d.profile !== 'zigbee2mqtt-thermostat') };
  t.same(
    firstFlows({ site: bare, profiles, apiUrl: 'http://x', token: 'wsp_x' })
      .filter((n) => n.type === 'tab')
      .map((n) => n.label),
    ['Standby off', 'Air'],
    'a site without valves gets no heating flow',
  );
});
