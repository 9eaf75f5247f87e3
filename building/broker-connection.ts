import type { MqttClient } from 'mqtt';

/**
 * How every part stays connected to the building's broker: the gateway, the API's feed and command channel,
 * and each simulated device.
 *
 * MQTT.js reconnects on a fixed `reconnectPeriod`. Its own timer is kept (it is cleared by `end()`, so a
 * part that stops leaves no retry behind), and the period is set anew before each attempt: 1 s after a
 * connection is lost, then doubling to 30 s while the broker stays away. A refused sign-in is retried on
 * the same schedule (MQTT.js gives up on it by default), because a broker that is still starting, or one
 * throttling sign-ins, refuses too.
 *
 * The log says what changed, once: connected, unreachable (and why), refused. Never once per attempt.
 */

export const RECONNECT_MIN_MS = 1000;
export const RECONNECT_MAX_MS = 30_000;

/**
 * Pure: the wait before the next attempt after `failures` attempts that failed in a row (0: the connection
 * was just lost). Between 80 % and 100 % of the doubled step, never below the minimum: devices that lost
 * the broker together do not all knock at the same instant when it is back.
 */
export function reconnectDelayMs(
  failures: number,
  random: () => number = Math.random,
  minMs = RECONNECT_MIN_MS,
  maxMs = RECONNECT_MAX_MS,
): number {
  const step = Math.min(maxMs, minMs * 2 ** Math.min(failures, 30));
  return Math.round(Math.max(minMs, step * (0.8 + 0.2 * random())));
}

/** `connecting` only before the first connection; afterwards always one of the others. */
export type BrokerLinkState = 'connecting' | 'connected' | 'unreachable' | 'refused';

export interface BrokerLinkLogger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface BrokerLinkOptions {
  /** Who is connecting, when the logger does not say it already: "building feed", "device og1-co2-1". */
  name?: string;
  url: string;
  logger?: BrokerLinkLogger;
  /** Log the changes at debug level (one simulated device among 150; the simulation logs the sum). */
  quiet?: boolean;
  /** First wait after a lost connection (tests shorten it). */
  minDelayMs?: number;
  onStateChange?: (state: BrokerLinkState) => void;
}

export interface BrokerLink {
  readonly state: BrokerLinkState;
  /** Consecutive failed attempts since the last connection. */
  readonly failures: number;
}

/**
 * Puts a client created with `reconnectPeriod > 0` on the backoff schedule and logs its changes of state.
 * Create the client with `reconnectOnConnackError: true` (see `brokerClientOptions`).
 */
export function keepConnected(client: MqttClient, options: BrokerLinkOptions): BrokerLink {
  const minMs = options.minDelayMs ?? RECONNECT_MIN_MS;
  const maxMs = Math.max(minMs, RECONNECT_MAX_MS);
  const logger = options.logger;
  const url = redactUrl(options.url);
  const who = options.name ? `${options.name}: ` : '';
  let state: BrokerLinkState = 'connecting';
  let failures = 0;
  let reason: string | undefined;
  let downSince: number | undefined;
  const setPeriod = () => {
    client.options.reconnectPeriod = reconnectDelayMs(failures, Math.random, minMs, maxMs);
  };
  const log = (level: 'info' | 'warn' | 'error', obj: object, msg: string) => {
    if (!logger) return;
    if (options.quiet) logger.debug(obj, msg);
    else logger[level](obj, msg);
  };
  const become = (next: BrokerLinkState) => {
    if (next === state) return;
    const before = state;
    state = next;
    const retry = `retrying after ${minMs / 1000} s, then less often, up to every ${maxMs / 1000} s`;
    if (next === 'connected') {
      const after = downSince === undefined ? {} : { downForS: Math.round((Date.now() - downSince) / 1000) };
      downSince = undefined;
      log('info', { url, ...after }, `${who}connected to the broker`);
    } else if (next === 'unreachable') {
      downSince ??= Date.now();
      const msg =
        before === 'connected'
          ? `${who}lost the broker (${reason ?? 'connection closed'}); ${retry}`
          : `${who}broker not reachable yet (${reason ?? 'connection closed'}); ${retry}`;
      log('warn', { url }, msg);
    } else if (next === 'refused') {
      downSince ??= Date.now();
      log(
        'error',
        { url },
        `${who}the broker refuses the sign-in (${reason}); check the user name and password; ${retry}`,
      );
    }
    options.onStateChange?.(next);
  };

  setPeriod();
  client.on('connect', () => {
    failures = 0;
    reason = undefined;
    setPeriod();
    become('connected');
  });
  // Emitted by MQTT.js right before each attempt: the attempt after this one waits longer.
  client.on('reconnect', () => {
    failures++;
    setPeriod();
  });
  // A refused sign-in arrives as an error and is followed by a close; any other error is the reason of
  // the close that follows it.
  let refusedNow = false;
  client.on('error', (err: Error & { code?: string | number }) => {
    if (/^Connection refused/.test(err.message)) {
      refusedNow = true;
      reason = err.message.replace(/^Connection refused: /, '');
      become('refused');
    } else {
      reason = typeof err.code === 'string' ? err.code : err.message;
    }
  });
  client.on('close', () => {
    // Closed on purpose (end()): the part is stopping, nothing to report.
    if (!refusedNow && !client.disconnecting) become('unreachable');
    refusedNow = false;
    reason = undefined;
  });
  return {
    get state() {
      return state;
    },
    get failures() {
      return failures;
    },
  };
}

/** Options every long-lived client of the building's broker shares (add clientId, credentials, …). */
export const brokerClientOptions = {
  reconnectPeriod: RECONNECT_MIN_MS,
  reconnectOnConnackError: true,
  connectTimeout: 10_000,
} as const;

/**
 * Ends a client without hanging on a broker that is gone: a connected client says goodbye (DISCONNECT,
 * after its QoS 1 messages are acknowledged) within `graceMs`; otherwise, or after that, the socket is
 * simply closed. MQTT.js's own `end()` waits for acknowledgements that a dead broker never sends.
 */
export async function closeBrokerClient(client: MqttClient, graceMs = 2000): Promise<void> {
  if (!client.connected) {
    await client.endAsync(true);
    return;
  }
  let timer: NodeJS.Timeout | undefined;
  const gentle = new Promise<void>((resolve) => client.end(false, {}, () => resolve()));
  const late = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, graceMs);
  });
  await Promise.race([gentle, late]);
  clearTimeout(timer);
  // After the grace the client is already "disconnecting", so end(true) would do nothing: close the socket.
  if (!client.disconnected) client.stream?.destroy();
}

export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}
