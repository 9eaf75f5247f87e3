import Database from 'better-sqlite3';
import mqtt, { type IPublishPacket, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { brokerClientOptions, closeBrokerClient, keepConnected } from '../building/broker-connection.ts';
import {
  type BuildingTopics,
  buildingTopics,
  type CommandMessage,
  type CommandResultMessage,
  type DeviceStatusMessage,
  type ReadingMessage,
} from '../building/topics.ts';
import type { DeviceProfile, OutgoingMessage } from '../device-profiles/profile.ts';
import type { DeviceConfig, SiteConfig } from '../site/site.ts';
import type { StoredReading } from '../storage/store.ts';
import { decideCommand, parseCommand } from './command-rules.ts';
import { type DeviceHealth, isOnline } from './device-health.ts';
import { DeviceMessageDecoder } from './ingest.ts';
import type { Quarantine } from './quarantine.ts';

/**
 * The edge gateway: vendor messages in, normalised readings out.
 *   device topic -> profile decode -> (store via the spool) + (republish on the building's topics)
 * and the reverse path for commands:
 *   wesprint/<site>/commands/<device> -> rules -> profile encode -> vendor command topic -> device's answer -> result
 */

/** Where readings go to be stored; the SpooledWriter, which never loses a reading when the store is down. */
export interface ReadingSink {
  add(reading: StoredReading): void;
}

export interface GatewayOptions {
  site: SiteConfig;
  profiles: Map<string, DeviceProfile>;
  mqttUrl: string;
  username?: string;
  password?: string;
  sink: ReadingSink;
  quarantine: Quarantine;
  /** SQLite file that remembers executed command ids across restarts (DATA_DIR/gateway.db). */
  commandLogFile: string;
  logger: Logger;
  /** How long to wait for a device to confirm a command. */
  commandTimeoutMs?: number;
  /** Messages larger than this are quarantined unread: no vendor payload comes close. */
  maxPayloadBytes?: number;
  now?: () => number;
  /**
   * Resolve at once and connect in the background (a service whose broker may not be up yet), instead of
   * once subscribed. Either way the gateway waits for the broker as long as it takes.
   */
  connectInBackground?: boolean;
}

export interface GatewayStats {
  received: number;
  /** Expected traffic that is not a report (Zigbee2MQTT bridge topics, commands on their way to devices). */
  ignored: number;
  readings: number;
  quarantined: number;
  commands: number;
}

export interface Gateway {
  readonly client: MqttClient;
  /** Resolves once the broker has answered the gateway's first subscriptions. */
  readonly subscribed: Promise<void>;
  stats(): GatewayStats;
  /** Re-evaluates which quiet devices are offline now and publishes what changed. */
  checkHealth(): void;
  stop(): Promise<void>;
}

interface SiteDevice {
  config: DeviceConfig;
  profile: DeviceProfile;
  health: DeviceHealth;
  online: boolean;
  /** Has been online since the gateway started: its first "online" is start-up routine, not news. */
  seenOnline: boolean;
  battery: number | undefined;
  /** Heard from since its status was last published: the next health tick republishes last-seen. */
  heard: boolean;
  pending: PendingCommand | undefined;
}

interface PendingCommand {
  command: CommandMessage;
  timer: NodeJS.Timeout;
}

const HEALTH_CHECK_MS = 10_000;
/** How long stopping waits for the broker's acknowledgements; a stop must fit in docker stop's 10 s. */
const STOP_GRACE_MS = 2000;

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const { site, profiles, sink, quarantine, logger } = options;
  const now = options.now ?? Date.now;
  const maxPayload = options.maxPayloadBytes ?? 64 * 1024;
  const commandTimeoutMs = options.commandTimeoutMs ?? 5000;
  const topics: BuildingTopics = buildingTopics(site.site.id);
  const stats: GatewayStats = { received: 0, ignored: 0, readings: 0, quarantined: 0, commands: 0 };

  const devices = new Map<string, SiteDevice>();
  for (const config of site.devices) {
    const profile = profiles.get(config.profile);
    if (!profile) throw new Error(`device "${config.id}" names unknown profile "${config.profile}"`);
    devices.set(config.id, {
      config,
      profile,
      health: { lastSeen: null, announced: null },
      online: false,
      seenOnline: false,
      battery: undefined,
      heard: false,
      pending: undefined,
    });
  }
  const decoder = new DeviceMessageDecoder(site, profiles, quarantine);

  const commandLog = openCommandLog(options.commandLogFile);

  const client = mqtt.connect(options.mqttUrl, {
    ...brokerClientOptions,
    clientId: `wesprint-gateway-${site.site.id}`,
    // A persistent session: while the gateway restarts, the broker keeps its QoS 1 messages.
    clean: false,
    ...(options.username ? { username: options.username } : {}),
    ...(options.password ? { password: options.password } : {}),
    will: { topic: topics.gatewayStatus, payload: Buffer.from('offline'), qos: 1, retain: true },
  });
  keepConnected(client, { url: options.mqttUrl, logger });

  const publish = (topic: string, payload: string, qos: 0 | 1, retain = false) => {
    client.publish(topic, payload, { qos, retain }, (err) => {
      if (err) logger.warn({ topic, err: err.message }, 'publish failed');
    });
  };

  const publishStatus = (device: SiteDevice) => {
    device.heard = false;
    const status: DeviceStatusMessage = {
      device: device.config.id,
      online: device.online,
      lastSeen: device.health.lastSeen,
      ...(device.battery !== undefined ? { battery: device.battery } : {}),
    };
    publish(topics.deviceStatus(device.config.id), JSON.stringify(status), 1, true);
  };

  const setOnline = (device: SiteDevice) => {
    const online = isOnline(device.health, device.profile, now());
    if (online !== device.online) {
      device.online = online;
      // Every device comes online once after a start (150 lines of chatter); what follows is news.
      const routine = online && !device.seenOnline;
      device.seenOnline ||= online;
      logger[routine ? 'debug' : 'info']({ device: device.config.id, online }, 'device availability changed');
      publishStatus(device);
    }
  };

  const sendResult = (device: string, result: Omit<CommandResultMessage, 'ts'>) => {
    const message: CommandResultMessage = { ...result, ts: now() };
    logger.info({ device, ...message }, 'command result');
    publish(topics.commandResult(device), JSON.stringify(message), 1);
  };

  const finishCommand = (device: SiteDevice, ok: boolean, detail: string) => {
    const pending = device.pending;
    if (!pending) return;
    clearTimeout(pending.timer);
    device.pending = undefined;
    sendResult(device.config.id, { id: pending.command.id, outcome: ok ? 'done' : 'failed', detail });
  };

  const onDeviceMessage = (packet: IPublishPacket, payload: Buffer) => {
    const receivedAt = now();
    if (payload.length > maxPayload) {
      stats.quarantined++;
      quarantine.add({
        receivedAt,
        topic: packet.topic,
        payload,
        reason: 'oversized',
        detail: `payload of ${payload.length} bytes exceeds ${maxPayload}`,
      });
      return;
    }
    const decoded = decoder.decode(packet.topic, payload, receivedAt);
    if (decoded.outcome === 'ignored') {
      stats.ignored++;
      return;
    }
    if (decoded.outcome === 'quarantined') {
      stats.quarantined++;
      return;
    }
    const device = devices.get(decoded.device.id) as SiteDevice;
    const { result } = decoded;
    if (packet.retain) {
      // Replayed from the broker's retained store on subscribing: old news of unknown age. It may tell
      // whether the device announced itself offline, but it is no new reading and no sign of life.
      if (result.availability) device.health.announced = result.availability;
      return;
    }
    device.health.lastSeen = receivedAt;
    device.heard = true;
    if (result.availability) device.health.announced = result.availability;
    else if (device.health.announced === 'offline' && result.readings.length > 0)
      device.health.announced = null;
    for (const r of decoded.readings) {
      sink.add(r);
      stats.readings++;
      if (r.quantity === 'battery' && typeof r.value === 'number') device.battery = r.value;
      const message: ReadingMessage = { value: r.value, unit: r.unit, ts: r.ts, channel: r.channel };
      publish(topics.reading(r.space, device.config.id, r.quantity), JSON.stringify(message), 0);
    }
    if (result.commandResult) finishCommand(device, result.commandResult.ok, result.commandResult.detail);
    setOnline(device);
  };

  const onCommand = (deviceId: string, payload: Buffer) => {
    stats.commands++;
    const parsed = parseCommand(payload);
    if (typeof parsed === 'string') {
      logger.warn({ device: deviceId, reason: parsed }, 'malformed command refused');
      return;
    }
    const device = devices.get(deviceId);
    if (device) setOnline(device);
    const decision = decideCommand(parsed, {
      now: now(),
      deviceKnown: device !== undefined,
      deviceOnline: device?.online ?? false,
      supportedActions: device?.profile.actions ?? [],
      alreadySeen: (id) => !commandLog.remember(id, deviceId, now()),
      busy: device?.pending !== undefined,
    });
    if (!decision.execute) {
      if (decision.id)
        sendResult(deviceId, { id: decision.id, outcome: decision.outcome, detail: decision.detail });
      return;
    }
    // decideCommand only executes for known devices with the action in profile.actions.
    const target = device as SiteDevice;
    const encode = target.profile.encodeCommand;
    // Switch output 2 of a Pro 4PM is channel "2"; a command without a channel is for channel 0.
    const messages: OutgoingMessage[] = encode
      ? encode(target.config.topic, decision.command.action, decision.command.channel)
      : [];
    const waitMs = Math.min(commandTimeoutMs, Math.max(0, decision.command.expiresAt - now()));
    target.pending = {
      command: decision.command,
      timer: setTimeout(() => {
        target.pending = undefined;
        sendResult(deviceId, {
          id: decision.command.id,
          outcome: 'timeout',
          detail: `device did not confirm within ${waitMs} ms`,
        });
      }, waitMs),
    };
    for (const m of messages) {
      client.publish(m.topic, m.payload, { qos: m.qos, retain: m.retain });
    }
    logger.info(
      {
        device: deviceId,
        id: decision.command.id,
        action: decision.command.action,
        channel: decision.command.channel ?? '0',
      },
      'command sent',
    );
  };

  const commandPrefix = `${topics.base}/commands/`;
  client.on('message', (topic, payload, packet) => {
    stats.received++;
    try {
      if (topic.startsWith(commandPrefix)) {
        const deviceId = topic.slice(commandPrefix.length);
        if (!deviceId.includes('/')) onCommand(deviceId, payload);
        return;
      }
      if (topic.startsWith(`${topics.base}/`)) return;
      onDeviceMessage(packet, payload);
    } catch (err) {
      // A decoder bug must cost one message, never the gateway.
      stats.quarantined++;
      logger.error({ topic, err: (err as Error).message }, 'message handling failed');
      quarantine.add({
        receivedAt: now(),
        topic,
        payload,
        reason: 'malformed',
        detail: `gateway error: ${(err as Error).message}`,
      });
    }
  });

  const filters = new Set<string>([topics.allCommands]);
  for (const profile of profiles.values()) for (const f of profile.subscriptions) filters.add(f);

  let firstSubscription = true;
  let subscribedOnce: () => void = () => {};
  const subscribed = new Promise<void>((resolve) => {
    subscribedOnce = resolve;
  });
  client.on('connect', () => {
    // MQTT.js leaves Nagle on: a lone lock command would wait for the broker's delayed ACK (~40 ms).
    (client.stream as { setNoDelay?: (on: boolean) => unknown }).setNoDelay?.(true);
    publish(topics.gatewayStatus, 'online', 1, true);
    // Subscribing again on a kept session is harmless, and picks up the filters of a newly added family.
    client.subscribe([...filters], { qos: 1 }, (err, granted) => {
      if (err) logger.error({ err: err.message }, 'subscribe failed');
      for (const g of granted ?? []) {
        if (g.qos === 128) logger.error({ topic: g.topic }, 'subscription refused by the broker');
      }
      if (err || !firstSubscription) return;
      firstSubscription = false;
      for (const device of devices.values()) publishStatus(device);
      subscribedOnce();
    });
  });

  if (!options.connectInBackground) await subscribed;
  // Status goes out at once when availability changes, and with fresh last-seen times every tick.
  const healthTick = () => {
    for (const device of devices.values()) {
      setOnline(device);
      if (device.heard) publishStatus(device);
    }
  };
  const healthTimer = setInterval(healthTick, HEALTH_CHECK_MS);
  healthTimer.unref();

  let stopped: Promise<void> | undefined;
  return {
    client,
    subscribed,
    stats: () => ({ ...stats }),
    checkHealth: healthTick,
    stop() {
      stopped ??= (async () => {
        clearInterval(healthTimer);
        for (const device of devices.values()) if (device.pending) clearTimeout(device.pending.timer);
        // A clean DISCONNECT suppresses the will, so say "offline" first; a broker that is gone hears
        // nothing, and its successor learns it from the will of the lost connection or the next start.
        if (client.connected) {
          await Promise.race([
            new Promise<void>((resolve) => {
              client.publish(topics.gatewayStatus, 'offline', { qos: 1, retain: true }, () => resolve());
            }),
            new Promise<void>((resolve) => setTimeout(resolve, STOP_GRACE_MS).unref()),
          ]);
        }
        await closeBrokerClient(client, STOP_GRACE_MS);
        commandLog.close();
      })();
      return stopped;
    },
  };
}

/** Executed command ids, kept on disk so that a command replayed after a gateway restart is still refused. */
function openCommandLog(file: string) {
  const db = new Database(file);
  db.pragma('busy_timeout = 5000');
  db.pragma('journal_mode = WAL');
  db.exec(
    'CREATE TABLE IF NOT EXISTS executed_command (id TEXT PRIMARY KEY, device TEXT NOT NULL, at INTEGER)',
  );
  const insert = db.prepare('INSERT OR IGNORE INTO executed_command (id, device, at) VALUES (?, ?, ?)');
  const prune = db.prepare('DELETE FROM executed_command WHERE at < ?');
  let inserts = 0;
  return {
    /** True when the id is new (and is now remembered). */
    remember(id: string, device: string, at: number): boolean {
      // Ids only need remembering for as long as a command could still be valid; a week is ample.
      if (++inserts % 1000 === 0) prune.run(at - 7 * 86_400_000);
      return insert.run(id, device, at).changes === 1;
    },
    close: () => db.close(),
  };
}
