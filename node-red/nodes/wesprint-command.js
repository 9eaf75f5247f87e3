'use strict';

/** The actions the node sends, and `switch`: on or off by the message's payload. */
const ACTIONS = ['unlock', 'switch_on', 'switch_off', 'set_setpoint'];

/** What a message asks to switch to: true, 1, "on", "true" are on; false, 0, "off", "false" off. */
function switchedOn(payload) {
  if (typeof payload === 'boolean') return payload;
  if (typeof payload === 'number') return payload !== 0;
  if (typeof payload === 'string') {
    const word = payload.trim().toLowerCase();
    if (['on', 'true', '1'].includes(word)) return true;
    if (['off', 'false', '0'].includes(word)) return false;
  }
  return undefined;
}

/**
 * The command a message asks for, from the node's settings and the message (the message wins where the
 * node says "from msg"), or the reason there is none. Pure.
 */
function commandFor(config, msg) {
  let action = config.action === 'msg' || !config.action ? msg.action : config.action;
  if (action === 'switch') {
    const on = switchedOn(msg.payload);
    if (on === undefined) return { error: 'switch: msg.payload must be on/off, true/false or 1/0' };
    action = on ? 'switch_on' : 'switch_off';
  }
  if (!ACTIONS.includes(action))
    return { error: `no action: set the node's action or msg.action (${ACTIONS.join(', ')})` };
  const device = (typeof msg.device === 'string' && msg.device) || (config.device || '').trim();
  const space = (typeof msg.space === 'string' && msg.space) || (config.space || '').trim();
  const channelSetting = msg.channel ?? (config.channel === '' ? undefined : config.channel);
  const channel =
    channelSetting === undefined || channelSetting === null ? undefined : String(channelSetting);
  let value;
  if (action === 'set_setpoint') {
    const number = (x) =>
      typeof x === 'number' ? x : typeof x === 'string' && x.trim() !== '' ? Number(x) : Number.NaN;
    value = Number.isFinite(number(msg.payload)) ? number(msg.payload) : number(config.value);
    if (!Number.isFinite(value))
      return { error: "set_setpoint needs a temperature: a number in msg.payload or the node's value" };
  }
  // A door opens only through its space's unlock route, the rules and audit a phone's unlock goes through;
  // the devices' command route refuses locks.
  if (action === 'unlock') {
    if (!space) return { error: "unlock needs a space: msg.space or the node's Space" };
    return { action, space, route: `/api/spaces/${encodeURIComponent(space)}/unlock`, body: undefined };
  }
  if (!device) return { error: `${action} needs a device: msg.device or the node's Device` };
  // The caller's own id makes a retry safe: the building carries out one id once at most.
  const commandId = typeof msg.commandId === 'string' && msg.commandId !== '' ? msg.commandId : undefined;
  return {
    action,
    device,
    ...(channel !== undefined ? { channel } : {}),
    ...(value !== undefined ? { value } : {}),
    route: `/api/devices/${encodeURIComponent(device)}/commands`,
    body: {
      action,
      ...(channel !== undefined ? { channel } : {}),
      ...(value !== undefined ? { value } : {}),
      ...(commandId !== undefined ? { commandId } : {}),
    },
  };
}

/** The outcome of one command as the second output carries it. */
function outcomeOf(command, answer) {
  const body = answer.body && typeof answer.body === 'object' ? answer.body : {};
  const ok = answer.status >= 200 && answer.status <= 299;
  return {
    ok,
    action: command.action,
    ...(command.space ? { space: command.space } : {}),
    ...(command.device ? { device: command.device } : {}),
    ...(command.channel !== undefined ? { channel: command.channel } : {}),
    ...(command.value !== undefined ? { value: command.value } : {}),
    status: answer.status,
    outcome: body.result ?? body.outcome ?? (ok ? 'done' : 'refused'),
    ...(body.reason !== undefined ? { reason: body.reason } : {}),
    detail: body.detail ?? body.message ?? null,
    answer: answer.body,
  };
}

/** command out: unlock, switch on/off, set a temperature; the outcome on the second output. */
module.exports = (RED) => {
  function WesprintCommandNode(config) {
    RED.nodes.createNode(this, config);
    const server = RED.nodes.getNode(config.server);
    if (!server) {
      this.status({ fill: 'grey', shape: 'ring', text: 'no WeSprint server configured' });
      return;
    }
    this.on('input', async (msg, send, done) => {
      const command = commandFor(config, msg);
      if (command.error) {
        this.status({ fill: 'red', shape: 'ring', text: command.error });
        done(new Error(command.error));
        return;
      }
      const what = `${command.action} ${command.device ?? command.space}`;
      this.status({ fill: 'yellow', shape: 'ring', text: `${what}…` });
      let outcome;
      try {
        outcome = outcomeOf(command, await server.call('POST', command.route, command.body));
      } catch (err) {
        // No answer at all (the server away, a timeout): the building may or may not have acted.
        outcome = {
          ...outcomeOf(command, { status: 0, body: null }),
          outcome: 'no_answer',
          detail: err.message,
        };
      }
      this.status({
        fill: outcome.ok ? 'green' : 'red',
        shape: 'dot',
        text: `${what}: ${outcome.outcome}${outcome.reason ? ` (${outcome.reason})` : ''}`,
      });
      const report = RED.util.cloneMessage(msg);
      report.topic = what;
      report.payload = outcome;
      send([outcome.ok ? msg : null, report]);
      done();
    });
  }

  RED.nodes.registerType('wesprint-command', WesprintCommandNode);
};

module.exports.commandFor = commandFor;
