import t from 'tap';
import { loadProfiles } from '../device-profiles/registry.ts';
import { DEMO_SITE_FILE } from '../simulations/demo-site.ts';
import { loadSite } from '../site/load.ts';
import {
  apiGrant,
  deviceCommandFilters,
  deviceGrant,
  gatewayGrant,
  mayPublish,
  maySubscribe,
  unknownProfiles,
} from './acl.ts';

/**
 * The ACL against the real device families and the demo building: every command a profile encodes can be
 * sent by the gateway and by nobody else, and every device can subscribe to its own command topics.
 */
t.test('real profiles on the demo building', async (t) => {
  const site = loadSite(DEMO_SITE_FILE);
  const profiles = await loadProfiles();
  t.same(unknownProfiles(site, profiles), [], 'every device of the demo building has a profile');
  const commands = deviceCommandFilters(site, profiles);
  const gateway = gatewayGrant(site, profiles, commands);
  const api = apiGrant(site);
  const grants = new Map(site.devices.map((d) => [d.id, deviceGrant(site, profiles, d.id, commands)]));
  let encoded = 0;
  for (const device of site.devices) {
    const profile = profiles.get(device.profile);
    if (!profile) continue;
    const own = profile.acl(device.topic);
    const grant = deviceGrant(site, profiles, device.id, commands);
    for (const filter of own.subscribe) {
      if (!maySubscribe(grant, filter).allowed)
        t.fail(`${device.id} cannot subscribe to its own command topic ${filter}`);
    }
    for (const filter of profile.subscriptions) {
      if (!maySubscribe(gateway, filter).allowed) t.fail(`the gateway cannot subscribe ${filter}`);
    }
    for (const action of profile.actions ?? []) {
      // An action with a value is encoded with its smallest (the range is the family's, not the ACL's business).
      const value = profile.actionValues?.[action]?.min;
      const details = value === undefined ? {} : { value };
      for (const message of profile.encodeCommand?.(device.topic, action, '0', details) ?? []) {
        encoded++;
        if (!mayPublish(gateway, message.topic).allowed)
          t.fail(`the gateway cannot send ${action} to ${device.id} on ${message.topic}`);
        if (mayPublish(api, message.topic).allowed)
          t.fail(`the API can send ${action} to ${device.id} directly`);
        for (const [other, grant] of grants) {
          if (mayPublish(grant, message.topic).allowed)
            t.fail(`device ${other} can send ${action} to ${device.id}`);
        }
      }
    }
  }
  t.ok(encoded > 0, `${encoded} encoded command messages checked`);
});
