import net from 'node:net';
import { Writable } from 'node:stream';
import { MqttClient } from 'mqtt';
import pino from 'pino';
import t, { type Test } from 'tap';
import { MQTT_SIGN_IN_THROTTLE } from '../access/guess-throttle.ts';
import { readAudit, startTestBroker, tempDir, testSecrets } from '../test-support/broker.ts';
import { MAX_KEYS_PER_SCOPE, MqttSignInThrottle, type ThrottleChange } from './sign-in-throttle.ts';

const S = 1000;
const MIN = 60 * S;
const DESK1 = { username: 'desk-1-occupancy', password: testSecrets.devices['desk-1-occupancy'] as string };
const LOCK = { username: 'lock-101', password: testSecrets.devices['lock-101'] as string };

t.test('held and free are each reported once; refusals in between are only counted', async (t) => {
  const changes: ThrottleChange[] = [];
  const throttle = new MqttSignInThrottle({ onChange: (c) => changes.push(c) });
  const T0 = Date.UTC(2026, 10, 2, 9);
  const answers: string[] = [];
  for (let i = 0; i < 50; i++)
    answers.push('until' in throttle.attempt('desk', '10.0.0.5', T0) ? 'held' : 'checked');
  t.equal(
    answers.filter((a) => a === 'checked').length,
    6,
    'five free failures and the one that sets the wait',
  );
  t.equal(throttle.refused, 44);
  t.same(
    changes.map((c) => [c.state, c.scope, c.username, c.address]),
    [['held', 'pair', 'desk', '10.0.0.5']],
    'one report for 44 refusals',
  );

  // Drained after the longest wait: reported free, with how many were refused.
  throttle.sweep(T0 + 30 * MIN);
  t.same(changes.at(-1), {
    state: 'free',
    scope: 'pair',
    username: 'desk',
    address: '10.0.0.5',
    failures: 6,
    refused: 44,
  });
  t.same(throttle.size(), { pair: 0, address: 0, name: 0 }, 'drained counts are forgotten');
  t.equal(changes.length, 2);
});

