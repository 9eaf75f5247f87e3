import t from 'tap';
import { decideDeviceCommand, isRouteAction, ROUTE_ACTIONS } from './device-command-rules.ts';

const plug = { id: 'plug-1', actions: ['switch_on', 'switch_off'] as const };
const valve = {
  id: 'valve-1',
  actions: ['set_setpoint'] as const,
  actionValues: { set_setpoint: { unit: '°C', min: 5, max: 30, step: 0.5 } },
};

t.test('a switch or a setpoint the device can take is sent', async (t) => {
  t.same(decideDeviceCommand({ device: plug, action: 'switch_off' }), { send: true });
  t.same(decideDeviceCommand({ device: valve, action: 'set_setpoint', value: 21 }), { send: true });
});

t.test('each refusal says why, in order', async (t) => {
  t.match(decideDeviceCommand({ device: undefined, action: 'switch_on' }), {
    send: false,
    reason: 'unknown_device',
  });
  t.match(decideDeviceCommand({ device: plug, action: 'set_setpoint', value: 21 }), {
    reason: 'unsupported',
    detail: 'plug-1 cannot set_setpoint (it can: switch_on, switch_off)',
  });
  t.match(decideDeviceCommand({ device: { id: 'co2', actions: [] }, action: 'switch_on' }), {
    reason: 'unsupported',
    detail: 'co2 cannot switch_on',
  });
  t.match(decideDeviceCommand({ device: valve, action: 'set_setpoint', value: 35 }), {
    reason: 'invalid_value',
    detail: /outside what the device takes/,
  });
  t.match(decideDeviceCommand({ device: valve, action: 'set_setpoint' }), {
    reason: 'invalid_value',
    detail: /needs a value/,
  });
  t.match(decideDeviceCommand({ device: plug, action: 'switch_on', value: 1 }), {
    reason: 'invalid_value',
    detail: 'switch_on takes no value',
  });
});

t.test("locks are not the commands route's business", async (t) => {
  t.same([...ROUTE_ACTIONS], ['switch_on', 'switch_off', 'set_setpoint']);
  for (const action of ['unlock', 'lock', 'unlatch']) t.notOk(isRouteAction(action), action);
  t.ok(isRouteAction('switch_on'));
});
