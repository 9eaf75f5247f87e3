import t from 'tap';
import {
  aggregateRefusal,
  DOOR_STATES,
  isCounter,
  LOCK_STATES,
  lockOpenToPush,
  QUANTITIES,
  QUANTITY_NAMES,
  reportsCounter,
} from './quantities.ts';

t.test('energy is the counter; measurements and states are not', async (t) => {
  t.same(
    QUANTITY_NAMES.filter(isCounter),
    ['energy'],
    'only a counter has its period use summed from increases',
  );
  t.ok(reportsCounter(['power', 'energy', 'voltage']), 'a plug that meters energy is a meter');
  t.notOk(reportsCounter(['power', 'temperature']), 'power alone is no counter');
});

t.test('each quantity gets the aggregate its meaning allows', async (t) => {
  for (const quantity of QUANTITY_NAMES)
    t.equal(aggregateRefusal(quantity, QUANTITIES[quantity].aggregate), undefined, `${quantity} default`);
  t.match(aggregateRefusal('co2', 'consumption'), /cumulative counter/);
  t.match(aggregateRefusal('lock', 'mean'), /lock is a state, not a number/);
  t.equal(aggregateRefusal('door', 'count'), undefined);
  t.equal(aggregateRefusal('energy', 'max'), undefined, 'a counter may still be read as values');
});

t.test('state words', async (t) => {
  t.ok(lockOpenToPush('unlatched'));
  t.ok(lockOpenToPush('unlocked_lock_n_go'));
  t.notOk(lockOpenToPush('locked'));
  t.notOk(lockOpenToPush('motor_blocked'), 'a blocked motor is not known to be open');
  t.notOk(lockOpenToPush('open'), 'a door word is no lock word');
  t.ok(DOOR_STATES.includes('open') && DOOR_STATES.includes('closed'));
  t.equal(new Set(LOCK_STATES).size, LOCK_STATES.length);
});