t.test('a flood of made-up names from many addresses stays within its bounds', async (t) => {
  const throttle = new MqttSignInThrottle();
  const T0 = Date.UTC(2026, 10, 2, 9);
  for (let i = 0; i < MAX_KEYS_PER_SCOPE + 500; i++)
    throttle.attempt(`made-up-${i}`, `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, T0);
  const size = throttle.size();
  t.ok(
    size.pair <= MAX_KEYS_PER_SCOPE && size.name <= MAX_KEYS_PER_SCOPE && size.address <= MAX_KEYS_PER_SCOPE,
  );
});

/** An MQTT.js client connecting from a chosen loopback address; resolves connected, or with the CONNACK code. */
function connectFrom(
  t: Test,
  port: number,
  from: string,
  login: { username?: string; password?: string },
): Promise<{ client: MqttClient } | { code: number }> {
  const client = new MqttClient(() => net.createConnection({ host: '127.0.0.1', port, localAddress: from }), {
    reconnectPeriod: 0,
    connectTimeout: 30_000,
    protocolVersion: 4,
    clean: true,
    ...login,
  });
  return new Promise((resolve) => {
    client.once('connect', () => {
      t.teardown(() => client.endAsync(true));
      resolve({ client });
    });
    client.once('error', (err) => {
      client.end(true);
      resolve({ code: (err as { code?: number }).code ?? -1 });
    });
  });
}

function codeOf(answer: { client: MqttClient } | { code: number }): number {
  return 'code' in answer ? answer.code : 0;
}

async function throttledBroker(t: Test) {
  const clock = { now: Date.now() };
  const lines: Record<string, unknown>[] = [];
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(chunk, _encoding, done) {
        for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
        done();
      },
    }),
  );
  const dataDir = tempDir(t);
  const broker = await startTestBroker(t, { dataDir, logger, now: () => clock.now });
  return { broker, clock, lines, dataDir };
}

t.test('2,000 bad passwords from one address: six are checked, the rest refused unchecked', async (t) => {
  const { broker, clock, lines, dataDir } = await throttledBroker(t);
  const attacker = '127.0.0.66';

  // A device already connected, and one connecting from its own address during the flood.
  const before = await connectFrom(t, broker.port, '127.0.0.10', LOCK);
  if (!('client' in before)) throw new Error(`lock refused: ${before.code}`);
  let lockClosed = false;
  before.client.on('close', () => {
    lockClosed = true;
  });

  const flood: Promise<number>[] = [];
  for (let i = 0; i < 2000; i++)
    flood.push(connectFrom(t, broker.port, attacker, { ...DESK1, password: `guess-${i}` }).then(codeOf));
  const during = connectFrom(t, broker.port, '127.0.0.11', DESK1);
  const codes = await Promise.all(flood);
  t.equal(codes.filter((c) => c === 4).length, 6, 'six answered "bad user name or password" after a check');
  t.equal(codes.filter((c) => c === 3).length, 1994, 'the rest "server unavailable", unchecked');
  t.equal(codeOf(await during), 0, 'the device from its own address signs in during the flood');
  t.notOk(lockClosed, 'the device connected before is not disturbed');
  t.equal(broker.stats().connectsThrottled, 1994, 'refusals are counted');

  const right = await connectFrom(t, broker.port, attacker, DESK1);
  t.equal(codeOf(right), 3, 'from the attacking address even the right password waits');

  const held = lines.filter((l) => l.msg === 'MQTT sign-in: held back after failed attempts');
  t.same(
    held.map((l) => [l.scope, l.who, l.ip]),
    [['pair', DESK1.username, attacker]],
    'logged once, not 1,994 times',
  );
  t.equal(lines.filter((l) => l.msg === 'MQTT connect refused').length, 6, 'each checked failure is logged');

  // After the wait, the next attempt is checked again; once drained, the pair is free and says so once.
  clock.now += MQTT_SIGN_IN_THROTTLE.pair.firstWaitMs;
  t.equal(
    codeOf(await connectFrom(t, broker.port, attacker, { ...DESK1, password: 'late' })),
    4,
    'checked again',
  );
  t.equal(
    codeOf(await connectFrom(t, broker.port, attacker, { ...DESK1, password: 'again' })),
    3,
    'a longer wait',
  );
  clock.now += 30 * MIN;
  t.equal(
    codeOf(await connectFrom(t, broker.port, attacker, DESK1)),
    0,
    'drained: the right password gets in',
  );
  const free = lines.filter((l) => l.msg === 'MQTT sign-in: no longer held back');
  t.same(
    free.map((l) => [l.scope, l.who, l.ip, l.refused]),
    [['pair', DESK1.username, attacker, 1996]],
    'free again, reported once with the refusals',
  );

  await broker.close();
  const audit = readAudit(dataDir).filter((e) => e.what === 'sign-in-throttle');
  t.same(
    audit.map((e) => [e.decision, e.scope, e.who, e.ip]),
    [
      ['deny', 'pair', DESK1.username, attacker],
      ['allow', 'pair', DESK1.username, attacker],
    ],
    'the audit trail has each change of state',
  );
});

t.test('guessing one account from many addresses, and many accounts from one', async (t) => {
  const { broker } = await throttledBroker(t);
  t.equal(
    codeOf(await connectFrom(t, broker.port, '127.0.0.30', LOCK)),
    0,
    'the lock signs in from its address',
  );

  // Eleven addresses, one guess each: each pair within its free failures, the account beyond its ten.
  for (let i = 0; i < 11; i++)
    t.equal(codeOf(await connectFrom(t, broker.port, `127.0.1.${i + 1}`, { ...LOCK, password: 'guess' })), 4);
  t.equal(
    codeOf(await connectFrom(t, broker.port, '127.0.1.99', LOCK)),
    3,
    'a new address for the lock account waits, right password or not',
  );
  t.equal(
    codeOf(await connectFrom(t, broker.port, '127.0.0.30', LOCK)),
    0,
    'the lock at its own address does not',
  );

  // One address, eleven made-up names: the address goes beyond its ten.
  for (let i = 0; i < 11; i++)
    t.equal(
      codeOf(await connectFrom(t, broker.port, '127.0.2.1', { username: `nobody-${i}`, password: 'x' })),
      4,
    );
  t.equal(
    codeOf(await connectFrom(t, broker.port, '127.0.2.1', DESK1)),
    3,
    'a device never signed in from that address waits there',
  );
  t.equal(codeOf(await connectFrom(t, broker.port, '127.0.2.2', DESK1)), 0, 'and gets in from its own');
  t.ok(broker.stats().connectsThrottled >= 2);
});
