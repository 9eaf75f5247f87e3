import t from 'tap';
import type { DeviceMessage } from '../../simulations/virtual-device.ts';
import { decodeAll, demoBuilding, MONDAY } from '../../test-support/demo-devices.ts';
import profile from './profile.ts';
import simulator from './simulator.ts';

const { building, device } = demoBuilding('vd-test');
const DOOR = 'eg-diskursraum-door';

const doorOf = (messages: DeviceMessage[]) =>
  decodeAll(profile, messages, MONDAY).find((r) => r.quantity === 'door')?.value;

function sensorAt() {
  return simulator.create(device(DOOR), { building, simStart: MONDAY, options: {} });
}

t.test('the door opens when someone comes or goes, and is closed at the next look', async (t) => {
  const sensor = sensorAt();
  const night = MONDAY + 2 * 3_600_000;
  const born = sensor.birth(night);
  t.same(
    born.map((m) => m.topic),
    ['zigbee2mqtt/eg-diskursraum-door/availability', 'zigbee2mqtt/eg-diskursraum-door'],
  );
  t.equal(doorOf(born), 'closed', 'closed at night');
  t.same(sensor.report(night + 60_000), [], 'nothing happens: nothing to say');
  // Forty people arrive for an evening event.
  building.stage('eg-diskursraum', { people: 40 });
  t.teardown(() => building.stage('eg-diskursraum', { people: null }));
  t.equal(doorOf(sensor.report(night + 90_000)), 'open');
  t.equal(doorOf(sensor.report(night + 150_000)), 'closed', 'a minute later');
  t.same(sensor.report(night + 40 * 60_000), []);
  t.equal(
    doorOf(sensor.report(night + 53 * 60_000)),
    'closed',
    'its heartbeat, 50 minutes after it last spoke',
  );
});

t.test('what it sends is what the family decodes: the door, battery and radio', async (t) => {
  const readings = decodeAll(profile, sensorAt().birth(MONDAY), MONDAY);
  t.same(
    readings.map((r) => r.quantity),
    ['door', 'battery', 'linkquality'],
  );
  t.equal(sensorAt().firmwareIntervalS, 60);
});
