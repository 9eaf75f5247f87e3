import t from 'tap';
import type { SiteConfig } from '../site/site.ts';
import { airRooms, meanByHour, presentHours, roomAir } from './air-quality.ts';

const H = 3_600_000;
const H0 = Date.UTC(2026, 9, 5, 6); // Monday 5 Oct 2026, 08:00 CEST

t.test('rooms with a CO2 sensor, and the presence sensors in them and in their desks', async (t) => {
  const site: SiteConfig = {
    site: { id: 's', name: 'S', timezone: 'Europe/Berlin' },
    floors: [{ id: 'og1', name: 'OG1', level: 1, area_m2: 100 }],
    spaces: [
      { id: 'room', name: 'Raum', floor: 'og1', kind: 'meeting_room', area_m2: 20 },
      { id: 'area', name: 'Coworking', floor: 'og1', kind: 'desk_area', area_m2: 50 },
      { id: 'd1', name: 'Platz 1', floor: 'og1', kind: 'desk', area_m2: 6, parent: 'area' },
      { id: 'd2', name: 'Platz 2', floor: 'og1', kind: 'desk', area_m2: 6, parent: 'area' },
      { id: 'hall', name: 'Flur', floor: 'og1', kind: 'circulation', area_m2: 20 },
    ],
    devices: [
      { id: 'room-co2', profile: 'air', topic: 'a', space: 'room' },
      { id: 'room-presence', profile: 'presence', topic: 'b', space: 'room' },
      { id: 'area-co2', profile: 'air', topic: 'c', space: 'area' },
      { id: 'd1-presence', profile: 'presence', topic: 'd', space: 'd1' },
      { id: 'd2-presence', profile: 'presence', topic: 'e', space: 'd2' },
      { id: 'hall-presence', profile: 'presence', topic: 'f', space: 'hall' },
      { id: 'meter', profile: 'meter', topic: 'g', space: 'hall' },
    ],
  };
  const quantities: Record<string, string[]> = {
    air: ['co2', 'temperature'],
    presence: ['occupancy'],
    meter: ['energy'],
  };
  t.same(
    airRooms(site, (p) => quantities[p] ?? []),
    [
      { spaceId: 'room', name: 'Raum', co2Devices: ['room-co2'], occupancyDevices: ['room-presence'] },
      {
        spaceId: 'area',
        name: 'Coworking',
        co2Devices: ['area-co2'],
        occupancyDevices: ['d1-presence', 'd2-presence'],
      },
    ],
    'the corridor has no CO2 sensor and is no air room',
  );
});

t.test('present hours: hours with a 1, and silent hours after one that surely ended occupied', async (t) => {
  const hours = [
    { ts: H0, mean: 1 }, // 08: every report said occupied
    // 09, 10: no report: carried (at most 2 hours)
    // 11: no report: beyond the carry
    { ts: H0 + 4 * H, mean: 0 }, // 12: empty
    { ts: H0 + 5 * H, mean: 0.5 }, // 13: someone came (or left): present, but not carried into 14
  ];
  const range = { from: H0, to: H0 + 8 * H };
  t.same(presentHours(hours, null, range), [H0, H0 + H, H0 + 2 * H, H0 + 5 * H]);
  t.same(presentHours(hours, null, range, 0), [H0, H0 + 5 * H], 'without carrying: only hours with a 1');
  t.same(
    presentHours(hours, null, { from: H0 + H, to: H0 + 8 * H }),
    [H0 + H, H0 + 2 * H, H0 + 5 * H],
    'hours before the range are not counted, but still carry into it',
  );
});

t.test('the state before the range carries into its first silent hours', async (t) => {
  // Last report before the range at 07:40: occupied. The first report in the range is at 09:xx (empty).
  const before = { ts: H0 - 20 * 60_000, value: 1 };
  const range = { from: H0, to: H0 + 3 * H };
  t.same(presentHours([{ ts: H0 + H, mean: 0 }], before, range), [H0]);
  t.same(presentHours([], { ts: H0 - 20 * 60_000, value: 0 }, range), [], 'empty before: nothing carried');
  // Nothing else reported: the 07:xx hour's state carries 2 hours, into 08 and 09, not 10.
  t.same(presentHours([], before, range), [H0, H0 + H]);
});

t.test('air of a room: occupied hours with CO2 below 1000 ppm', async (t) => {
  const present = [H0, H0 + H, H0 + 2 * H, H0 + 5 * H, H0 + 6 * H, H0];
  const co2 = new Map([
    [H0, 800],
    [H0 + H, 1000], // exactly 1000 is not below 1000
    [H0 + 2 * H, 1200],
    [H0 + 5 * H, 900],
    // H0 + 6 h: occupied, but the sensor was silent: left out
    [H0 + 7 * H, 500], // nobody there: not counted
  ]);
  // Occupied with CO2: 08, 09, 10, 13 = 4 (08 listed twice counts once); good: 800, 900 = 2;
  // mean (800 + 1000 + 1200 + 900) / 4 = 975.
  t.same(roomAir(present, co2), { occupiedHours: 4, goodHours: 2, meanCo2Ppm: 975 });
  t.same(roomAir([], co2), { occupiedHours: 0, goodHours: 0, meanCo2Ppm: null });
});

t.test('several CO2 sensors of a room: the mean of their hourly means, per hour', async (t) => {
  const one = [
    { ts: H0, value: 800 },
    { ts: H0 + H, value: 1200 },
  ];
  const two = [{ ts: H0, value: 1000 }];
  t.same(
    [...meanByHour([one, two])],
    [
      [H0, 900],
      [H0 + H, 1200],
    ],
  );
  t.same([...meanByHour([])], [], 'no sensors, no hours');
});
