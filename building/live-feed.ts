import { randomBytes } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import type { BaseLogger } from 'pino';
import { channelSpace } from '../site/channels.ts';
import { SERVICE_USERNAMES } from '../site/credentials.ts';
import type { DeviceConfig, SiteConfig } from '../site/site.ts';
import { brokerClientOptions, closeBrokerClient, keepConnected } from './broker-connection.ts';
import {
  allEventsFilter,
  type BuildingEvent,
  type EventAnnouncer,
  eventTopic,
  parseEvent,
} from './events.ts';
import { isQuantity, type Quantity, unitOf } from './quantities.ts';
import { FIRST_CHANNEL } from './reading.ts';
import { buildingTopics, type DeviceStatusMessage, ROOT } from './topics.ts';

/**
 * The API's view of the building: it listens to the building's own topics (what the gateway republishes
 * after decoding), never to vendor topics. Keeps a device directory and the freshest reading per device and
 * quantity, and hands live events to listeners (the WebSocket stream).
 * The building's topics are written by our gateway, but the broker may be shared or misconfigured: every
 * message is checked, and one that is not what the gateway sends is counted and ignored.
 */

export interface LiveReading {
  type: 'reading';
  site: string;
  space: string;
  device: string;
  /** The device's channel (relay or switch output, meter phase); `0` for a device with one. */
  channel: string;
  quantity: Quantity;
  value: number | string;
  unit: string;
  ts: number;
}

export interface DeviceState {
  device: string;
  /** As the gateway last announced it; null until the gateway has said anything about the device. */
  online: boolean | null;
  /** Epoch ms of the last message from the device, null if never heard. */
  lastSeen: number | null;
  /** Percent, from the status message or a battery reading; null if the device never reported one. */
  battery: number | null;
}

export interface LiveDeviceStatus extends DeviceState {
  type: 'device-status';
  site: string;
  space: string;
}

export interface LiveGatewayStatus {
  type: 'gateway-status';
  site: string;
  online: boolean;
}

export type LiveEvent = LiveReading | LiveDeviceStatus | LiveGatewayStatus;

export type BuildingMessage =
  | {
      kind: 'reading';
      space: string;
      device: string;
      channel: string;
      quantity: Quantity;
      value: number | string;
      unit: string;
      ts: number;
    }
  | { kind: 'device-status'; status: DeviceStatusMessage }
  | { kind: 'gateway-status'; online: boolean }
  | { kind: 'event'; event: BuildingEvent }
  /** A retained message being cleared (empty payload): not an error, nothing to do. */
  | { kind: 'cleared' }
  | { kind: 'malformed'; reason: string };

/** What a reading says, on the building's topics or handed over in process. */
type ReadingFields = Omit<Extract<BuildingMessage, { kind: 'reading' }>, 'kind'>;

/** Nothing the gateway publishes comes near this; a bigger message is not one of ours. */
export const MAX_BUILDING_PAYLOAD_BYTES = 4096;
const MAX_TEXT_VALUE_LENGTH = 256;
const CHANNEL = /^[A-Za-z0-9_-]{1,16}$/;
/** Year 2001 … 2286 in epoch ms: catches seconds-vs-milliseconds mistakes. */
const MIN_TS = 1e12;
const MAX_TS = 1e13;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function plausibleTs(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v >= MIN_TS && v < MAX_TS;
}

function parseJson(payload: Buffer): unknown {
  try {
    return JSON.parse(payload.toString('utf8'));
  } catch {
    return undefined;
  }
}

