'use strict';

/**
 * How the nodes talk to a WeSprint API: HTTP with a Bearer token (Node's own fetch), and the live channels
 * (`/api/live`, `/api/events/live`) over WebSocket, kept open with waits that grow after each failure, as the
 * building's own clients do. No Node-RED here: the nodes hand in what to do on each change.
 */

const WebSocket = require('ws');

/** The first wait after a lost or refused connection, and the longest (the building's clients use the same). */
const FIRST_WAIT_MS = 1000;
const LONGEST_WAIT_MS = 30_000;
/** How long one HTTP call may take before the node reports it as failed. */
const REQUEST_TIMEOUT_MS = 15_000;
/** The live channels only send; anything bigger than this from the server is a fault, not a message. */
const MAX_MESSAGE_BYTES = 1 << 20;

/** The wait before reconnect attempt `failures` (1 for the first failure): doubling, capped. */
function waitAfter(failures, firstMs = FIRST_WAIT_MS, longestMs = LONGEST_WAIT_MS) {
  if (failures <= 0) return 0;
  return Math.min(longestMs, firstMs * 2 ** Math.min(failures - 1, 30));
}

/** `http://host:1880/` and `http://host:1880` are the same API; anything but http(s) is a mistake. */
function apiBase(url) {
  const text = String(url || '').trim();
  if (text === '') throw new Error('the WeSprint server has no API URL');
  const parsed = new URL(text);
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    throw new Error(`the API URL must start with http:// or https:// (got ${parsed.protocol})`);
  return parsed.href.replace(/\/+$/, '');
}

function socketUrl(base, path, query) {
  const url = new URL(base + path);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  for (const [key, value] of Object.entries(query || {}))
    if (value !== undefined && value !== null && value !== '') url.searchParams.set(key, String(value));
  return url.href;
}

/** An answer that was not 2xx: its status and the API's own message. */
class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.body = body;
  }
}

/**
 * One call to the API. Resolves with `{status, body}` for any answer the API gave (2xx or not, so a command's
 * refusal can be passed on as its outcome); rejects only when no answer came (network, timeout).
 */
async function call(server, method, path, body) {
  const headers = { accept: 'application/json' };
  if (server.token) headers.authorization = `Bearer ${server.token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(apiBase(server.url) + path, {
    method,
    headers,
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const text = await response.text();
  let parsed = text;
  try {
    parsed = text === '' ? null : JSON.parse(text);
  } catch {
    // Not JSON (a proxy's error page): passed on as text.
  }
  return { status: response.status, body: parsed };
}

/** Like `call`, but a non-2xx answer is an ApiError with the API's message. */
async function get(server, path) {
  const answer = await call(server, 'GET', path);
  if (answer.status < 200 || answer.status > 299) {
    const message =
      answer.body && typeof answer.body === 'object' && typeof answer.body.message === 'string'
        ? answer.body.message
        : `HTTP ${answer.status}`;
    throw new ApiError(answer.status, `${answer.status}: ${message}`, answer.body);
  }
  return answer.body;
}

/**
 * A live channel kept open: connects, passes each JSON message on, and after a lost or refused connection
 * waits (1 s doubling to 30 s) and connects again, until closed. `on` receives:
 *   connecting(attempt), open(), message(object), down({status, reason, waitMs}).
 * A refusal (401, 403, 404) is reported with its HTTP status and the API's words, and retried at the
 * longest wait: a token can be given its scope, a space can be added, without restarting the flow.
 */
class LiveChannel {
  constructor(server, path, query, on, options = {}) {
    this.server = server;
    this.path = path;
    this.query = query;
    this.on = on;
    this.firstMs = options.firstWaitMs ?? FIRST_WAIT_MS;
    this.longestMs = options.longestWaitMs ?? LONGEST_WAIT_MS;
    this.failures = 0;
    this.closed = false;
    this.socket = undefined;
    this.timer = undefined;
  }

  start() {
    this.connect();
    return this;
  }

  connect() {
    if (this.closed) return;
    let url;
    try {
      url = socketUrl(apiBase(this.server.url), this.path, this.query);
    } catch (err) {
      this.on.down({ status: null, reason: err.message, waitMs: null });
      return;
    }
    this.on.connecting(this.failures + 1);
    const headers = this.server.token ? { authorization: `Bearer ${this.server.token}` } : {};
    const socket = new WebSocket(url, { headers, maxPayload: MAX_MESSAGE_BYTES, handshakeTimeout: 15_000 });
    this.socket = socket;
    let refusal;
    let opened = false;
    socket.on('unexpected-response', (_request, response) => {
      // The API refused the upgrade: read its reason, then let the socket fail.
      const chunks = [];
      response.on('data', (c) => chunks.push(c));
      response.on('end', () => {
        let reason = `HTTP ${response.statusCode}`;
        try {
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          if (body && typeof body.message === 'string') reason = body.message;
        } catch {
          // not JSON: the status says enough
        }
        refusal = { status: response.statusCode, reason };
        socket.terminate();
        this.lost(socket, refusal, opened);
      });
      response.on('error', () => {});
    });
    socket.on('open', () => {
      opened = true;
      this.failures = 0;
      this.on.open();
    });
    socket.on('message', (data) => {
      let message;
      try {
        message = JSON.parse(data.toString('utf8'));
      } catch {
        return;
      }
      if (message && typeof message === 'object') this.on.message(message);
    });
    socket.on('error', (err) => {
      if (!refusal) refusal = { status: null, reason: err.message };
    });
    socket.on('close', (code, reason) => {
      this.lost(socket, refusal ?? { status: null, reason: reason.toString() || `closed (${code})` }, opened);
    });
  }

  /** Once per socket: schedules the next attempt. */
  lost(socket, why, opened) {
    if (this.socket !== socket) return;
    this.socket = undefined;
    if (this.closed) return;
    if (!opened) this.failures++;
    else this.failures = 1;
    const refused = why.status === 401 || why.status === 403 || why.status === 404;
    const waitMs = refused ? this.longestMs : waitAfter(this.failures, this.firstMs, this.longestMs);
    this.on.down({ status: why.status, reason: why.reason, waitMs });
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.connect();
    }, waitMs);
  }

  close() {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const socket = this.socket;
    this.socket = undefined;
    if (!socket) return Promise.resolve();
    return new Promise((resolve) => {
      if (socket.readyState === WebSocket.CLOSED) return resolve();
      socket.once('close', () => resolve());
      socket.terminate();
    });
  }
}

/** The status dot of a node that listens on a live channel, for each change of the channel. */
function channelStatus(node, what) {
  return {
    connecting: (attempt) =>
      node.status({
        fill: 'yellow',
        shape: 'ring',
        text: attempt > 1 ? `connecting (attempt ${attempt})` : 'connecting',
      }),
    open: () => node.status({ fill: 'green', shape: 'dot', text: `connected: ${what}` }),
    down: ({ status, reason, waitMs }) => {
      const retry = waitMs === null ? '' : `; again in ${Math.round(waitMs / 1000)} s`;
      node.status({
        fill: 'red',
        shape: 'ring',
        text: status ? `refused (${status}): ${reason}${retry}` : `disconnected: ${reason}${retry}`,
      });
    },
  };
}

module.exports = {
  ApiError,
  FIRST_WAIT_MS,
  LONGEST_WAIT_MS,
  LiveChannel,
  apiBase,
  call,
  channelStatus,
  get,
  socketUrl,
  waitAfter,
};
