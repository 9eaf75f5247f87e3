import fs from 'node:fs';
import { createRequire } from 'node:module';
import t from 'tap';
import { EVENT_TYPES } from '../building/events.ts';

/** The palette's pure parts: what a message asks the command node for, and the waits between reconnects. */

const require = createRequire(import.meta.url);
const { commandFor } = require('./nodes/wesprint-command.js') as {
  commandFor(config: Record<string, unknown>, msg: Record<string, unknown>): Record<string, unknown>;
};
const { noticeFor } = require('./nodes/wesprint-notice.js') as {
  noticeFor(config: Record<string, unknown>, msg: Record<string, unknown>): Record<string, unknown>;
};
const { EVENT_KINDS } = require('./nodes/wesprint-events.js') as { EVENT_KINDS: Record<string, string> };
const { waitAfter, socketUrl, apiBase } = require('./lib/wesprint-api.js') as {
  waitAfter(failures: number, firstMs?: number, longestMs?: number): number;
  socketUrl(base: string, path: string, query: Record<string, unknown>): string;
  apiBase(url: string): string;
};

t.test("switch: on or off by the payload, on the node's device and channel", async (t) => {
  const node = { action: 'switch', device: 'plug-1', channel: '' };
  t.same(commandFor(node, { payload: true }), {
    action: 'switch_on',
    device: 'plug-1',
    route: '/api/devices/plug-1/commands',
    body: { action: 'switch_on' },
  });
  t.match(commandFor(node, { payload: 'off' }), { action: 'switch_off', body: { action: 'switch_off' } });
  t.match(commandFor(node, { payload: 0 }), { action: 'switch_off' });
  t.match(commandFor(node, { payload: 'maybe' }), { error: /on\/off/ });
  t.match(commandFor({ ...node, channel: '2' }, { payload: 1 }), { channel: '2', body: { channel: '2' } });
  t.match(commandFor(node, { payload: 1, channel: 3 }), { channel: '3' }, 'msg.channel wins');
  t.match(commandFor(node, { payload: 1, commandId: 'retry-me-1' }), { body: { commandId: 'retry-me-1' } });
  t.notMatch(commandFor(node, { payload: 1, _msgid: 'abcdef0123456789' }), { body: { commandId: String } });
  t.match(commandFor(node, { payload: 1, device: 'plug/../x' }), {
    route: '/api/devices/plug%2F..%2Fx/commands',
  });
});

t.test("set temperature: the node's value or the payload's, refused without a number", async (t) => {
  const node = { action: 'set_setpoint', device: 'trv-1', value: '16' };
  t.match(commandFor(node, {}), { body: { action: 'set_setpoint', value: 16 } });
  t.match(commandFor(node, { payload: 21 }), { body: { value: 21 } });
  t.match(commandFor(node, { payload: '20.5' }), { body: { value: 20.5 } });
  t.match(commandFor({ ...node, value: '' }, { payload: 'warm' }), { error: /temperature/ });
});

t.test("unlock: the space's unlock route, or the lock device's command; from msg.action", async (t) => {
  t.same(commandFor({ action: 'unlock' }, { space: 'protel-1' }), {
    action: 'unlock',
    space: 'protel-1',
    route: '/api/spaces/protel-1/unlock',
    body: undefined,
  });
  t.match(
    commandFor({ action: 'unlock', device: 'lock-1' }, { space: 'protel-2' }),
    { route: '/api/spaces/protel-2/unlock' },
    "never the devices' route, which refuses locks",
  );
  t.match(commandFor({ action: 'unlock', device: 'lock-1' }, {}), { error: /space/ });
  t.match(commandFor({ action: 'msg' }, { action: 'switch_on', device: 'p' }), { action: 'switch_on' });
  t.match(commandFor({ action: 'msg' }, { action: 'explode', device: 'p' }), { error: /no action/ });
  t.match(commandFor({ action: 'switch_on' }, {}), { error: /needs a device/ });
});

t.test('reconnect waits: 1 s doubling to 30 s', async (t) => {
  t.same(
    [0, 1, 2, 3, 4, 5, 6, 7, 100].map((n) => waitAfter(n)),
    [0, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000],
  );
  t.equal(waitAfter(3, 10, 25), 25);
});

t.test('addresses: the API URL as given, its live channels over ws or wss', async (t) => {
  t.equal(apiBase('http://api:8080/'), 'http://api:8080');
  t.equal(apiBase(' https://x.example/wesprint/ '), 'https://x.example/wesprint');
  t.throws(() => apiBase(''), /no API URL/);
  t.throws(() => apiBase('ftp://x'), /http/);
  t.equal(
    socketUrl('https://x.example/w', '/api/live', { space: 'a b', quantity: '', device: undefined }),
    'wss://x.example/w/api/live?space=a+b',
  );
  t.equal(socketUrl('http://127.0.0.1:9', '/api/events/live', {}), 'ws://127.0.0.1:9/api/events/live');
});

t.test('notice: a text puts it up, null takes it down, on the space and topic asked', async (t) => {
  const node = { space: '', topic: 'air', level: 'warning', minutes: 15 };
  t.same(noticeFor(node, { space: 'protel-1', payload: 'CO2 1400 ppm' }), {
    clear: false,
    space: 'protel-1',
    topic: 'air',
    route: '/api/spaces/protel-1/notices/air',
    body: { message: 'CO2 1400 ppm', level: 'warning', minutes: 15 },
  });
  for (const payload of [null, undefined, false, '  '])
    t.match(noticeFor(node, { space: 'protel-1', payload }), {
      clear: true,
      route: '/api/spaces/protel-1/notices/air',
    });
  t.match(noticeFor(node, { payload: 'x' }), { error: /no space/ });
  t.match(noticeFor({ ...node, space: 'hall' }, { payload: 'x' }), { space: 'hall' }, "the node's space");
  t.match(
    noticeFor(node, { space: 's', payload: 'x', noticeTopic: 'cleaning', level: 'info', minutes: 60 }),
    {
      topic: 'cleaning',
      body: { level: 'info', minutes: 60 },
    },
  );
  t.match(noticeFor(node, { space: 's', payload: 'x', noticeTopic: 'Not A Topic' }), { error: /lower-case/ });
  t.match(noticeFor(node, { space: 's', payload: 'x', minutes: 0 }), { error: /minutes/ });
  t.match(noticeFor(node, { space: 's', payload: { ppm: 1400 } }), { error: /notice text/ });
  t.equal(
    (noticeFor(node, { space: 's', payload: 'a'.repeat(400) }).body as { message: string }).message.length,
    280,
    'cut to what the route takes',
  );
});

t.test('events in knows every kind the feed sends, in the node and in its editor', async (t) => {
  t.same(Object.keys(EVENT_KINDS).sort(), [...EVENT_TYPES].sort(), 'the node lets each kind through');
  const editor = fs.readFileSync(new URL('./nodes/wesprint-events.html', import.meta.url), 'utf8');
  const offered = [...editor.matchAll(/\['([a-z-]+)', '[^']+'\]/g)].map((m) => m[1]);
  t.same(offered.sort(), [...EVENT_TYPES].sort(), 'the editor offers each kind');
});