/** Pure: what a message on the building's topics says, or why it is not a building message. */
export function parseBuildingMessage(siteId: string, topic: string, payload: Buffer): BuildingMessage {
  if (payload.length > MAX_BUILDING_PAYLOAD_BYTES)
    return { kind: 'malformed', reason: `payload of ${payload.length} bytes is too large` };
  const parts = topic.split('/');
  if (parts[0] !== ROOT || parts[1] !== siteId) return { kind: 'malformed', reason: 'not this site' };
  const section = parts[2];
  if (section === 'readings') {
    if (parts.length !== 6) return { kind: 'malformed', reason: 'reading topic needs space/device/quantity' };
    const [, , , space = '', device = '', quantity = ''] = parts;
    if (!space || !device) return { kind: 'malformed', reason: 'empty space or device in topic' };
    if (!isQuantity(quantity)) return { kind: 'malformed', reason: `unknown quantity "${quantity}"` };
    const body = parseJson(payload);
    if (!isRecord(body)) return { kind: 'malformed', reason: 'reading payload is not a JSON object' };
    const { value, unit, ts, channel = FIRST_CHANNEL } = body;
    const numeric = typeof value === 'number' && Number.isFinite(value);
    const text = typeof value === 'string' && value.length <= MAX_TEXT_VALUE_LENGTH;
    if (!(numeric || text) || (typeof value !== 'number' && typeof value !== 'string'))
      return { kind: 'malformed', reason: 'value must be a finite number or a short text' };
    if (typeof unit !== 'string' || unit !== unitOf(quantity))
      return { kind: 'malformed', reason: `unit of ${quantity} must be ${unitOf(quantity)}` };
    if (!plausibleTs(ts)) return { kind: 'malformed', reason: 'ts must be epoch milliseconds' };
    // A gateway from before channels counted sends none: its readings are channel 0.
    if (typeof channel !== 'string' || !CHANNEL.test(channel))
      return { kind: 'malformed', reason: 'channel must be a short word ([A-Za-z0-9_-])' };
    return { kind: 'reading', space, device, channel, quantity, value, unit, ts };
  }
  if (section === 'devices') {
    if (parts.length !== 5 || parts[4] !== 'status' || !parts[3])
      return { kind: 'malformed', reason: 'device topic must be devices/<device>/status' };
    if (payload.length === 0) return { kind: 'cleared' };
    const body = parseJson(payload);
    if (!isRecord(body)) return { kind: 'malformed', reason: 'status payload is not a JSON object' };
    const { device, online, lastSeen, battery } = body;
    if (typeof device !== 'string' || device !== parts[3])
      return { kind: 'malformed', reason: 'device in payload differs from topic' };
    if (typeof online !== 'boolean') return { kind: 'malformed', reason: 'online must be true or false' };
    if (lastSeen !== null && !plausibleTs(lastSeen))
      return { kind: 'malformed', reason: 'lastSeen must be epoch milliseconds or null' };
    if (battery !== undefined && !(typeof battery === 'number' && battery >= 0 && battery <= 100))
      return { kind: 'malformed', reason: 'battery must be a percentage' };
    const status: DeviceStatusMessage = { device, online, lastSeen };
    if (battery !== undefined) status.battery = battery;
    return { kind: 'device-status', status };
  }
  if (section === 'gateway' && parts.length === 4 && parts[3] === 'status') {
    if (payload.length === 0) return { kind: 'cleared' };
    const text = payload.toString('utf8');
    if (text === 'online' || text === 'offline') return { kind: 'gateway-status', online: text === 'online' };
    return { kind: 'malformed', reason: 'gateway status must be "online" or "offline"' };
  }
  if (section === 'events') {
    const parsed = parseEvent(siteId, topic, payload);
    return parsed.ok ? { kind: 'event', event: parsed.event } : { kind: 'malformed', reason: parsed.reason };
  }
  return { kind: 'malformed', reason: 'not a building topic the API reads' };
}

export interface BuildingFeedOptions {
  /** e.g. `mqtt://127.0.0.1:1883`. */
  url: string;
  /** Defaults to the API's service account `wesprint-api`. */
  username?: string;
  password?: string;
  site: SiteConfig;
  logger?: BaseLogger;
  clientId?: string;
  /** First wait after losing the broker, doubling to 30 s while it stays away (default 1 s). */
  reconnectPeriodMs?: number;
  /**
   * The gateway runs in this process and hands its readings to `ingest` (`wesprint start`, cli/parts.ts):
   * the feed does not subscribe to the readings' topics, so a reading is not routed by the broker and
   * carried back over the feed's connection (device and gateway statuses and events still come that way).
   */
  readingsInProcess?: boolean;
}

