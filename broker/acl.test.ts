import t from 'tap';
import { testProfiles, testSite } from '../test-support/broker.ts';
import {
  anonymousGrant,
  apiGrant,
  deviceCommandFilters,
  deviceGrant,
  gatewayGrant,
  mayPublish,
  mayReceive,
  maySubscribe,
  unknownProfiles,
} from './acl.ts';

const site = testSite('scrypt$1$1$1$AA$AA');

t.test('a device publishes only its own topics and subscribes only to its command topics', async (t) => {
  const lock = deviceGrant(site, testProfiles, 'lock-101');
  t.ok(mayPublish(lock, 'nuki/3A4B5C6D/state').allowed);
  t.notOk(mayPublish(lock, 'nuki/3A4B5C6D/lockAction').allowed, 'a lock cannot command itself');
  t.notOk(mayPublish(lock, 'zigbee2mqtt/desk-1').allowed, 'nor speak for another device');
  t.notOk(mayPublish(lock, 'nuki/+/state').allowed, 'no wildcards in PUBLISH');
  t.notOk(mayPublish(lock, 'wesprint/kaufhaus/commands/lock-101').allowed);
  t.notOk(mayPublish(lock, '$SYS/x').allowed);
  t.ok(maySubscribe(lock, 'nuki/3A4B5C6D/lockAction').allowed);
  for (const filter of ['nuki/#', '#', 'nuki/+/lockAction', 'nuki/3A4B5C6D/#', 'wesprint/#', '$SYS/#'])
    t.notOk(maySubscribe(lock, filter).allowed, `lock may not subscribe ${filter}`);

  const desk = deviceGrant(site, testProfiles, 'desk-1-occupancy');
  t.ok(mayPublish(desk, 'zigbee2mqtt/desk-1').allowed);
  t.ok(mayPublish(desk, 'zigbee2mqtt/desk-1/availability').allowed);
  t.notOk(mayPublish(desk, 'zigbee2mqtt/desk-2').allowed);
  t.notOk(mayPublish(desk, 'nuki/3A4B5C6D/lockAction').allowed, 'a sensor cannot command a lock');
  t.notOk(mayPublish(desk, 'zigbee2mqtt/desk-1/set').allowed);
});

t.test(
  'every device grant denies from one shared list, so the broker holds it once, not once per device',
  async (t) => {
    // A copy per device, split into levels per grant, grew with the square of the devices: 1.4 GB at 1,600.
    const commandFilters = deviceCommandFilters(site, testProfiles);
    const lock = deviceGrant(site, testProfiles, 'lock-101', commandFilters);
    const desk = deviceGrant(site, testProfiles, 'desk-1-occupancy', commandFilters);
    t.equal(lock.denyPublish, desk.denyPublish, 'the same list');
    t.notOk(mayPublish(desk, 'nuki/3A4B5C6D/lockAction').allowed, 'and it still denies');
  },
);

t.test('even a profile with a too-wide publish filter cannot command', async (t) => {
  const wide = new Map(testProfiles);
  const nuki = testProfiles.get('nuki-mqtt');
  if (!nuki) throw new Error('fixture');
  wide.set('nuki-mqtt', { ...nuki, acl: (d) => ({ publish: [`${d}/#`], subscribe: [`${d}/lockAction`] }) });
  const lock = deviceGrant(site, wide, 'lock-101');
  t.ok(mayPublish(lock, 'nuki/3A4B5C6D/state').allowed);
  t.notOk(mayPublish(lock, 'nuki/3A4B5C6D/lockAction').allowed);
});

t.test(
  'the gateway reads devices and the building topics, writes building topics and commands',
  async (t) => {
    const gw = gatewayGrant(site, testProfiles);
    t.ok(maySubscribe(gw, 'nuki/+/state').allowed);
    t.ok(maySubscribe(gw, 'zigbee2mqtt/+').allowed);
    t.ok(maySubscribe(gw, 'zigbee2mqtt/desk-1').allowed);
    t.ok(maySubscribe(gw, 'wesprint/kaufhaus/#').allowed);
    t.ok(maySubscribe(gw, 'wesprint/kaufhaus/commands/+').allowed);
    t.notOk(maySubscribe(gw, '#').allowed);
    t.notOk(maySubscribe(gw, 'wesprint/other-site/#').allowed);
    t.ok(mayPublish(gw, 'nuki/3A4B5C6D/lockAction').allowed);
    t.ok(mayPublish(gw, 'zigbee2mqtt/desk-1/set').allowed);
    t.ok(mayPublish(gw, 'wesprint/kaufhaus/readings/desk-1/desk-1-occupancy/occupancy').allowed);
    t.ok(mayPublish(gw, 'wesprint/kaufhaus/commands/lock-101/result').allowed);
    t.notOk(mayPublish(gw, 'zigbee2mqtt/desk-1').allowed, 'the gateway cannot impersonate a sensor');
    t.notOk(mayPublish(gw, 'wesprint/other-site/x').allowed);
  },
);

