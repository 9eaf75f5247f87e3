import t from 'tap';
import {
  attendanceOpen,
  checkAttendance,
  checkSignUp,
  movingUp,
  placeSignUp,
  signUpOpen,
} from './signup-rules.ts';

t.test('what a visitor may send', async (t) => {
  t.same(checkSignUp({ places: 2 }), { ok: true, places: 2, email: null });
  t.same(
    checkSignUp({ places: 1, email: '  ' }),
    { ok: true, places: 1, email: null },
    'empty: a count only',
  );
  t.same(checkSignUp({ places: 1, email: ' Ada.L@Example.ORG ' }), {
    ok: true,
    places: 1,
    email: 'Ada.L@example.org',
  });
  for (const places of [0, -1, 11, 1.5, Number.NaN]) t.equal(checkSignUp({ places }).ok, false, `${places}`);
  for (const email of [
    'ada',
    'ada@',
    '@x.org',
    'a b@x.org',
    'a@x',
    '<a@x.org>',
    'a@x\u0001.org',
    `${'a'.repeat(250)}@x.org`,
  ])
    t.equal(checkSignUp({ places: 1, email }).ok, false, JSON.stringify(email));
});

t.test('a place, the waiting list, or too many', async (t) => {
  t.equal(placeSignUp({ capacity: 5, confirmed: 3, waiting: [] }, 2), 'confirmed');
  t.equal(placeSignUp({ capacity: 5, confirmed: 4, waiting: [] }, 2), 'waiting');
  t.equal(
    placeSignUp({ capacity: 5, confirmed: 3, waiting: [{ id: 'w', places: 3 }] }, 1),
    'waiting',
    'no overtaking',
  );
  t.equal(placeSignUp({ capacity: 5, confirmed: 0, waiting: [] }, 6), 'too_many');
  t.equal(placeSignUp({ capacity: null, confirmed: 900, waiting: [] }, 10), 'confirmed');
});

t.test('who moves up: from the front while each fits', async (t) => {
  const waiting = [
    { id: 'a', places: 2 },
    { id: 'b', places: 3 },
    { id: 'c', places: 1 },
  ];
  t.same(movingUp({ capacity: 10, confirmed: 7, waiting }), ['a']);
  t.same(movingUp({ capacity: 10, confirmed: 5, waiting }), ['a', 'b']);
  t.same(movingUp({ capacity: 10, confirmed: 9, waiting }), [], 'c does not pass a, who does not fit');
  t.same(movingUp({ capacity: null, confirmed: 9, waiting }), ['a', 'b', 'c']);
});

t.test('when sign-ups and counts are taken', async (t) => {
  t.equal(signUpOpen({ start: 1000 }, 999), true);
  t.equal(signUpOpen({ start: 1000 }, 1000), false, 'closed once the date starts');
  t.equal(signUpOpen(undefined, 0), false, 'no such date');
  t.equal(attendanceOpen({ start: 1000 }, 999), false);
  t.equal(attendanceOpen({ start: 1000 }, 1000), true);
  t.equal(checkAttendance(0), null);
  t.equal(checkAttendance(42), null);
  t.type(checkAttendance(-1), 'string');
  t.type(checkAttendance(2.5), 'string');
  t.type(checkAttendance(10_001), 'string');
});