export interface FeedStats {
  messages: number;
  readings: number;
  deviceStatuses: number;
  malformed: number;
  /** Well-formed messages about devices (or device/space pairs) the site file does not know. */
  unknownDevice: number;
  /** Listeners that threw; the feed goes on. */
  listenerErrors: number;
  /** Retained replays older than a live message on the same topic since this connection began (ignored). */
  staleReplays: number;
  /** Building events heard (bookings, alerts, doors), whichever process told them. */
  events: number;
  /** Building events this process told (published). */
  eventsAnnounced: number;
  /** Events this process could not publish (not connected, or the broker refused): live news, not kept. */
  eventsDropped: number;
}

export type EventListener = (event: BuildingEvent) => void;

export type LiveListener = (event: LiveEvent) => void;

export class BuildingFeed implements EventAnnouncer {
  readonly site: SiteConfig;
  private readonly topics: ReturnType<typeof buildingTopics>;
  private readonly options: BuildingFeedOptions;
  private readonly logger: BaseLogger | undefined;
  private readonly spaceOf = new Map<string, string>();
  private readonly configOf = new Map<string, DeviceConfig>();
  private readonly directory = new Map<string, DeviceState>();
  /** device -> channel and quantity -> newest reading; bounded by the site's devices × channels × quantities. */
  private readonly freshest = new Map<string, Map<string, LiveReading>>();
  private readonly listeners = new Set<LiveListener>();
  private client: MqttClient | undefined;
  private subscribed = false;
  private gateway: boolean | null = null;
  private readonly counters: FeedStats = {
    messages: 0,
    readings: 0,
    deviceStatuses: 0,
    malformed: 0,
    unknownDevice: 0,
    listenerErrors: 0,
    staleReplays: 0,
    events: 0,
    eventsAnnounced: 0,
    eventsDropped: 0,
  };
  private readonly eventListeners = new Set<EventListener>();
  /**
   * Status topics heard live since the feed (re)subscribed. The broker sends a new subscription the retained
   * messages it read at subscribe time, and a status published meanwhile can overtake them (aedes reads the
   * retained store asynchronously): a lock's 'offline' from the gateway's start arrived after its live
   * 'online' and made the lock look offline for good. A replay after a live message on its topic is older.
   */
  private readonly heardLive = new Set<string>();
  private readonly connectedWaiters = new Set<() => void>();

  constructor(options: BuildingFeedOptions) {
    this.options = options;
    this.site = options.site;
    this.logger = options.logger;
    this.topics = buildingTopics(options.site.site.id);
    for (const device of options.site.devices) {
      this.spaceOf.set(device.id, device.space);
      this.configOf.set(device.id, device);
      this.directory.set(device.id, { device: device.id, online: null, lastSeen: null, battery: null });
    }
  }

  /** Starts connecting (and reconnecting); does not wait. A broker that is down makes the API unready, not dead. */
  start(): void {
    if (this.client) return;
    const o = this.options;
    const client = mqtt.connect(o.url, {
      ...brokerClientOptions,
      username: o.username ?? SERVICE_USERNAMES.api,
      ...(o.password !== undefined ? { password: o.password } : {}),
      clientId: o.clientId ?? `${SERVICE_USERNAMES.api}-${randomBytes(4).toString('hex')}`,
      clean: true,
      protocolVersion: 4,
      // We subscribe on every connect ourselves, so the grant can be checked each time.
      resubscribe: false,
    });
    this.client = client;
    keepConnected(client, {
      name: 'building feed',
      url: o.url,
      ...(this.logger ? { logger: this.logger } : {}),
      ...(o.reconnectPeriodMs !== undefined ? { minDelayMs: o.reconnectPeriodMs } : {}),
    });
    client.on('connect', () => {
      // Replays of this connection's subscriptions are the state as of now, newer than anything heard before.
      this.heardLive.clear();
      this.subscribe(client);
    });
    client.on('close', () => {
      this.subscribed = false;
    });
    client.on('message', (topic, payload, packet) => {
      this.ingest(topic, payload, Date.now(), packet.retain);
    });
  }

