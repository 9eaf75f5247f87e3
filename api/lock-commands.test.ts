import t from 'tap';
import type { CommandMessage } from '../building/topics.ts';
import {
  eventually,
  smallBuilding,
  startBroker,
  startGatewayClient,
} from '../test-support/small-building.ts';
import { LockCommands, parseCommandResult } from './lock-commands.ts';

/**
 * The command channel on its own, against a real aedes broker, with a real MQTT.js client in the gateway's
 * place (the whole path through the real gateway and a simulated Nuki lock is in unlock-routes.test.ts).
 */

const site = smallBuilding();
const base = `wesprint/${site.site.id}/commands`;

t.test('parseCommandResult accepts what the gateway sends and nothing else', async (t) => {
  const ok = { id: 'abc12345', outcome: 'done', detail: 'state 3', ts: 1_700_000_000_000 };
  t.same(parseCommandResult(Buffer.from(JSON.stringify(ok))), ok);
  t.type(parseCommandResult(Buffer.from('nope')), 'string');
  t.type(parseCommandResult(Buffer.from('[]')), 'string');
  t.type(parseCommandResult(Buffer.from(JSON.stringify({ ...ok, outcome: 'opened' }))), 'string');
  t.type(parseCommandResult(Buffer.from(JSON.stringify({ ...ok, ts: 'now' }))), 'string');
  t.type(parseCommandResult(Buffer.alloc(5000, 0x20)), 'string');
});

t.test('a command gets a fresh id and short life; its answer is matched by id and device', async (t) => {
  const { url } = await startBroker(t);
  const gateway = await startGatewayClient(t, url);
  const received: { topic: string; command: CommandMessage }[] = [];
  let answer: (topic: string, command: CommandMessage) => object[] = () => [];
  gateway.on('message', (topic, payload) => {
    if (topic.endsWith('/result')) return;
    const command = JSON.parse(String(payload)) as CommandMessage;
    received.push({ topic, command });
    for (const reply of answer(topic, command)) {
      const [to, body] = reply as [string, object];
      gateway.publish(to, JSON.stringify(body), { qos: 1 });
    }
  });
  await gateway.subscribeAsync(`${base}/+`, { qos: 1 });

  let lockOnline: boolean | null = null;
  const commands = new LockCommands({
    url,
    site,
    answerTimeoutMs: 400,
    lifetimeMs: 10_000,
    status: { device: () => ({ online: lockOnline }), gatewayOnline: null },
  });
  t.teardown(() => commands.close());
  t.equal((await commands.send('lock-p1', 'unlock')).outcome, 'not_sent', 'not connected yet: nothing sent');
  commands.start();
  await commands.waitUntilReady();

  // The gateway answers first on another device's topic with our id (ignored), then a malformed result,
  // then the real answer.
  answer = (topic, command) => [
    [`${base}/co2-cafe/result`, { id: command.id, outcome: 'done', detail: 'wrong device', ts: Date.now() }],
    [`${topic}/result`, { id: command.id, outcome: 'sure' }],
    [`${topic}/result`, { id: command.id, outcome: 'done', detail: 'state 3', ts: Date.now() }],
  ];
  const before = Date.now();
  const done = await commands.send('lock-p1', 'unlock');
  t.match(done, { device: 'lock-p1', action: 'unlock', outcome: 'done', detail: 'state 3' });
  t.equal(received[0]?.topic, `${base}/lock-p1`);
  t.equal(received[0]?.command.id, done.id);
  t.equal(received[0]?.command.action, 'unlock');
  const expiresAt = received[0]?.command.expiresAt ?? 0;
  t.ok(expiresAt >= before + 10_000 && expiresAt <= Date.now() + 10_000, 'expires ten seconds after sending');
  t.ok(done.publishedAt !== null && done.answeredAt !== null);
  t.equal(commands.unmatchedResults, 1, 'the answer on another device topic was not taken');
  t.equal(commands.malformedResults, 1);

  const again = await commands.send('lock-p1', 'unlock');
  t.not(again.id, done.id, 'every command has a new id');

  answer = () => [];
  const silent = await commands.send('lock-p1', 'unlock');
  t.match(silent, { outcome: 'no_answer' }, 'no answer in time');
  t.equal(commands.pending, 0, 'nothing left waiting');

  answer = (topic, command) => [
    [`${topic}/result`, { id: command.id, outcome: 'offline', detail: 'x', ts: 1 }],
  ];
  t.match(await commands.send('lock-p1', 'unlock'), { outcome: 'offline' }, 'the gateway says offline');

  const sentBefore = received.length;
  lockOnline = false;
  t.match(
    await commands.send('lock-p1', 'unlock'),
    { outcome: 'offline', id: null },
    'known offline: not sent',
  );
  t.match(await commands.send('no-such-lock', 'unlock'), { outcome: 'failed', id: null });
  // A late answer to an old command changes nothing.
  const unmatched = commands.unmatchedResults;
  gateway.publish(
    `${base}/lock-p1/result`,
    JSON.stringify({ id: silent.id, outcome: 'done', detail: '', ts: 1 }),
  );
  await eventually('late answer counted', () => commands.unmatchedResults === unmatched + 1);
  t.equal(received.length, sentBefore, 'nothing was sent to an offline lock');
});
