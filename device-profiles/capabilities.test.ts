import t from 'tap';
import { booleanState } from './capabilities.ts';

t.test('a true/false in the building words of a state quantity', async (t) => {
  const contact = booleanState('door', { true: 'closed', false: 'open' }, 'contact');
  t.same(
    [contact.quantity, contact.unit, contact.kind, contact.paths],
    ['door', 'state', 'boolean', [['contact']]],
  );
  t.equal(contact.normalise(true, 'x'), 'closed');
  t.equal(contact.normalise(false, 'x'), 'open');
  t.throws(() => contact.normalise('true', 'x: contact'), {
    name: 'DecodeError',
    message: 'x: contact: expected true/false, got the string "true"',
  });
  t.throws(
    () => booleanState('door', { true: 'shut', false: 'open' }),
    /"shut" is not a word of door/,
    'a word the building does not know is refused when the family is defined',
  );
  t.throws(() => booleanState('temperature', { true: 'hot', false: 'cold' }), /not a word of temperature/);
});
