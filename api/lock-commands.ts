import { randomBytes, randomUUID } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import type { BaseLogger } from 'pino';
import { brokerClientOptions, closeBrokerClient, keepConnected } from '../building/broker-connection.ts';
import {
  buildingTopics,
  type CommandMessage,
  type CommandOutcome,
  type CommandResultMessage,
} from '../building/topics.ts';
import type { DeviceAction } from '../device-profiles/profile.ts';
import { SERVICE_USERNAMES } from '../site/credentials.ts';
import type { SiteConfig } from '../site/site.ts';

/**
 * The API's command channel to the building (locks, switches, thermostats): publishes
 * `{id, action, expiresAt, channel?, value?}` on
 * `wesprint/<site>/commands/<device>` with the API's own MQTT account (the broker lets only it and the gateway
 * command devices) and waits for the gateway's answer on `.../result`, matched by the command's fresh UUID.
 * A connection of its own, apart from the BuildingFeed, so that reading the building never waits behind a door
 * and the feed stays read-only. The gateway executes an id at most once and never after its expiry; the API
 * only has to give each command a new id and a short life.
 */

const OUTCOMES: readonly CommandOutcome[] = [
  'done',
  'failed',
  'expired',
  'duplicate',
  'unsupported',
  'offline',
  'timeout',
  'invalid_value',
];

export interface LockCommandsOptions {
  /** e.g. `mqtt://127.0.0.1:1883`. */
  url: string;
  /** Defaults to the API's service account `wesprint-api`. */
  username?: string;
  password?: string;
  site: SiteConfig;
  /** What the API knows of device and gateway status, to answer `offline` without a round trip. */
  status?: {
    device(id: string): { online: boolean | null } | undefined;
    readonly gatewayOnline: boolean | null;
  };
  logger?: BaseLogger;
  clientId?: string;
  /**
   * How long to wait for the gateway's answer (default 6 s). Longer than the gateway's own wait for the lock
   * (5 s), so that normally the gateway's `timeout` arrives first and says what happened.
   */
  answerTimeoutMs?: number;
  /** The command's life: after this the gateway refuses it as `expired` (default 10 s). */
  lifetimeMs?: number;
  /** First wait after losing the broker, doubling to 30 s while it stays away (default 1 s). */
  reconnectPeriodMs?: number;
}

export interface CommandReport {
  /** The command id, or null when nothing was sent. */
  id: string | null;
  device: string;
  action: DeviceAction;
  /**
   * The gateway's outcome; `offline` also when the API already knew the lock or the gateway to be offline
   * (then nothing was sent); `no_answer` when no result came within answerTimeoutMs; `not_sent` when the
   * channel is not connected to the broker.
   */
  outcome: CommandOutcome | 'no_answer' | 'not_sent';
  detail: string;
  /** Epoch ms when the broker acknowledged the command (QoS 1), or null. */
  publishedAt: number | null;
  /** Epoch ms when the gateway's answer came, or null. */
  answeredAt: number | null;
}

/** What a command carries beside its action. */
export interface CommandOptions {
  /** The device's channel (switch output 2 of a Pro 4PM: `2`); absent: channel 0. */
  channel?: string;
  /** The value of an action that takes one (a setpoint in °C). */
  value?: number;
  /** The command's id (8–64 of [A-Za-z0-9_-]); default a fresh UUID. */
  id?: string;
}

interface Waiting {
  device: string;
  settle: (result: CommandResultMessage) => void;
}

