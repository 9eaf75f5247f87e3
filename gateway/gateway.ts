import type { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import mqtt, { type MqttClient } from 'mqtt';
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
import { confirmedBy } from '../device-profiles/confirmation.ts';
import type {
  DecodeResult,
  DeviceAction,
  DeviceProfile,
  OutgoingMessage,
} from '../device-profiles/profile.ts';
import type { JournalEntry, MessageJournal } from '../journal/journal.ts';
import { asNetwork, deviceKey, type SiteNetwork } from '../site/network.ts';
import type { DeviceConfig, SiteConfig } from '../site/site.ts';
import type { StoredReading, TimeSeriesStore } from '../storage/store.ts';
import { decideCommand, parseCommand } from './command-rules.ts';
import { type DeviceHealth, isOnline } from './device-health.ts';
import { DeviceMessageDecoder } from './ingest.ts';
import { JournalStoreWriter, type JournalStoreWriterOptions } from './journal-reader.ts';
import type { Quarantine } from './quarantine.ts';

/**
 * The edge gateway: vendor messages in, normalised readings out.
 *   journal of device messages -> profile decode -> (store, cursor after the store's ack)
 *                                                 + (republish on the building's topics, device health)
 * and the reverse path for commands:
 *   wesprint/<site>/commands/<device> -> rules -> profile encode -> vendor command topic -> device's answer -> result
 *
 * Device messages come from the journal (journal/journal.ts), where whoever took them from the devices made
 * them durable before acknowledging them (the broker in `wesprint start`, the MQTT intake against another
 * broker). The live path decodes each entry once, with its arrival time from the journal, as soon as it is
 * appended (`MessageJournal.uncommitted`: before its commit), and shows it then: device health, the
 * republished readings, the in-process live feeds, a lock's answer. A reading need not be durable to be
 * shown: nothing is acknowledged or stored from there, and a device whose message's write failed gets no
 * PUBACK and sends it again. The decoded readings wait for the entry's commit and only then go to the store
 * path (gateway/journal-reader.ts), which writes them in journal order and moves the cursor
 * `store` after the store acknowledged them, reading the journal again from the cursor when the store was
 * down: decoding again gives the same readings, so nothing is lost and nothing stored twice. The gateway's
 * MQTT client (a clean session) only takes commands and publishes readings, statuses and results.
 */

/** Every device topic filter of these profiles: what the journal's taker listens to, and the retained lookup. */
export function deviceFilters(profiles: Map<string, DeviceProfile>): string[] {
  const filters = new Set<string>();
  for (const profile of profiles.values()) for (const f of profile.subscriptions) filters.add(f);
  return [...filters];
}

/** A retained message as the broker keeps it. */
export interface RetainedMessage {
  topic: string;
  payload: Buffer;
}

export interface GatewayOptions {
  /**
   * The site file, or every site of a network (SITES_DIR): one gateway decodes and stores every site's
   * devices, republishes each on its own site's topics and takes each site's commands. Its client id and last
   * will are the first (home) site's.
   */
  site: SiteConfig | SiteNetwork;
  profiles: Map<string, DeviceProfile>;
  mqttUrl: string;
  username?: string;
  password?: string;
  /** The device messages, in order; the gateway reads it from the store's cursor on. */
  journal: MessageJournal;
  /** Where readings are stored (idempotent on its key: a batch read again is kept once). */
  store: Pick<TimeSeriesStore, 'write' | 'batchReadings'>;
  /**
   * The device messages retained at start (the in-process broker's `retained(deviceFilters(profiles))`):
   * read once for devices that announced themselves offline; old news, no readings.
   */
  retained?: () => Promise<RetainedMessage[]>;
  /**
   * In the broker's process (`wesprint start`): republishes a reading (QoS 0, not retained) straight into
   * the broker's routing (RunningBroker.publishOwn) instead of over the gateway's MQTT connection, which
   * then carries only commands, statuses and results; `reading` as decoded, for this process's own live
   * feeds (BuildingFeed.takeOwnReading: no JSON made and parsed back). Without it, readings go over the
   * connection while it is connected.
   */
  publishReading?: (topic: string, reading: StoredReading, payload: () => string) => void;
  /** The store path's settings (batch size, backoff, timeouts, memory bound); its defaults otherwise. */
  storeWriter?: Omit<JournalStoreWriterOptions, 'journal' | 'store' | 'decode' | 'logger'>;
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
  /**
   * The gateway client's id; default `wesprint-gateway-<site>`. Workers sharing a share group need one each
   * (two clients with one id take each other's connection over): `wesprint gateway` derives it from the
   * intake's per-DATA_DIR id (cli/gateway-intake.ts).
   */
  clientId?: string;
  /**
   * Set when several `wesprint gateway` workers share the devices' messages (MQTT_SHARE_GROUP, MQTT 5): the
   * commands come through `$share/<group>/` too, so one worker executes each, and device health is judged
   * from what any worker heard (see `peerNews`).
   */
  shareGroup?: string;
}

export interface GatewayStats {
  /** Journal entries read live, and commands received. */
  received: number;
  /** Expected traffic that is not a report (Zigbee2MQTT bridge topics, commands on their way to devices). */
  ignored: number;
  /** Readings decoded live (and republished). */
  readings: number;
  /** Messages quarantined, each once however often it is decoded. */
  quarantined: number;
  commands: number;
  /** Readings the store acknowledged since start, and the writes that carried them. */
  stored: number;
  storeWrites: number;
  /** Journal entries committed and not yet stored (committed − the store's cursor). */
  cursorLag: number;
  /** Readings held in memory for the store now, and the most ever held. */
  held: number;
  peakHeld: number;
  /** Store writes that failed or timed out since start. */
  storeFailures: number;
}

export interface Gateway {
  readonly client: MqttClient;
  /** Resolves once the broker has answered the gateway's first subscriptions. */
  readonly subscribed: Promise<void>;
  stats(): GatewayStats;
  /** True while the store failed and the journal's readings wait for it (the heartbeat's "spooling"). */
  isSpooling(): boolean;
  /** Re-evaluates which quiet devices are offline now and publishes what changed. */
  checkHealth(): void;
  stop(): Promise<void>;
}

interface SiteDevice {
  config: DeviceConfig;
  /** Its site's building topics. */
  topics: BuildingTopics;
  profile: DeviceProfile;
  health: DeviceHealth;
  online: boolean;
  /** Has been online since the gateway started: its first "online" is start-up routine, not news. */
  seenOnline: boolean;
  battery: number | undefined;
  /** Heard from since its status was last published: the next health tick republishes last-seen. */
  heard: boolean;
  pending: PendingCommand | undefined;
  /**
   * Its readings' topics by space and quantity, made once: a topic built per reading is a new string each
   * time, which the broker's `listenersOnThisNode` then flattens and hashes anew (4 % of the event loop in a
   * profiled `ingest-references` run, more than the routing it decides about).
   */
  readingTopics: Map<string, Map<string, string>>;
}

interface PendingCommand {
  command: CommandMessage & { action: DeviceAction };
  timer: NodeJS.Timeout;
}

const HEALTH_CHECK_MS = 10_000;
/** How long a worker of a share group waits after subscribing for the broker's retained device statuses. */
const RETAINED_SETTLE_MS = 1000;
/** How long stopping waits for the broker's acknowledgements; a stop must fit in docker stop's 10 s. */
const STOP_GRACE_MS = 2000;
/** Reading topics kept per device and space (`readingTopic`); more are made per reading. */
const READING_TOPICS_PER_SPACE = 256;
/** Journal entries read at a time by the live path. */
const READ_BATCH = 1000;

type EntryOutcome =
  | { outcome: 'ignored' }
  | { outcome: 'quarantined'; fresh: boolean }
  | {
      outcome: 'decoded';
      device: DeviceConfig;
      site: string;
      key: string;
      result: DecodeResult;
      readings: StoredReading[];
    };

/** The building topic of a device's reading in `space` of `quantity`, made once per device, space and quantity. */
function readingTopic(device: SiteDevice, space: string, quantity: string): string {
  let bySpace = device.readingTopics.get(space);
  if (bySpace === undefined) {
    bySpace = new Map();
    device.readingTopics.set(space, bySpace);
  }
  let topic = bySpace.get(quantity);
  if (topic === undefined) {
    topic = device.topics.reading(space, device.config.id, quantity);
    // Bounded whatever a profile decodes: a device has a few spaces (its channels') and quantities.
    if (bySpace.size < READING_TOPICS_PER_SPACE) bySpace.set(quantity, topic);
  }
  return topic;
}

/** A reading as the building's topics carry it (building/topics.ts ReadingMessage). */
function readingPayload(r: StoredReading): string {
  const message: ReadingMessage = { value: r.value, unit: r.unit, ts: r.ts, channel: r.channel };
  return JSON.stringify(message);
}

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const { profiles, journal, quarantine, logger } = options;
  const network = asNetwork(options.site);
  const site = network.sites[0] as SiteConfig;
  const now = options.now ?? Date.now;
  const maxPayload = options.maxPayloadBytes ?? 64 * 1024;
  const commandTimeoutMs = options.commandTimeoutMs ?? 5000;
  /** The home site's topics: the gateway's own status (its last will) is the home site's. */
  const topics: BuildingTopics = buildingTopics(site.site.id);
  const siteTopics = network.sites.map((s) => ({ siteId: s.site.id, topics: buildingTopics(s.site.id) }));
  const stats = { received: 0, ignored: 0, readings: 0, quarantined: 0, commands: 0 };

  /** By device key: its id, or `<site>/<device>` in a network (site/network.ts). */
  const devices = new Map<string, SiteDevice>();
  for (const { siteId, topics: own } of siteTopics) {
    const siteConfig = network.sites.find((s) => s.site.id === siteId) as SiteConfig;
    for (const config of siteConfig.devices) {
      const profile = profiles.get(config.profile);
      if (!profile)
        throw new Error(
          `device "${deviceKey(network, siteId, config.id)}" names unknown profile "${config.profile}"`,
        );
      devices.set(deviceKey(network, siteId, config.id), {
        config,
        topics: own,
        profile,
        health: { lastSeen: null, announced: null },
        online: false,
        seenOnline: false,
        battery: undefined,
        heard: false,
        pending: undefined,
        readingTopics: new Map(),
      });
    }
  }
  const decoder = new DeviceMessageDecoder(network, profiles, quarantine);

  /**
   * One journal entry decoded, live or again (the store catching up): the same outcome either way, since
   * the arrival time comes from the journal; quarantined once by its position (`fresh` the first time).
   * `keep` false only looks (an entry not yet committed: its position may go to another message).
   */
  const decodeEntry = (entry: JournalEntry, keep = true): EntryOutcome => {
    try {
      if (entry.payload.length > maxPayload) {
        if (!keep) return { outcome: 'quarantined', fresh: false };
        const site = decoder.siteOfTopic(entry.topic);
        const fresh = quarantine.add({
          receivedAt: entry.receivedAt,
          topic: entry.topic,
          payload: entry.payload,
          reason: 'oversized',
          detail: `payload of ${entry.payload.length} bytes exceeds ${maxPayload}`,
          seq: entry.seq,
          ...(site ? { site } : {}),
        });
        return { outcome: 'quarantined', fresh };
      }
      return decoder.decode(
        entry.topic,
        entry.payload,
        entry.receivedAt,
        keep ? { seq: entry.seq } : { quarantine: false },
      );
    } catch (err) {
      // A decoder bug must cost one message, never the gateway.
      if (!keep) return { outcome: 'quarantined', fresh: false };
      logger.error({ topic: entry.topic, err: (err as Error).message }, 'message handling failed');
      const site = decoder.siteOfTopic(entry.topic);
      const fresh = quarantine.add({
        receivedAt: entry.receivedAt,
        topic: entry.topic,
        payload: entry.payload,
        reason: 'malformed',
        detail: `gateway error: ${(err as Error).message}`,
        seq: entry.seq,
        ...(site ? { site } : {}),
      });
      return { outcome: 'quarantined', fresh };
    }
  };
  /** What of an entry is stored: a retained replay is old news, never a reading. */
  const storedReadings = (entry: JournalEntry, decoded: EntryOutcome): StoredReading[] =>
    decoded.outcome === 'decoded' && !entry.retainedReplay ? decoded.readings : [];

  const storeWriter = new JournalStoreWriter({
    ...options.storeWriter,
    journal,
    store: options.store,
    logger: logger.child({ part: 'store' }),
    decode: (entry) => {
      // Read again from the journal: stored, not republished; quarantined (and counted) only if new.
      const decoded = decodeEntry(entry);
      if (decoded.outcome === 'quarantined' && decoded.fresh) stats.quarantined++;
      return storedReadings(entry, decoded);
    },
  });

  const commandLog = openCommandLog(options.commandLogFile);

  const shareGroup = options.shareGroup;
  const client = mqtt.connect(options.mqttUrl, {
    ...brokerClientOptions,
    clientId: options.clientId ?? `wesprint-gateway-${site.site.id}`,
    // Shared subscriptions are MQTT 5 (as the intake's).
    ...(shareGroup ? { protocolVersion: 5 as const } : {}),
    // Commands and publishing only: device messages come from the journal. A clean session also wipes the
    // persistent session (with its device subscriptions) of a gateway from before the journal, so the
    // broker stops queueing device messages for it.
    clean: true,
    ...(options.username ? { username: options.username } : {}),
    ...(options.password ? { password: options.password } : {}),
    will: { topic: topics.gatewayStatus, payload: Buffer.from('offline'), qos: 1, retain: true },
  });
  keepConnected(client, { url: options.mqttUrl, logger });

  const publishReading = options.publishReading;
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
    publish(device.topics.deviceStatus(device.config.id), JSON.stringify(status), 1, true);
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

  const sendResult = (where: BuildingTopics, device: string, result: Omit<CommandResultMessage, 'ts'>) => {
    const message: CommandResultMessage = { ...result, ts: now() };
    logger.info({ device, ...(network.qualified ? { site: where.base } : {}), ...message }, 'command result');
    publish(where.commandResult(device), JSON.stringify(message), 1);
  };

  /**
   * The device's answer to its pending command: a receipt (a lock's `commandResponse`, an RPC response; one
   * naming another command's id answers nothing here) or the new state it reports (`confirmedBy`).
   */
  const finishCommand = (device: SiteDevice, ok: boolean, detail: string, answers?: string) => {
    const pending = device.pending;
    if (!pending || (answers !== undefined && answers !== pending.command.id)) return;
    clearTimeout(pending.timer);
    device.pending = undefined;
    sendResult(device.topics, device.config.id, {
      id: pending.command.id,
      outcome: ok ? 'done' : 'failed',
      detail,
    });
  };

  /** A switch or thermostat answers with its new state: a reading that is what the pending command asked. */
  const confirmByState = (
    device: SiteDevice,
    readings: readonly Pick<StoredReading, 'channel' | 'quantity' | 'value'>[],
  ) => {
    const pending = device.pending;
    if (!pending) return;
    const state = readings.find((r) => confirmedBy(pending.command, r));
    if (state)
      finishCommand(device, true, `confirmed: ${state.quantity} ${state.value} on channel ${state.channel}`);
  };

  /** Devices whose availability or readings came live since the start: a retained replay is older news. */
  const spokeLive = new Set<string>();
  /**
   * A new entry of the journal, once: device health, republishing (the live feeds), a lock's answer. Done as
   * soon as it is appended, before its commit when the journal shows it then (`showUncommitted`): a reading
   * does not need to be on disk to be shown, since nobody acknowledges or stores it from here.
   */
  const show = (entry: JournalEntry, decoded: EntryOutcome) => {
    stats.received++;
    try {
      if (decoded.outcome === 'ignored') stats.ignored++;
      else if (decoded.outcome === 'decoded') {
        const device = devices.get(decoded.key) as SiteDevice;
        const { result } = decoded;
        if (entry.retainedReplay) {
          // Replayed from a broker's retained store on subscribing: old news of unknown age. It may tell
          // whether the device announced itself offline, but it is no new reading and no sign of life. A
          // `wesprint broker` journals its replays when the gateway subscribes, so one can come after the
          // device spoke live since the start (its availability, a reading): that is newer and stands.
          if (result.availability && !spokeLive.has(decoded.key))
            device.health.announced = result.availability;
        } else {
          device.health.lastSeen = entry.receivedAt;
          device.heard = true;
          if (result.availability || result.readings.length > 0) spokeLive.add(decoded.key);
          if (result.availability) device.health.announced = result.availability;
          else if (device.health.announced === 'offline' && result.readings.length > 0)
            device.health.announced = null;
          for (const r of decoded.readings) {
            stats.readings++;
            if (r.quantity === 'battery' && typeof r.value === 'number') device.battery = r.value;
            // Live news only: while the broker is away a reading is not queued for later (the store has it).
            if (!publishReading && !client.connected) continue;
            const topic = readingTopic(device, r.space, r.quantity);
            // In process, serialised only if someone on the broker listens (publishOwn asks the function).
            if (publishReading) publishReading(topic, r, () => readingPayload(r));
            else publish(topic, readingPayload(r), 0);
          }
          if (result.commandResult) {
            const { ok, detail, id } = result.commandResult;
            if (device.pending || !shareGroup) finishCommand(device, ok, detail, id);
            // A worker of a share group: the broker may hand a device's answer to a worker other than the one
            // that sent the command; passed on to every worker (not shared), the one waiting for it finishes it.
            // (A state that confirms a command reaches the others as the republished reading: `peerNews`.)
            else if (client.connected)
              publish(answerTopic(device.topics, device.config.id), JSON.stringify(result.commandResult), 1);
          } else confirmByState(device, decoded.readings);
          setOnline(device);
        }
      }
    } catch (err) {
      logger.error({ topic: entry.topic, err: (err as Error).message }, 'message handling failed');
    }
  };
  /**
   * A committed entry: quarantined (and counted) if it cannot be decoded, its readings to the store. Every
   * entry, in order, with or without readings: the store's cursor moves past all of them.
   */
  const committed = (entry: JournalEntry, decoded: EntryOutcome) => {
    if (decoded.outcome === 'quarantined' && decoded.fresh) stats.quarantined++;
    storeWriter.handOff(entry.seq, storedReadings(entry, decoded));
  };

  /**
   * Entries shown before their commit, in journal order, with their decoding (done once: the store path takes
   * the readings from here at the commit). Bounded: with this many waiting for the disk, the next ones are
   * shown at their commit.
   */
  const shownEarly: { entry: JournalEntry; decoded: EntryOutcome }[] = [];
  let shownEarlyHead = 0;
  const MAX_SHOWN_EARLY = 10_000;
  const waitingForDisk = () => shownEarly.length - shownEarlyHead;
  /** The last position shown, committed or not (never behind `handed`). */
  let shown = 0;
  /** The last committed position handed to the store. */
  let handed = 0;
  const showUncommitted = () => {
    for (const entry of journal.uncommitted(shown)) {
      if (waitingForDisk() >= MAX_SHOWN_EARLY || stopping) return;
      // Only looked at: the quarantine keeps a message once it is on disk.
      const decoded = decodeEntry(entry, false);
      show(entry, decoded);
      shownEarly.push({ entry, decoded });
      shown = entry.seq;
    }
  };
  /** Its own message, or another at a position a failed write gave back (same content: the same readings). */
  const sameMessage = (a: JournalEntry, b: JournalEntry) =>
    a === b ||
    (a.receivedAt === b.receivedAt &&
      a.topic === b.topic &&
      a.retainedReplay === b.retainedReplay &&
      a.payload.equals(b.payload));
  const onCommitted = (entry: JournalEntry) => {
    let early: { entry: JournalEntry; decoded: EntryOutcome } | undefined;
    // Entries shown whose write failed (their positions given again) are left behind: shown, never stored.
    while (shownEarlyHead < shownEarly.length) {
      const next = shownEarly[shownEarlyHead] as { entry: JournalEntry; decoded: EntryOutcome };
      if (next.entry.seq > entry.seq) break;
      shownEarly[shownEarlyHead++] = undefined as never;
      if (next.entry.seq === entry.seq && sameMessage(next.entry, entry)) early = next;
    }
    if (shownEarlyHead > 4096 && shownEarlyHead * 2 > shownEarly.length) {
      shownEarly.splice(0, shownEarlyHead);
      shownEarlyHead = 0;
    }
    if (early) {
      // Decoded while only looking: what cannot be decoded is decoded again, now to be kept (rare).
      committed(entry, early.decoded.outcome === 'quarantined' ? decodeEntry(entry) : early.decoded);
    } else {
      // Not shown before its commit (the journal had it on disk first, or it came at a withdrawn position).
      const decoded = decodeEntry(entry);
      show(entry, decoded);
      committed(entry, decoded);
    }
    handed = entry.seq;
    if (shown < handed) shown = handed;
  };

  /** A retained device message read at start: whether the device announced itself offline (no reading). */
  const onRetained = (message: RetainedMessage) => {
    const decoded = decoder.decode(message.topic, message.payload, now(), { quarantine: false });
    if (decoded.outcome !== 'decoded' || !decoded.result.availability) return;
    const device = devices.get(decoded.key) as SiteDevice;
    // Heard live since the start: newer than what the broker kept.
    if (device.health.lastSeen === null) device.health.announced ??= decoded.result.availability;
  };

  // The live path starts at what is committed now; what lies before it (from the store's cursor on) is
  // stored by the store path alone: old news for device health and the live feed.
  const startSeq = journal.committed();
  storeWriter.start(startSeq);
  let stopping = false;
  // An AbortSignal, not a promise raced against each wait: a race leaves a reaction on the stop promise per
  // turn of the loop until the stop (journal/journal.ts waitFor).
  const stopRequest = new AbortController();
  const pause = (ms: number) =>
    sleep(ms, undefined, { signal: stopRequest.signal, ref: false }).catch(() => {});
  const readLive = async () => {
    if (options.retained) {
      try {
        for (const message of await options.retained()) onRetained(message);
      } catch (err) {
        logger.warn({ err: (err as Error).message }, 'could not read the retained device messages');
      }
    }
    shown = startSeq;
    handed = startSeq;
    while (!stopping) {
      // A new append wakes the loop too, unless too many shown wait for the disk.
      const watchAppends = waitingForDisk() < MAX_SHOWN_EARLY ? shown : undefined;
      await journal.waitFor(handed, stopRequest.signal, watchAppends);
      if (stopping) break;
      const before = { shown, handed };
      showUncommitted();
      if (journal.committed() > handed) {
        let entries: JournalEntry[];
        try {
          entries = await journal.read(handed, READ_BATCH);
        } catch (err) {
          logger.error({ err: (err as Error).message, after: handed }, 'reading the journal failed');
          await pause(1000);
          continue;
        }
        for (const entry of entries) {
          if (stopping) break;
          onCommitted(entry);
        }
      }
      if (shown === before.shown && handed === before.handed) {
        // waitFor resolves on close too, and for appends a failed write is about to withdraw: no spinning.
        await pause(50);
        continue;
      }
      await republished();
    }
  };
  /** The connection's buffer is full: the broker takes the republished readings slower than they come. */
  const mustDrain = () =>
    client.connected && (client.stream as Writable | undefined)?.writableNeedDrain === true;
  /**
   * Waits for the connection's buffer to drain (at most a second) before the next entries: the journal, not
   * memory, holds what waits, and MQTT.js is not handed thousands of writes to queue.
   */
  const republished = async () => {
    const stream = client.stream as Writable | undefined;
    if (!mustDrain() || !stream) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        stream.off('drain', done);
        resolve();
      };
      const timer = setTimeout(done, 1000);
      stream.once('drain', done);
    });
  };
  const reading = readLive();

  /**
   * Device health with a share group. Each worker journals only its share of a device's messages, so its own
   * last-seen lags (by a report, or by all of them when the broker hands the device's messages to another
   * worker) and workers that judged alone published flapping statuses. The rule: every worker also listens,
   * QoS 0 and not shared, to the building's readings and device statuses (its own and its peers'):
   * - a republished reading of the device: it was heard now (last-seen, nothing else; it never takes back an
   *   announced "offline", since a reading in flight may be older than the announcement);
   * - a device status (live, not a retained replay) whose last-seen is newer than this worker's: the publisher
   *   heard the device after this worker did, so its verdict is the device's own word: "offline" there is an
   *   announcement (a will, an availability topic; a worker that only timed out has no newer last-seen), and
   *   "online" takes back an announced "offline".
   * Statuses are still published only on a change (and by the worker that heard the device, each tick), so
   * workers that agree publish nothing new; they agree up to a broker hop.
   */
  /** A device's answer to a command, passed on between the workers of a share group. */
  const answerTopic = (where: BuildingTopics, device: string) => `${where.base}/commands/${device}/answer`;
  /** The site whose building topics a topic is on, and the rest of the topic after `wesprint/<site>/`. */
  const onSite = (topic: string): { siteId: string; topics: BuildingTopics; rest: string } | undefined => {
    for (const own of siteTopics) {
      if (topic.startsWith(own.topics.base) && topic[own.topics.base.length] === '/')
        return { ...own, rest: topic.slice(own.topics.base.length + 1) };
    }
    return undefined;
  };
  /** Devices whose status the broker held when this worker subscribed: not published again at its start. */
  const statusKnown = new Set<string>();
  const peerNews = (topic: string, payload: Buffer, retained: boolean) => {
    const where = onSite(topic);
    if (!where) return;
    const deviceOnSite = (id: string) => devices.get(deviceKey(network, where.siteId, id));
    if (where.rest.startsWith('readings/')) {
      const levels = where.rest.split('/');
      const device = deviceOnSite(levels[levels.length - 2] ?? '');
      if (!device) return;
      const at = now();
      if (device.health.lastSeen === null || device.health.lastSeen < at) device.health.lastSeen = at;
      setOnline(device);
      // The worker that sent a switch command may be another than the one that decoded the answering state.
      if (device.pending) {
        const reading = JSON.parse(String(payload)) as Partial<ReadingMessage>;
        const quantity = levels[levels.length - 1] ?? '';
        if (typeof reading.channel === 'string' && reading.value !== undefined)
          confirmByState(device, [
            {
              channel: reading.channel,
              quantity: quantity as StoredReading['quantity'],
              value: reading.value,
            },
          ]);
      }
      return;
    }
    if (!where.rest.startsWith('devices/') || !where.rest.endsWith('/status')) return;
    const device = deviceOnSite(where.rest.slice('devices/'.length, -'/status'.length));
    if (!device) return;
    let status: Partial<DeviceStatusMessage>;
    try {
      status = JSON.parse(String(payload));
    } catch {
      return;
    }
    if (typeof status.online !== 'boolean') return;
    if (retained) {
      // What the workers published before this one subscribed: its starting point, so that a worker joining
      // (or restarting) does not announce every device offline while the others hear them.
      statusKnown.add(deviceKey(network, where.siteId, device.config.id));
      if (typeof status.lastSeen === 'number' && device.health.lastSeen === null) {
        device.health.lastSeen = status.lastSeen;
        if (!status.online) device.health.announced ??= 'offline';
        device.online = status.online;
        device.seenOnline ||= status.online;
      }
      return;
    }
    if (typeof status.lastSeen !== 'number') return;
    if (device.health.lastSeen !== null && status.lastSeen <= device.health.lastSeen) return;
    device.health.lastSeen = status.lastSeen;
    if (!status.online) device.health.announced = 'offline';
    else if (device.health.announced === 'offline') device.health.announced = null;
    setOnline(device);
  };

  client.on('message', (topic, payload, packet) => {
    const where = onSite(topic);
    const isCommand = where?.rest.startsWith('commands/') === true;
    if (shareGroup && where && isCommand && topic.endsWith('/answer')) {
      const id = where.rest.slice('commands/'.length, -'/answer'.length);
      const device = devices.get(deviceKey(network, where.siteId, id));
      if (!device?.pending) return;
      try {
        const answer = JSON.parse(String(payload)) as { ok?: unknown; detail?: unknown; id?: unknown };
        if (typeof answer.ok === 'boolean' && typeof answer.detail === 'string')
          finishCommand(
            device,
            answer.ok,
            answer.detail,
            typeof answer.id === 'string' ? answer.id : undefined,
          );
      } catch (err) {
        logger.warn({ topic, err: (err as Error).message }, 'malformed command answer from a worker');
      }
      return;
    }
    if (shareGroup && !isCommand) {
      try {
        peerNews(topic, payload, packet.retain === true);
      } catch (err) {
        logger.error({ topic, err: (err as Error).message }, 'peer news handling failed');
      }
      return;
    }
    if (!where || !isCommand) return;
    stats.received++;
    const deviceId = where.rest.slice('commands/'.length);
    if (deviceId.includes('/')) return;
    try {
      onCommand(where, deviceId, payload);
    } catch (err) {
      logger.error({ topic, err: (err as Error).message }, 'command handling failed');
    }
  });

  const onCommand = (
    where: { siteId: string; topics: BuildingTopics },
    deviceId: string,
    payload: Buffer,
  ) => {
    stats.commands++;
    const key = deviceKey(network, where.siteId, deviceId);
    const parsed = parseCommand(payload);
    if (typeof parsed === 'string') {
      logger.warn({ device: key, reason: parsed }, 'malformed command refused');
      return;
    }
    const device = devices.get(key);
    if (device) setOnline(device);
    const decision = decideCommand(parsed, {
      now: now(),
      deviceKnown: device !== undefined,
      deviceOnline: device?.online ?? false,
      supportedActions: device?.profile.actions ?? [],
      ...(device?.profile.actionValues ? { actionValues: device.profile.actionValues } : {}),
      alreadySeen: (id) => !commandLog.remember(id, key, now()),
      busy: device?.pending !== undefined,
    });
    if (!decision.execute) {
      if (decision.id)
        sendResult(where.topics, deviceId, {
          id: decision.id,
          outcome: decision.outcome,
          detail: decision.detail,
        });
      return;
    }
    // decideCommand only executes for known devices with the action in profile.actions.
    const target = device as SiteDevice;
    const encode = target.profile.encodeCommand;
    // Switch output 2 of a Pro 4PM is channel "2"; a command without a channel is for channel 0.
    const { id, action, channel, value } = decision.command;
    const messages: OutgoingMessage[] = encode
      ? encode(target.config.topic, action, channel, { id, ...(value === undefined ? {} : { value }) })
      : [];
    const waitMs = Math.min(commandTimeoutMs, Math.max(0, decision.command.expiresAt - now()));
    target.pending = {
      command: decision.command,
      timer: setTimeout(() => {
        target.pending = undefined;
        sendResult(where.topics, deviceId, {
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
        device: key,
        id: decision.command.id,
        action: decision.command.action,
        channel: decision.command.channel ?? '0',
        ...(value === undefined ? {} : { value }),
      },
      'command sent',
    );
  };

  let firstSubscription = true;
  let subscribedOnce: () => void = () => {};
  const subscribed = new Promise<void>((resolve) => {
    subscribedOnce = resolve;
  });
  client.on('connect', () => {
    // MQTT.js leaves Nagle on: a lone lock command would wait for the broker's delayed ACK (~40 ms).
    (client.stream as { setNoDelay?: (on: boolean) => unknown }).setNoDelay?.(true);
    // Once the socket's buffer is full, MQTT.js adds a 'drain' listener per publish: a batch of the journal
    // republishes thousands of readings before the next batch waits for the drain (`republished`).
    (client.stream as { setMaxListeners?: (n: number) => unknown }).setMaxListeners?.(0);
    for (const own of siteTopics) publish(own.topics.gatewayStatus, 'online', 1, true);
    // A clean session: subscribed again on every connection. With a share group one worker gets each command
    // (a command is never executed twice), and every worker hears the building's readings and statuses.
    const subscriptions: Record<string, { qos: 0 | 1 }> = {};
    for (const { topics: own } of siteTopics) {
      if (shareGroup) {
        subscriptions[`$share/${shareGroup}/${own.allCommands}`] = { qos: 1 };
        subscriptions[own.allReadings] = { qos: 0 };
        subscriptions[own.allDeviceStatus] = { qos: 0 };
        subscriptions[answerTopic(own, '+')] = { qos: 1 };
      } else subscriptions[own.allCommands] = { qos: 1 };
    }
    client.subscribe(subscriptions, (err, granted) => {
      if (err) logger.error({ err: err.message }, 'subscribe failed');
      for (const g of granted ?? []) {
        if (g.qos === 128) logger.error({ topic: g.topic }, 'subscription refused by the broker');
      }
      if (err || !firstSubscription) return;
      firstSubscription = false;
      if (!shareGroup) for (const device of devices.values()) publishStatus(device);
      else {
        // The retained statuses come right behind the SUBACK: those devices keep what the broker holds.
        setTimeout(() => {
          if (stopping) return;
          for (const [key, device] of devices) if (!statusKnown.has(key)) publishStatus(device);
        }, RETAINED_SETTLE_MS).unref();
      }
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
    stats: () => {
      const store = storeWriter.stats();
      return {
        ...stats,
        stored: store.stored,
        storeWrites: store.writes,
        cursorLag: store.lag,
        held: store.held,
        peakHeld: store.peakHeld,
        storeFailures: store.failures,
      };
    },
    isSpooling: () => storeWriter.isBehind(),
    checkHealth: healthTick,
    stop() {
      stopped ??= (async () => {
        stopping = true;
        stopRequest.abort();
        clearInterval(healthTimer);
        for (const device of devices.values()) if (device.pending) clearTimeout(device.pending.timer);
        // The store write under way gets its grace while the client says goodbye; what the store has not
        // acknowledged stays in the journal past the cursor, where the next start resumes.
        const storing = storeWriter.stop();
        // A clean DISCONNECT suppresses the will, so say "offline" first; a broker that is gone hears
        // nothing, and its successor learns it from the will of the lost connection or the next start.
        if (client.connected) {
          await Promise.race([
            Promise.all(
              siteTopics.map(
                ({ topics: own }) =>
                  new Promise<void>((resolve) => {
                    client.publish(own.gatewayStatus, 'offline', { qos: 1, retain: true }, () => resolve());
                  }),
              ),
            ),
            new Promise<void>((resolve) => setTimeout(resolve, STOP_GRACE_MS).unref()),
          ]);
        }
        await closeBrokerClient(client, STOP_GRACE_MS);
        await storing;
        // The live path ends at its next step (a retained lookup that hangs is not waited for).
        await Promise.race([reading, new Promise<void>((resolve) => setTimeout(resolve, 500).unref())]);
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
