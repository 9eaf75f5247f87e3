import t from 'tap';
import {
  clientNetwork,
  countFailure,
  type FailureCount,
  forgiveFailure,
  type GuessCounts,
  guessWait,
  levelAt,
  levelCap,
  MEMBER_SIGN_IN_THROTTLE,
  MQTT_SIGN_IN_THROTTLE,
  type ThrottleScope,
  type ThrottleStep,
  waitFor,
  waitUntil,
} from './guess-throttle.ts';

const S = 1000;
const MIN = 60 * S;
const HOUR = 60 * MIN;
const T0 = Date.UTC(2026, 10, 2, 9, 0, 0);
const rule = MEMBER_SIGN_IN_THROTTLE;

function failures(times: number[], step: ThrottleStep, start?: FailureCount): FailureCount | undefined {
  let count = start;
  for (const at of times) count = countFailure(count, at, step);
  return count;
}

t.test('a name from one address: three free failures, then waits doubling from 5 s to 15 min', async (t) => {
  const step = rule.pair;
  let count: FailureCount | undefined;
  for (let i = 0; i < 3; i++) {
    count = countFailure(count, T0, step);
    t.equal(waitUntil(count, T0, step), null, `failure ${i + 1} costs no wait`);
  }
  const waits: number[] = [];
  let now = T0;
  for (let i = 0; i < 12; i++) {
    count = countFailure(count, now, step);
    const until = waitUntil(count, now, step) as number;
    waits.push(until - now);
    t.equal(waitUntil(count, until - 1, step), until, 'held back until the wait ends');
    t.equal(waitUntil(count, until, step), null, 'free to try once it has');
    now = until;
  }
  t.same(
    waits.map((w) => Math.round(w / S)),
    [5, 10, 20, 40, 80, 160, 320, 640, 900, 900, 900, 900],
    'the waits between attempts made as soon as allowed',
  );
  t.ok((count as FailureCount).level <= levelCap(step), 'the count stops climbing once the wait is longest');
});

t.test('typing errors are forgotten at the leak rate', async (t) => {
  const step = rule.pair;
  const four = failures([T0, T0 + S, T0 + 2 * S, T0 + 3 * S], step);
  t.ok(waitUntil(four, T0 + 3 * S, step), 'four quick failures: a wait');
  t.equal(Math.round(levelAt(four, T0 + 3 * S + 2 * HOUR, step)), 2, 'two hours later two are left');
  const later = countFailure(four, T0 + 3 * S + 2 * HOUR, step);
  t.equal(waitUntil(later, T0 + 3 * S + 2 * HOUR, step), null, 'so one more mistake costs nothing');
  t.equal(levelAt(four, T0 + 5 * HOUR, step), 0, 'after four hours nothing is left');
  t.equal(levelAt(undefined, T0, step), 0);
  t.equal(
    waitUntil(failures([T0 + HOUR], step), T0, step),
    null,
    'a free failure later on the clock holds nothing',
  );
});

/** Attempts made as soon as the rule lets them be checked, all failing, for `duration`; returns how many were checked. */
function guessesIn(duration: number, keys: (i: number) => GuessCounts, scopes: ThrottleScope[]): number {
  const counts = new Map<string, FailureCount | undefined>();
  let now = T0;
  let checked = 0;
  for (let i = 0; now < T0 + duration; i++) {
    const k = keys(i);
    const current: GuessCounts = {};
    for (const scope of scopes) current[scope] = counts.get(`${scope}:${JSON.stringify(k[scope])}`);
    const wait = guessWait(current, now, rule);
    if (wait) {
      now = wait.until;
      continue;
    }
    checked++;
    for (const scope of scopes) {
      const key = `${scope}:${JSON.stringify(k[scope])}`;
      counts.set(key, countFailure(counts.get(key), now, rule[scope]));
    }
    now += 10; // a fast attacker
  }
  return checked;
}

t.test('over a day a guesser gets one guess per longest wait or per leak, whichever is rarer', async (t) => {
  const DAY = 24 * HOUR;
  const pair = { pair: undefined, address: undefined, name: undefined };
  const oneAccountOneAddress = guessesIn(DAY, () => pair, ['pair', 'address', 'name']);
  t.ok(
    oneAccountOneAddress <= 3 + 10 + DAY / (15 * MIN),
    `one account from one address: ${oneAccountOneAddress} guesses, at most one per 15 min after the first few`,
  );
  t.ok(oneAccountOneAddress >= DAY / (15 * MIN), 'never locked for good');

  // Every guess at another account from one address: the pair never waits, the address does.
  const sprayed = guessesIn(
    DAY,
    (i) => ({ pair: { level: i, lastFailureAt: 0 }, name: { level: i, lastFailureAt: 0 } }),
    ['pair', 'address', 'name'],
  );
  t.ok(
    sprayed <= 20 + DAY / (5 * MIN) + 10,
    `many accounts from one address: ${sprayed} guesses, ~one per 5 min`,
  );
});