/** Pure: a result message from the gateway, or why it is not one. */
export function parseCommandResult(payload: Buffer): CommandResultMessage | string {
  if (payload.length > 4096) return 'result too large';
  let raw: unknown;
  try {
    raw = JSON.parse(payload.toString('utf8'));
  } catch {
    return 'result is not JSON';
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return 'result is not a JSON object';
  const { id, outcome, detail, ts } = raw as Record<string, unknown>;
  if (typeof id !== 'string' || id.length === 0 || id.length > 64) return 'result id must be a short string';
  if (typeof outcome !== 'string' || !OUTCOMES.includes(outcome as CommandOutcome))
    return 'result outcome is not one the gateway sends';
  if (typeof ts !== 'number' || !Number.isFinite(ts)) return 'result ts must be epoch ms';
  return {
    id,
    outcome: outcome as CommandOutcome,
    detail: typeof detail === 'string' ? detail.slice(0, 500) : '',
    ts,
  };
}

export class LockCommands {
  readonly #options: LockCommandsOptions;
  readonly #topics: ReturnType<typeof buildingTopics>;
  readonly #resultPrefix: string;
  readonly #devices: Set<string>;
  readonly #waiting = new Map<string, Waiting>();
  readonly #readyWaiters = new Set<() => void>();
  #client: MqttClient | undefined;
  #subscribed = false;
  /** Results that matched no waiting command (late, replayed, or another API's). */
  unmatchedResults = 0;
  malformedResults = 0;

  constructor(options: LockCommandsOptions) {
    this.#options = options;
    this.#topics = buildingTopics(options.site.site.id);
    this.#resultPrefix = `${this.#topics.base}/commands/`;
    this.#devices = new Set(options.site.devices.map((d) => d.id));
  }

  /** Starts connecting (and reconnecting); does not wait. */
  start(): void {
    if (this.#client) return;
    const o = this.#options;
    const client = mqtt.connect(o.url, {
      ...brokerClientOptions,
      username: o.username ?? SERVICE_USERNAMES.api,
      ...(o.password !== undefined ? { password: o.password } : {}),
      clientId: o.clientId ?? `${SERVICE_USERNAMES.api}-cmd-${randomBytes(4).toString('hex')}`,
      clean: true,
      protocolVersion: 4,
      resubscribe: false,
    });
    this.#client = client;
    keepConnected(client, {
      name: 'lock commands',
      url: o.url,
      ...(o.logger ? { logger: o.logger } : {}),
      ...(o.reconnectPeriodMs !== undefined ? { minDelayMs: o.reconnectPeriodMs } : {}),
    });
    client.on('connect', () => {
      // MQTT.js leaves Nagle on: a lone small PUBLISH then waits for the broker's delayed ACK (~40 ms).
      const socket = client.stream as { setNoDelay?: (on: boolean) => unknown };
      socket.setNoDelay?.(true);
      this.#subscribe(client);
    });
    client.on('close', () => {
      this.#subscribed = false;
    });
    client.on('message', (topic, payload) => this.#take(topic, payload));
  }

  #subscribe(client: MqttClient): void {
    client.subscribe(this.#topics.allCommandResults, { qos: 1 }, (err, granted) => {
      if (err || (granted ?? []).some((g) => g.qos === 128)) {
        this.#options.logger?.warn(
          { err: err?.message },
          'lock commands: cannot subscribe to command results (check the ACL of wesprint-api)',
        );
        return;
      }
      this.#subscribed = true;
      for (const wake of this.#readyWaiters) wake();
      this.#readyWaiters.clear();
    });
  }

  /** Connected and listening for results: a command sent now can be answered. */
  get ready(): boolean {
    return this.#subscribed && this.#client?.connected === true;
  }

  waitUntilReady(timeoutMs = 10_000): Promise<void> {
    if (this.ready) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const wake = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.#readyWaiters.delete(wake);
        reject(new Error(`lock commands: not connected to ${this.#options.url} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#readyWaiters.add(wake);
    });
  }

  #take(topic: string, payload: Buffer): void {
    if (!topic.startsWith(this.#resultPrefix) || !topic.endsWith('/result')) return;
    const device = topic.slice(this.#resultPrefix.length, -'/result'.length);
    const result = parseCommandResult(payload);
    if (typeof result === 'string') {
      this.malformedResults++;
      this.#options.logger?.warn({ topic, reason: result }, 'lock commands: malformed result ignored');
      return;
    }
    const waiting = this.#waiting.get(result.id);
    // A result for our id on another device's topic is not the answer to our command.
    if (!waiting || waiting.device !== device) {
      this.unmatchedResults++;
      return;
    }
    this.#waiting.delete(result.id);
    waiting.settle(result);
  }

  /** Number of commands waiting for their answer. */
  get pending(): number {
    return this.#waiting.size;
  }

  /**
   * Sends one command to a device and waits for the gateway's answer (or answerTimeoutMs). Never throws.
   * `id`: the caller's own command id (a retry of the same request is then the same command, which the
   * gateway executes at most once); default a fresh UUID.
   */
  async send(device: string, action: DeviceAction, more: CommandOptions = {}): Promise<CommandReport> {
    const report = (
      over: Partial<CommandReport> & Pick<CommandReport, 'outcome' | 'detail'>,
    ): CommandReport => ({
      id: null,
      device,
      action,
      publishedAt: null,
      answeredAt: null,
      ...over,
    });
    if (!this.#devices.has(device))
      return report({ outcome: 'failed', detail: 'no such device in this site' });
    const status = this.#options.status;
    if (status?.gatewayOnline === false)
      return report({ outcome: 'offline', detail: 'the gateway is offline' });
    if (status?.device(device)?.online === false)
      return report({ outcome: 'offline', detail: 'the device is offline (last status from the gateway)' });
    const client = this.#client;
    if (!client || !this.ready)
      return report({ outcome: 'not_sent', detail: 'the API is not connected to the building broker' });

    const id = more.id ?? randomUUID();
    if (this.#waiting.has(id))
      return report({ outcome: 'duplicate', detail: 'a command with this id is already on its way' });
    const command: CommandMessage = {
      id,
      action,
      expiresAt: Date.now() + (this.#options.lifetimeMs ?? 10_000),
      ...(more.channel === undefined ? {} : { channel: more.channel }),
      ...(more.value === undefined ? {} : { value: more.value }),
    };
    let publishedAt: number | null = null;
    const answer = new Promise<CommandResultMessage | undefined>((resolve) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(id);
        resolve(undefined);
      }, this.#options.answerTimeoutMs ?? 6000);
      this.#waiting.set(id, {
        device,
        settle: (result) => {
          clearTimeout(timer);
          resolve(result);
        },
      });
    });
    client.publish(
      this.#topics.command(device),
      JSON.stringify(command),
      { qos: 1, retain: false },
      (err) => {
        if (err) {
          this.#options.logger?.warn({ device, id, err: err.message }, 'lock commands: publish failed');
          const waiting = this.#waiting.get(id);
          this.#waiting.delete(id);
          waiting?.settle({
            id,
            outcome: 'failed',
            detail: `publish failed: ${err.message}`,
            ts: Date.now(),
          });
        } else {
          publishedAt = Date.now();
        }
      },
    );
    const result = await answer;
    if (!result)
      return report({ id, outcome: 'no_answer', detail: 'no answer from the gateway in time', publishedAt });
    return report({
      id,
      outcome: result.outcome,
      detail: result.detail,
      publishedAt,
      answeredAt: Date.now(),
    });
  }

  async close(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    this.#subscribed = false;
    for (const [id, waiting] of this.#waiting) {
      waiting.settle({ id, outcome: 'failed', detail: 'command channel closed', ts: Date.now() });
    }
    this.#waiting.clear();
    if (client) await closeBrokerClient(client);
  }
}
