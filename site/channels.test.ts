import t from 'tap';
import { channelSpace, deviceSpaces } from './channels.ts';
import { parseSite, SiteFileError } from './load.ts';

const site = (channels: string) => `
site: { id: haus, name: Haus }
floors: [{ id: eg, name: EG, level: 0, area_m2: 100 }]
spaces:
  - { id: technik, name: Technik, floor: eg, kind: technical, area_m2: 5 }
  - { id: protel-1, name: Protel 1, floor: eg, kind: protel, area_m2: 12 }
  - { id: protel-2, name: Protel 2, floor: eg, kind: protel, area_m2: 12 }
devices:
  - id: pro4pm-eg
    profile: shelly-gen2
    topic: shellypro4pm-f008d1d8b8b8
    space: technik
    meter_role: plug
    ${channels}
`;

t.test('a channel may feed a space of its own; unlisted channels are in the device space', async (t) => {
  const parsed = parseSite(
    site('channels: [{ channel: 0, space: protel-1 }, { channel: 1, space: protel-2 }]'),
  );
  const device = parsed.devices[0];
  if (!device) throw new Error('no device');
  t.equal(channelSpace(device, '0'), 'protel-1');
  t.equal(channelSpace(device, '1'), 'protel-2');
  t.equal(channelSpace(device, '3'), 'technik');
  t.same(deviceSpaces(device), ['technik', 'protel-1', 'protel-2']);
  const whole = parseSite(site('')).devices[0];
  if (!whole) throw new Error('no device');
  t.equal(channelSpace(whole, '2'), 'technik', 'a device without channels is in its space');
});

t.test('channels the site file gets wrong are clear errors', async (t) => {
  t.throws(() => parseSite(site('channels: [{ channel: 0, space: keller }]')), {
    name: SiteFileError.name,
    message: /channel 0 is in unknown space "keller"/,
  });
  t.throws(
    () => parseSite(site('channels: [{ channel: 1, space: protel-1 }, { channel: 1, space: protel-2 }]')),
    /lists channel 1 twice/,
  );
  t.throws(() => parseSite(site('channels: [{ channel: -1, space: protel-1 }]')), SiteFileError);
  t.throws(() => parseSite(site("channels: [{ channel: 'a', space: protel-1 }]")), SiteFileError);
});
