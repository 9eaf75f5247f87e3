import t from 'tap';
import type { CommandIo, DeviceMessage } from '../../simulations/virtual-device.ts';
import { decodeAll, demoBuilding, MONDAY } from '../../test-support/demo-devices.ts';
import profile from './profile.ts';
import simulator, { NUKI_ERROR_BAD_PARAMETER, NUKI_STATE } from './simulator.ts';

const { building, device } = demoBuilding('vd-test');

/**
 * The lock's surroundings without the MQTT part (simulations/simulator.test.ts has that): what it
 * publishes, and a clock the test moves on, so the motor and the re-lock take no real time.
 */
function surroundings() {
  const published: DeviceMessage[] = [];
  let now = 0;
  const due: { at: number; action: () => void }[] = [];
  const io: CommandIo = {
    publish: (messages) => published.push(...messages),
    after: (realMs, action) => due.push({ at: now + realMs, action }),
    simNow: () => MONDAY + now,
  };
  const advance = (ms: number) => {
    const until = now + ms;
    for (;;) {
      due.sort((a, b) => a.at - b.at);
      const next = due[0];
      if (!next || next.at > until) break;
      due.shift();
      now = next.at;
      next.action();
    }
    now = until;
  };
  const take = () => published.splice(0).map((m) => `${m.topic.split('/').at(-1)} ${m.payload}`);
  return { io, advance, take };
}

t.test('a virtual Nuki says what its firmware says, decoded by the profile', async (t) => {
  const config = device('og2-protel-01-lock');
  const lock = simulator.create(config, { building, simStart: MONDAY, options: {} });
  t.same(lock.will, { topic: `${config.topic}/connected`, payload: 'false', qos: 1, retain: true });
  t.same(lock.commandTopics, [`${config.topic}/lockAction`]);
  const born = lock.birth(MONDAY);
  t.ok(
    born.every((m) => m.retain && m.qos === 1),
    'everything it says about itself is retained',
  );
  const readings = decodeAll(profile, born, MONDAY);
  t.same(
    readings.map((r) => [r.quantity, r.value]).filter(([q]) => q !== 'battery'),
    [
      ['lock', 'locked'],
      ['door', 'closed'],
      ['battery_low', 0],
    ],
  );
  t.equal(lock.lock?.state, NUKI_STATE.locked, 'a lock, for the simulator');
});

t.test('lockAction: unlock, the door swings, the lock locks itself again', async (t) => {
  const config = device('og2-protel-01-lock');
  const lock = simulator.create(config, {
    building,
    simStart: MONDAY,
    options: { lock: { motorMs: 100, relockAfterMs: 5000 } },
  });
  const { io, advance, take } = surroundings();
  lock.command?.(`${config.topic}/lockAction`, '9', io);
  t.same(take(), [`commandResponse ${NUKI_ERROR_BAD_PARAMETER}`], 'an unknown action is refused');

  lock.command?.(`${config.topic}/lockAction`, '1', io);
  t.same(
    take(),
    ['commandResponse 0', 'lockActionEvent 1,172,0,0,0', 'state 2'],
    'answered, announced, turning',
  );
  advance(100);
  t.same(take(), ['state 3'], 'unlocked after the motor turned');
  advance(100 + 400);
  t.same(take(), ['doorsensorState 3', 'doorsensorState 2'], 'someone walks through');
  advance(5000);
  t.same(take(), ['state 4', 'state 1'], 'locked again');
  t.equal(lock.lock?.commandsReceived, 2);

  if (!lock.lock) throw new Error('a Nuki is a lock');
  lock.lock.mode = 'unresponsive';
  lock.command?.(`${config.topic}/lockAction`, '1', io);
  advance(10_000);
  t.same(take(), [], 'an unresponsive lock ignores commands');
});
