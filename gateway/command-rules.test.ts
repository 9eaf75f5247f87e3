import t from 'tap';
import {
  type CommandContext,
  decideCommand,
  MAX_COMMAND_LIFETIME_MS,
  parseCommand,
} from './command-rules.ts';

const now = 1_700_000_000_000;
const ctx = (over: Partial<CommandContext> = {}): CommandContext => ({
  now,
  deviceKnown: true,
  deviceOnline: true,
  supportedActions: ['unlock', 'lock'],
  alreadySeen: () => false,
  busy: false,
  ...over,
});
const cmd = { id: 'c0ffee00-1', action: 'unlock', expiresAt: now + 5000 };

t.test('a fresh, known, supported command to an online device is executed', async (t) => {
  const d = decideCommand(cmd, ctx());
  t.equal(d.execute, true);
});

t.test('each refusal has its own outcome', async (t) => {
  const outcome = (over: Partial<CommandContext>, c = cmd) => {
    const d = decideCommand(c, ctx(over));
    return d.execute ? 'execute' : d.outcome;
  };
  t.equal(outcome({ alreadySeen: (id) => id === cmd.id }), 'duplicate');
  t.equal(outcome({}, { ...cmd, expiresAt: now }), 'expired');
  t.equal(outcome({}, { ...cmd, expiresAt: now + MAX_COMMAND_LIFETIME_MS + 1 }), 'failed');
  t.equal(outcome({ deviceKnown: false }), 'failed');
  t.equal(outcome({}, { ...cmd, action: 'unlatch' }), 'unsupported');
  t.equal(outcome({}, { ...cmd, action: 'self_destruct' }), 'unsupported');
  t.equal(outcome({ deviceOnline: false }), 'offline');
  t.equal(outcome({ busy: true }), 'failed');
});

t.test('a value is taken only by an action that declares one, and only in its range', async (t) => {
  const valve = ctx({
    supportedActions: ['set_setpoint'],
    actionValues: { set_setpoint: { unit: '°C', min: 5, max: 30, step: 0.5 } },
  });
  const setpoint = { id: 'c0ffee00-3', action: 'set_setpoint', expiresAt: now + 5000 };
  t.match(decideCommand({ ...setpoint, value: 21.5 }, valve), { execute: true, command: { value: 21.5 } });
  for (const value of [80, 4, 21.2, undefined])
    t.match(decideCommand({ ...setpoint, ...(value === undefined ? {} : { value }) }, valve), {
      execute: false,
      outcome: 'invalid_value',
    });
  t.match(
    decideCommand({ ...cmd, value: 1 }, ctx()),
    { execute: false, outcome: 'invalid_value' },
    'unlock takes none',
  );
  // The value is checked before the device's state: an offline valve still says the value is wrong.
  t.match(decideCommand({ ...setpoint, value: 80 }, { ...valve, deviceOnline: false }), {
    outcome: 'invalid_value',
  });
  // Parsing checks only the value's type; its range is the family's.
  t.same(parseCommand(Buffer.from(JSON.stringify({ ...setpoint, value: 21 }))), { ...setpoint, value: 21 });
  t.type(parseCommand(Buffer.from(JSON.stringify({ ...setpoint, value: '21' }))), 'string');
});

t.test('a replayed command is refused even when it is expired too: duplicate is checked first', async (t) => {
  const d = decideCommand({ ...cmd, expiresAt: now - 1 }, ctx({ alreadySeen: () => true }));
  t.match(d, { execute: false, outcome: 'duplicate' });
});

t.test('parseCommand rejects what is not a command', async (t) => {
  t.type(parseCommand(Buffer.from('nope')), 'string');
  t.type(parseCommand(Buffer.from('[]')), 'string');
  t.type(parseCommand(Buffer.from('{"id":"short","action":"unlock","expiresAt":1}')), 'string');
  t.type(parseCommand(Buffer.from('{"id":"c0ffee00-1","action":1,"expiresAt":1}')), 'string');
  t.type(parseCommand(Buffer.from('{"id":"c0ffee00-1","action":"unlock","expiresAt":"x"}')), 'string');
  t.same(parseCommand(Buffer.from(JSON.stringify(cmd))), cmd);
});

t.test('a command may address a channel: switch output 2 of a Pro 4PM', async (t) => {
  const output2 = { id: 'c0ffee00-2', action: 'switch_off', expiresAt: now + 5000, channel: '2' };
  t.same(parseCommand(Buffer.from(JSON.stringify(output2))), output2);
  for (const channel of [2, '-1', '01', '100', 'a', '', null])
    t.type(
      parseCommand(Buffer.from(JSON.stringify({ ...output2, channel }))),
      'string',
      `channel ${JSON.stringify(channel)} refused`,
    );
  const d = decideCommand(output2, ctx({ supportedActions: ['switch_on', 'switch_off'] }));
  t.match(d, { execute: true, command: { channel: '2' } });
});
