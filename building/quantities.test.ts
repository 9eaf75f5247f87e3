import t from 'tap';
import {
  aggregateRefusal,
  DOOR_STATES,
  fitsQuantity,
  isAboutSurroundings,
  isCounter,
  LOCK_STATES,
  lockOpenToPush,
  QUANTITIES,
  QUANTITY_NAMES,
  type QuantityDescription,
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

t.test('every state word has a name in both languages, and only its words fit', async (t) => {
  for (const quantity of QUANTITY_NAMES) {
    const description: QuantityDescription = QUANTITIES[quantity];
    if (description.class !== 'state') {
      t.equal(description.stateLabels, undefined, `${quantity}: no words`);
      continue;
    }
    t.same(
      Object.keys(description.stateLabels ?? {}).sort(),
      [...(description.states ?? [])].sort(),
      quantity,
    );
    for (const label of Object.values(description.stateLabels ?? {})) t.ok(label.de && label.en);
  }
  t.ok(fitsQuantity('door', 'open'));
  t.notOk(fitsQuantity('door', 'locked'), 'a lock word is no door word');
  t.notOk(fitsQuantity('door', 1));
  t.ok(fitsQuantity('temperature', 21.5));
  t.notOk(fitsQuantity('temperature', '21.5'));
  t.notOk(fitsQuantity('occupancy', Number.NaN));
});

t.test("a device's own condition is not its surroundings'", async (t) => {
  t.same(
    QUANTITY_NAMES.filter((q) => !isAboutSurroundings(q)),
    ['battery', 'battery_low', 'linkquality'],
  );
});
