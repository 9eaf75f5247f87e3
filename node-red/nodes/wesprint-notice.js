'use strict';

const LEVELS = ['info', 'warning'];

/**
 * What a message asks of a space's notice: put up (`msg.payload` a text) or taken down (`msg.payload` null,
 * false or an empty text), in which space (`msg.space` or the node's) and under which topic (`msg.topic` or the
 * node's, default `air`); or the reason there is none. Pure.
 */
function noticeFor(config, msg) {
  const space = (typeof msg.space === 'string' && msg.space) || (config.space || '').trim();
  if (!space) return { error: "no space: msg.space or the node's Space" };
  const topic =
    (typeof msg.noticeTopic === 'string' && msg.noticeTopic) || (config.topic || '').trim() || 'air';
  if (!/^[a-z0-9][a-z0-9-]{0,31}$/.test(topic))
    return { error: `topic "${topic}": a lower-case word (a-z, 0-9, -), at most 32 characters` };
  const route = `/api/spaces/${encodeURIComponent(space)}/notices/${encodeURIComponent(topic)}`;
  const text = msg.payload;
  if (
    text === null ||
    text === undefined ||
    text === false ||
    (typeof text === 'string' && text.trim() === '')
  )
    return { clear: true, space, topic, route };
  if (typeof text !== 'string')
    return { error: 'msg.payload must be the notice text, or null to take it down' };
  const level = LEVELS.includes(msg.level)
    ? msg.level
    : LEVELS.includes(config.level)
      ? config.level
      : 'warning';
  const minutes = Number(msg.minutes ?? config.minutes ?? 15);
  if (!Number.isInteger(minutes) || minutes < 1 || minutes > 1440)
    return { error: 'minutes: a whole number from 1 to 1440' };
  return { clear: false, space, topic, route, body: { message: text.slice(0, 280), level, minutes } };
}

/** notice: puts a notice up on a space's member view and lobby tile, or takes it down. */
module.exports = (RED) => {
  function WesprintNoticeNode(config) {
    RED.nodes.createNode(this, config);
    const server = RED.nodes.getNode(config.server);
    if (!server) {
      this.status({ fill: 'grey', shape: 'ring', text: 'no WeSprint server configured' });
      return;
    }
    this.on('input', async (msg, send, done) => {
      const notice = noticeFor(config, msg);
      if (notice.error) {
        this.status({ fill: 'red', shape: 'ring', text: notice.error });
        done(new Error(notice.error));
        return;
      }
      const what = `${notice.space}: ${notice.clear ? 'taken down' : 'up'}`;
      let answer;
      try {
        answer = await server.call(notice.clear ? 'DELETE' : 'PUT', notice.route, notice.body);
      } catch (err) {
        answer = { status: 0, body: { message: err.message } };
      }
      const ok = answer.status >= 200 && answer.status <= 299;
      this.status({
        fill: ok ? 'green' : 'red',
        shape: 'dot',
        text: ok
          ? what
          : `${notice.space}: ${answer.status || 'no answer'} ${answer.body?.message ?? ''}`.trim(),
      });
      const report = RED.util.cloneMessage(msg);
      report.payload = {
        ok,
        space: notice.space,
        topic: notice.topic,
        shown: ok && !notice.clear,
        status: answer.status,
        detail: ok ? null : (answer.body?.message ?? null),
        answer: answer.body,
      };
      send(report);
      done();
    });
  }

  RED.nodes.registerType('wesprint-notice', WesprintNoticeNode);
};

module.exports.noticeFor = noticeFor;
