import t from 'tap';
import { topicMatches } from '../../building/topic-filter.ts';
import { DecodeError } from '../../device-profiles/profile.ts';
import profile from './profile.ts';

const NOW = Date.UTC(2026, 10, 20, 9, 0, 0);
const BASE = 'nuki/2BB28570';
const decode = (channel: string, payload: string) => {
  const m = profile.match(`${BASE}/${channel}`);
  if (!m) throw new Error(`no match for ${channel}`);
  return profile.decode(m, Buffer.from(payload), NOW);
};

// Payloads per "Nuki MQTT API" v1.4 (https://developer.nuki.io/t/mqtt-api-specification-v1-4/19223),
// section "Topics": plain values, e.g. state "1", connected "true", commandResponse "0".

t.test('state codes become lock states', async (t) => {
  t.same(decode('state', '1').readings, [
    { channel: '0', quantity: 'lock', value: 'locked', unit: 'state', ts: NOW },
  ]);
  const expected: [string, string][] = [
    ['0', 'uncalibrated'],
    ['2', 'unlocking'],
    ['3', 'unlocked'],
    ['4', 'locking'],
    ['5', 'unlatched'],
    ['6', 'unlocked_lock_n_go'],
    ['7', 'unlatching'],
    ['254', 'motor_blocked'],
    ['255', 'undefined'],
  ];
  for (const [code, state] of expected) t.equal(decode('state', code).readings[0]?.value, state, code);
});

t.test('door sensor, battery, connection', async (t) => {
  t.same(decode('doorsensorState', '2').readings[0], {
    channel: '0',
    quantity: 'door',
    value: 'closed',
    unit: 'state',
    ts: NOW,
  });
  t.equal(decode('doorsensorState', '3').readings[0]?.value, 'open');
  t.same(decode('batteryCritical', 'false').readings[0], {
    channel: '0',
    quantity: 'battery_low',
    value: 0,
    unit: 'bool',
    ts: NOW,
  });
  t.equal(decode('batteryCritical', 'true').readings[0]?.value, 1);
  t.same(decode('batteryChargeState', '84').readings[0], {
    channel: '0',
    quantity: 'battery',
    value: 84,
    unit: '%',
    ts: NOW,
  });
  t.equal(decode('connected', 'true').availability, 'online');
  t.equal(decode('connected', 'false').availability, 'offline', 'last will');
  t.same(decode('batteryCharging', 'false').readings, []);
  t.same(decode('deviceType', '4').readings, []);
});

t.test('commandResponse: 0 = success, 1–255 = BLE API error code', async (t) => {
  t.same(decode('commandResponse', '0').commandResult, { ok: true, detail: 'success' });
  t.same(decode('commandResponse', '69').commandResult, { ok: false, detail: 'Nuki error 0x45' });
});

t.test('lockActionEvent examples from the spec are accepted', async (t) => {
  // "Unlatch via Keypad with Auth-ID 54321 from Code-ID 12345", "Auto-Unlock via App", "Lock'n Go via
  // Button", "Button … pressed twice", "Fob … pressed 3x".
  for (const example of ['3,0,54321,12345,1', '1,0,54322,0,1', '4,2,0,0,0', '90,2,0,0,2', '3,3,54322,0,3']) {
    t.same(decode('lockActionEvent', example).readings, [], example);
  }
});

t.test('malformed', async (t) => {
  for (const [channel, payload] of [
    ['state', '8'],
    ['state', 'locked'],
    ['state', '1.5'],
    ['state', ''],
    ['doorsensorState', '6'],
    ['batteryChargeState', '101'],
    ['batteryChargeState', '-1'],
    ['batteryCritical', '1'],
    ['connected', 'online'],
    ['commandResponse', '256'],
    ['commandResponse', 'ok'],
    ['lockActionEvent', '3,0,54321'],
    ['lockActionEvent', '3,0,x,1,1'],
  ]) {
    t.throws(() => decode(channel as string, payload as string), DecodeError, `${channel} ${payload}`);
  }
});

t.test('lock actions are encoded as lockAction codes, never retained', async (t) => {
  t.same(profile.actions, ['unlock', 'lock', 'unlatch']);
  t.same(profile.encodeCommand?.(BASE, 'unlock'), [
    { topic: `${BASE}/lockAction`, payload: '1', qos: 1, retain: false },
  ]);
  t.equal(profile.encodeCommand?.(BASE, 'lock')[0]?.payload, '2');
  t.equal(profile.encodeCommand?.(BASE, 'unlatch')[0]?.payload, '3');
  t.throws(() => profile.encodeCommand?.(BASE, 'switch_on'));
});

t.test('ACL: the lock may listen to lockAction but never publish it', async (t) => {
  const acl = profile.acl(BASE);
  t.same(acl.subscribe, [`${BASE}/lockAction`, `${BASE}/lock`, `${BASE}/unlock`]);
  const may = (topic: string) => acl.publish.some((f) => topicMatches(f, topic));
  for (const own of [
    'state',
    'connected',
    'commandResponse',
    'lockActionEvent',
    'batteryCritical',
    'doorsensorState',
  ]) {
    t.ok(may(`${BASE}/${own}`), own);
  }
  t.notOk(may(`${BASE}/lockAction`));
  t.notOk(may(`${BASE}/unlock`));
  t.notOk(may('nuki/3CC39681/state'), 'not as another lock');
  t.equal(profile.match(`${BASE}/lockAction`), undefined, 'a command is not a report');
});