  private subscribe(client: MqttClient): void {
    const filters = [
      ...(this.options.readingsInProcess ? [] : [this.topics.allReadings]),
      this.topics.allDeviceStatus,
      this.topics.gatewayStatus,
      allEventsFilter(this.site.site.id),
    ];
    client.subscribe(filters, { qos: 1 }, (err, granted) => {
      if (err) {
        this.logger?.warn({ err: err.message }, 'building feed: subscribe failed');
        return;
      }
      const refused = (granted ?? []).filter((g) => g.qos === 128).map((g) => g.topic);
      if (refused.length > 0) {
        this.logger?.warn(
          { refused },
          'building feed: broker refused subscriptions (check the ACL of wesprint-api)',
        );
        return;
      }
      this.subscribed = true;
      this.logger?.debug({}, 'building feed: subscribed to building topics');
      for (const wake of this.connectedWaiters) wake();
      this.connectedWaiters.clear();
    });
  }

  /** Connected to the broker and subscribed to every building topic. */
  get connected(): boolean {
    return this.subscribed && this.client?.connected === true;
  }

  /** Resolves once connected and subscribed; rejects after timeoutMs. */
  waitUntilConnected(timeoutMs = 10_000): Promise<void> {
    if (this.connected) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const wake = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.connectedWaiters.delete(wake);
        reject(new Error(`building feed: not connected to ${this.options.url} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.connectedWaiters.add(wake);
    });
  }

  /** What the gateway last announced about itself; null before it said anything. */
  get gatewayOnline(): boolean | null {
    return this.gateway;
  }

  /**
   * Takes one message from the building's topics. Called for every MQTT message; public so that a process
   * that already holds the messages (e.g. the gateway in the same process) can feed the API directly.
   */
  ingest(topic: string, payload: Buffer, receivedAt = Date.now(), retained = false): void {
    this.counters.messages++;
    const message = parseBuildingMessage(this.site.site.id, topic, payload);
    if (message.kind === 'gateway-status' || message.kind === 'device-status') {
      if (!retained) this.heardLive.add(topic);
      else if (this.heardLive.has(topic)) {
        this.counters.staleReplays++;
        return;
      }
    }
    switch (message.kind) {
      case 'malformed':
        this.counters.malformed++;
        this.logger?.debug({ topic, reason: message.reason }, 'building feed: ignored malformed message');
        return;
      case 'cleared':
        return;
      case 'gateway-status':
        if (this.gateway !== message.online) {
          this.gateway = message.online;
          this.emit({ type: 'gateway-status', site: this.site.site.id, online: message.online });
        }
        return;
      case 'device-status':
        this.takeStatus(message.status);
        return;
      case 'reading':
        this.takeReading(message, receivedAt);
        return;
      case 'event':
        this.counters.events++;
        for (const listener of this.eventListeners) {
          try {
            listener(message.event);
          } catch (err) {
            this.counters.listenerErrors++;
            this.logger?.warn({ err: (err as Error).message }, 'building feed: an event listener failed');
          }
        }
        return;
    }
  }

  /**
   * A reading of this process's own gateway (`readingsInProcess`), as it decoded it: taken as a reading from
   * the broker is, without the JSON made for the broker and parsed back (three to four readings a message).
   */
  takeOwnReading(reading: ReadingFields, receivedAt = Date.now()): void {
    this.counters.messages++;
    // A device's own clock can be far off (seconds for milliseconds): kept in the store, not shown live.
    if (!plausibleTs(reading.ts)) {
      this.counters.malformed++;
      return;
    }
    this.takeReading(reading, receivedAt);
  }

  /**
   * Tells a building event on `wesprint/<site>/events/<type>` (QoS 1, not retained). Every process's feed,
   * this one's too, hears it from the broker: listeners learn of it that way only, so that it reaches all of
   * them once, whichever process told it. Without a broker connection it is dropped and counted (events are
   * live news; the records keep what happened).
   */
  announce(event: BuildingEvent): void {
    const client = this.client;
    if (!client?.connected) {
      this.counters.eventsDropped++;
      this.logger?.warn({ type: event.type, id: event.id }, 'building feed: no broker, event not told');
      return;
    }
    client.publish(
      eventTopic(event.site, event.type),
      JSON.stringify(event),
      { qos: 1, retain: false },
      (err) => {
        if (err) {
          this.counters.eventsDropped++;
          this.logger?.warn({ type: event.type, err: err.message }, 'building feed: event not told');
        } else this.counters.eventsAnnounced++;
      },
    );
  }

  /** Adds a listener for building events; returns the function that removes it. */
  subscribeEvents(listener: EventListener): () => void {
    this.eventListeners.add(listener);
    return () => {
      this.eventListeners.delete(listener);
    };
  }

  private takeReading(m: ReadingFields, receivedAt: number): void {
    const state = this.directory.get(m.device);
    const config = this.configOf.get(m.device);
    if (!state || !config || channelSpace(config, m.channel) !== m.space) {
      this.counters.unknownDevice++;
      return;
    }
    this.counters.readings++;
    const reading: LiveReading = {
      type: 'reading',
      site: this.site.site.id,
      space: m.space,
      device: m.device,
      channel: m.channel,
      quantity: m.quantity,
      value: m.value,
      unit: m.unit,
      ts: m.ts,
    };
    let perQuantity = this.freshest.get(m.device);
    if (!perQuantity) {
      perQuantity = new Map();
      this.freshest.set(m.device, perQuantity);
    }
    const key = `${m.channel}\u0000${m.quantity}`;
    const previous = perQuantity.get(key);
    if (!previous || previous.ts <= m.ts) perQuantity.set(key, reading);
    // A device clock running ahead must not make it look seen in the future.
    const seen = Math.min(m.ts, receivedAt);
    if (state.lastSeen === null || seen > state.lastSeen) state.lastSeen = seen;
    if (m.quantity === 'battery' && typeof m.value === 'number') state.battery = m.value;
    this.emit(reading);
  }

  private takeStatus(status: DeviceStatusMessage): void {
    const state = this.directory.get(status.device);
    if (!state) {
      this.counters.unknownDevice++;
      return;
    }
    this.counters.deviceStatuses++;
    const before = { online: state.online, battery: state.battery };
    state.online = status.online;
    if (status.lastSeen !== null && (state.lastSeen === null || status.lastSeen > state.lastSeen))
      state.lastSeen = status.lastSeen;
    if (status.battery !== undefined) state.battery = status.battery;
    if (before.online !== state.online || before.battery !== state.battery) {
      this.emit({
        type: 'device-status',
        site: this.site.site.id,
        space: this.spaceOf.get(status.device) ?? '',
        ...state,
      });
    }
  }

  private emit(event: LiveEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (err) {
        this.counters.listenerErrors++;
        this.logger?.warn({ err: (err as Error).message }, 'building feed: a live listener failed');
      }
    }
  }

  /** Adds a listener for live events; returns the function that removes it. */
  subscribeLive(listener: LiveListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  get listenerCount(): number {
    return this.listeners.size;
  }

  /** Directory entry of one site device; undefined for ids the site does not know. */
  device(id: string): DeviceState | undefined {
    const state = this.directory.get(id);
    return state ? { ...state } : undefined;
  }

  devices(): DeviceState[] {
    return [...this.directory.values()].map((s) => ({ ...s }));
  }

  /** Newest reading per (device, channel, quantity) heard since start, filtered like store.latest. */
  latest(filter: { device?: string; space?: string; quantity?: string } = {}): LiveReading[] {
    const out: LiveReading[] = [];
    for (const [device, perQuantity] of this.freshest) {
      if (filter.device !== undefined && device !== filter.device) continue;
      for (const reading of perQuantity.values()) {
        if (filter.space !== undefined && reading.space !== filter.space) continue;
        if (filter.quantity !== undefined && reading.quantity !== filter.quantity) continue;
        out.push(reading);
      }
    }
    return out;
  }

  stats(): FeedStats {
    return { ...this.counters };
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.subscribed = false;
    if (client) await closeBrokerClient(client);
  }
}