t.test('the API only reads building topics and sends building commands', async (t) => {
  const api = apiGrant(site);
  t.ok(maySubscribe(api, 'wesprint/kaufhaus/#').allowed);
  t.ok(maySubscribe(api, 'wesprint/kaufhaus/commands/+/result').allowed);
  t.notOk(maySubscribe(api, 'nuki/+/state').allowed);
  t.ok(mayPublish(api, 'wesprint/kaufhaus/commands/lock-101').allowed);
  t.notOk(mayPublish(api, 'wesprint/kaufhaus/commands/lock-101/result').allowed);
  t.notOk(mayPublish(api, 'nuki/3A4B5C6D/lockAction').allowed, 'the API never talks to a lock directly');
  t.notOk(mayPublish(api, 'wesprint/kaufhaus/readings/a/b/co2').allowed);
  t.ok(mayPublish(api, 'wesprint/kaufhaus/events/booking-made').allowed, 'the API tells the events');
  t.notOk(mayPublish(api, 'wesprint/kaufhaus/events/booking-made/x').allowed);
  t.notOk(mayPublish(api, 'wesprint/other/events/booking-made').allowed, 'of its own sites only');
});

t.test('lab mode: anonymous may use anything except commands and the deny list', async (t) => {
  const lab = anonymousGrant(site, testProfiles, ['test/nosubscribe']);
  t.ok(mayPublish(lab, 'TopicA/B').allowed);
  t.ok(mayPublish(lab, 'zigbee2mqtt/desk-1').allowed);
  t.notOk(mayPublish(lab, 'nuki/3A4B5C6D/lockAction').allowed);
  t.notOk(mayPublish(lab, 'wesprint/kaufhaus/commands/lock-101').allowed);
  t.notOk(mayPublish(lab, 'wesprint/kaufhaus/events/door-opened').allowed, 'nor fake an event');
  t.notOk(mayPublish(lab, '$SYS/x').allowed);
  t.ok(mayPublish(lab, 'test/nosubscribe').allowed, 'the deny list is about subscribing');
  t.ok(maySubscribe(lab, '#').allowed, 'a partly denied filter is granted ...');
  t.notOk(mayReceive(lab, 'nuki/3A4B5C6D/lockAction'), '... and the denied part withheld on delivery');
  t.notOk(mayReceive(lab, 'wesprint/kaufhaus/commands/lock-101'));
  t.notOk(mayReceive(lab, 'test/nosubscribe'));
  t.ok(mayReceive(lab, 'TopicA/B'));
  t.notOk(maySubscribe(lab, 'test/nosubscribe').allowed);
  t.notOk(maySubscribe(lab, 'nuki/3A4B5C6D/lockAction').allowed);
  t.notOk(maySubscribe(lab, 'wesprint/+/commands/#').allowed);
  t.notOk(maySubscribe(lab, '$SYS/#').allowed);
});

t.test('command filters and profile checks', async (t) => {
  t.same(deviceCommandFilters(site, testProfiles).sort(), [
    'nuki/3A4B5C6D/lockAction',
    'zigbee2mqtt/desk-1/set',
    'zigbee2mqtt/desk-2/set',
  ]);
  t.same(unknownProfiles(site, testProfiles), []);
  const typo = { ...site, devices: [{ ...site.devices[0], profile: 'nuki' } as (typeof site.devices)[0]] };
  t.same(unknownProfiles(typo, testProfiles), ['lock-101 (profile "nuki")']);
});

t.test(
  "with the broker's journal feed the gateway reads the devices there only; nobody else reads it, nobody publishes it",
  async (t) => {
    const feed = '$wesprint/journal';
    const gw = gatewayGrant(site, testProfiles, undefined, feed);
    t.ok(maySubscribe(gw, feed).allowed, 'the gateway subscribes to the feed');
    t.ok(mayReceive(gw, feed), '…and receives it');
    t.notOk(
      maySubscribe(gw, 'nuki/+/state').allowed,
      'not to the devices topics: they come through the feed',
    );
    t.notOk(
      mayReceive(gw, 'nuki/3A4B5C6D/state'),
      'a device subscription restored from disk delivers nothing',
    );
    t.ok(maySubscribe(gw, 'wesprint/kaufhaus/#').allowed, 'its building topics as before');
    t.notOk(mayPublish(gw, feed).allowed, 'only the broker publishes the feed');
    const lab = anonymousGrant(site, testProfiles);
    t.notOk(maySubscribe(lab, feed).allowed, 'lab mode: no');
    t.notOk(mayReceive(lab, feed), "lab mode's # does not match a $-topic");
    t.notOk(mayPublish(lab, feed).allowed);
    t.notOk(maySubscribe(apiGrant(site), feed).allowed, 'the API: no');
    t.ok(
      maySubscribe(gatewayGrant(site, testProfiles), 'nuki/+/state').allowed,
      'without a feed: the devices',
    );
  },
);