t.test('an attacker elsewhere cannot keep the owner out of their own address', async (t) => {
  // 200 failures at the owner's account from the attacker's address, one a second.
  let attackerPair: FailureCount | undefined;
  let attackerAddress: FailureCount | undefined;
  let name: FailureCount | undefined;
  for (let i = 0; i < 200; i++) {
    const at = T0 + i * S;
    attackerPair = countFailure(attackerPair, at, rule.pair);
    attackerAddress = countFailure(attackerAddress, at, rule.address);
    name = countFailure(name, at, rule.name);
  }
  const now = T0 + 200 * S;
  t.match(
    guessWait({ pair: attackerPair, address: attackerAddress, name }, now, rule),
    { scope: 'pair', until: Number },
    'the attacker waits',
  );
  t.ok(
    (guessWait({ pair: attackerPair, address: attackerAddress, name }, now, rule)?.until ?? 0) - now >
      5 * MIN,
    'for minutes',
  );
  const ownerHome: GuessCounts = { name, provenAt: T0 - 3 * 24 * HOUR };
  t.equal(
    guessWait(ownerHome, now, rule),
    null,
    'the owner at an address they signed in from is checked at once',
  );
  t.match(
    guessWait({ name }, now, rule),
    { scope: 'name' },
    'a new address for the account waits: the account is under attack',
  );
  t.match(
    guessWait({ name, provenAt: T0 - 31 * 24 * HOUR }, now, rule),
    { scope: 'name' },
    'a proof older than 30 days no longer exempts',
  );
  t.match(
    guessWait({ name, provenAt: now + HOUR }, now, rule),
    { scope: 'name' },
    'a proof from the future does not count',
  );

  // The owner's own typing errors at home still count: the pair is always judged.
  const ownMistakes = failures([now, now, now, now], rule.pair);
  t.match(guessWait({ pair: ownMistakes, name, provenAt: T0 - HOUR }, now, rule), {
    scope: 'pair',
    until: now + 5 * S,
  });
});

t.test(
  'one shared address: a guesser there slows down only the names it guesses and unproven ones',
  async (t) => {
    let address: FailureCount | undefined;
    for (let i = 0; i < 40; i++) address = countFailure(address, T0 + i * S, rule.address);
    const now = T0 + 40 * S;
    t.match(guessWait({ address }, now, rule), { scope: 'address' }, 'a first sign-in from there waits');
    t.equal(
      guessWait({ address, provenAt: T0 - HOUR }, now, rule),
      null,
      'a member who signed in there before does not',
    );
  },
);

t.test('the latest wait of the scopes that apply wins; a right password takes its count back', async (t) => {
  const short = failures([T0, T0, T0, T0], rule.pair); // 5 s
  const long = failures(
    Array.from({ length: 14 }, () => T0),
    rule.name,
  ); // 10 free, then 5 s ... 40 s
  t.same(guessWait({ pair: short, name: long }, T0, rule), { scope: 'name', until: T0 + 40 * S });
  t.same(guessWait({ pair: short, name: long }, T0 + 40 * S, rule), null);
  t.equal(waitFor(rule.name.free, rule.name), 0);

  const forgiven = forgiveFailure(long, T0, rule.name);
  t.equal(forgiven?.level, 13);
  t.same(guessWait({ name: forgiven }, T0, rule), { scope: 'name', until: T0 + 20 * S }, 'one step shorter');
  t.equal(
    forgiveFailure(failures([T0], rule.pair), T0, rule.pair),
    undefined,
    'the only failure: nothing left',
  );
  t.equal(forgiveFailure(undefined, T0, rule.pair), undefined);
});

t.test('MQTT: short waits for machines that retry by themselves', async (t) => {
  const step = MQTT_SIGN_IN_THROTTLE.address;
  const flood = failures(
    Array.from({ length: 2000 }, (_, i) => T0 + Math.floor(i * 0.7)),
    step,
  );
  const at = T0 + 1400;
  t.ok(waitUntil(flood, at, step), '2,000 guesses in 1.4 s: the address waits');
  t.ok((waitUntil(flood, at, step) as number) - at <= step.maxWaitMs);
  t.equal(waitUntil(flood, at + step.maxWaitMs, step), null, 'at most the longest wait');
});

t.test('client addresses: IPv4 as is, IPv6 by its /64', async (t) => {
  t.equal(clientNetwork('203.0.113.7'), '203.0.113.7');
  t.equal(clientNetwork('::ffff:203.0.113.7'), '203.0.113.7', 'IPv4-mapped on a dual-stack socket');
  t.equal(clientNetwork('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
  t.equal(
    clientNetwork('2001:0db8:0001:0002:ffff:ffff:ffff:ffff'),
    '2001:db8:1:2::/64',
    'one /64, one count',
  );
  t.not(clientNetwork('2001:db8:1:3::1'), clientNetwork('2001:db8:1:2::1'), 'the next /64 is another');
  t.equal(clientNetwork('2001:db8::1'), '2001:db8:0:0::/64', 'folded groups');
  t.equal(clientNetwork('::1'), '0:0:0:0::/64');
  t.equal(clientNetwork('fe80::1%eth0'), 'fe80:0:0:0::/64', 'zone id dropped');
  t.equal(clientNetwork('2001:db8:1:2::'), '2001:db8:1:2::/64', 'trailing ::');
  t.equal(clientNetwork('::2001:db8:1:2:3:4'), '0:0:2001:db8::/64', 'leading ::');
  t.equal(clientNetwork('64:ff9b::192.0.2.1'), '64:ff9b:0:0::/64', 'an embedded IPv4 takes two groups');
  t.equal(clientNetwork('unknown'), 'unknown');
  t.equal(clientNetwork('1.2.3'), '1.2.3', 'not an address: counted as given');
});
