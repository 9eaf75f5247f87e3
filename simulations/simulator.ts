import mqtt, { type MqttClient } from 'mqtt';
import {
  type BrokerLinkState,
  brokerClientOptions,
  closeBrokerClient,
  keepConnected,
} from '../building/broker-connection.ts';
import { loadOrCreateSecrets } from '../site/credentials.ts';
import { asNetwork, deviceAccountName, deviceKey, type SiteNetwork } from '../site/network.ts';
import type { DeviceConfig, SiteConfig } from '../site/site.ts';
import { createVirtualDevice, loadSimulators } from './family-simulators.ts';
import { SimulatedBuilding } from './simulated-building.ts';
import type { CommandIo, DeviceMessage, LockMode, LockOptions, VirtualDevice } from './virtual-device.ts';

/**
 * Runs the virtual devices of a site against an MQTT broker, each with its own connection, client id,
 * credentials and last will, as the real devices would.
 *
 * Time: simulatedNow = start + (realNow − realStart) × speed. Everything a device says about time
 * (Tasmota `Time`, Shelly Gen2 `minute_ts`/`ts`) and everything the building model computes follows
 * simulated time.
 *
 * Reporting intervals, in real time: each device reports every firmware interval compressed by the
 * speed (Shelly Gen1 30 s, Gen2 60 s, Tasmota TelePeriod 300 s, Zigbee sensors 60 s, Nuki battery
 * 3600 s), but never more often than `minReportIntervalMs` (default 5 s real), so a fast simulated day
 * does not flood the broker: at SIM_SPEED=1 the devices report as in the building; at SIM_SPEED=1440 a
 * meter reports every 5 s real (= 2 simulated hours) and its counter integrates everything in between.
 * Lock motors and re-locking run in real time (a phone user waits for a real door).
 */

export interface MqttCredentials {
  username: string;
  password: string;
}

export interface SimulationLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

export interface SimulationOptions {
  site: SiteConfig;
  mqttUrl: string;
  /** Credentials each device connects with; undefined = connect without user name (lab brokers). */
  credentials: (device: DeviceConfig) => MqttCredentials | undefined;
  /** Simulated seconds per real second (1 = real time; 1440 = a day per minute). */
  speed: number;
  seed?: string | number;
  /** Simulated epoch ms at the start; default: now. */
  start?: number;
  logger?: SimulationLogger;
  /** Which site devices to run; default all of those whose family has a simulator. */
  devices?: (device: DeviceConfig) => boolean;
  /**
   * Put before every device's MQTT client id: the simulated sites of a network (`<site>/`) share one broker,
   * where a client id is one connection, and some families' client ids are their device ids.
   */
  clientIdPrefix?: string;
  /** Shortest real interval between two reports of one device (default 5000 ms). */
  minReportIntervalMs?: number;
  /** How long startSimulation waits for all devices to connect before resolving anyway (default 15 s). */
  connectTimeoutMs?: number;
  /** Ends that wait early (the process is asked to stop while the broker is not there yet). */
  signal?: AbortSignal;
  rebootProbabilityPerDay?: number;
  lock?: LockOptions;
  /**
   * A meter's counter at the start, Wh, or undefined for a seeded in-service value: so that the meters
   * go on from the stored history instead of jumping (simulations/history/meters.ts storedCounters).
   */
  counterWh?: (device: DeviceConfig) => number | undefined;
}

/** Test and demo handle on one virtual Nuki lock. */
export interface LockControls {
  id: string;
  topic: string;
  /** The state code as the lock's firmware reports it (Nuki: 1 locked, 3 unlocked, …). */
  state(): number;
  mode(): LockMode;
  /**
   * `offline`: the lock drops off the network without saying goodbye (the broker sends its last will,
   * `connected` false); `unresponsive`: stays connected but ignores commands; `normal`: back to work.
   */
  setMode(mode: LockMode): Promise<void>;
  commandsReceived(): number;
}

export interface SimulationStats {
  devices: number;
  connected: number;
  messagesSent: number;
  messagesByProfile: Record<string, number>;
  publishErrors: number;
  connectErrors: number;
  skippedDevices: string[];
  simulatedNow: number;
  speed: number;
}

export interface Simulation {
  stop(): Promise<void>;
  locks: Map<string, LockControls>;
  stats(): SimulationStats;
  /** Simulated epoch ms now. */
  now(): number;
  /**
   * Overrides the building model in one space (people present, CO2 in ppm; null withdraws it) and has
   * that space's sensors report at once, as if the change had just happened.
   */
  stage(spaceId: string, direction: { people?: number | null; co2Ppm?: number | null }): void;
}

const counterOption = (wh: number | undefined) => (wh === undefined ? {} : { counterWh: wh });

const silent: SimulationLogger = { info() {}, warn() {}, error() {}, debug() {} };

/**
 * Devices connect with the passwords kept in DATA_DIR/secrets.json (created if missing). A site of a network
 * (SITES_DIR) gives its network: its devices' accounts and secrets are `<site>/<device>` (site/network.ts).
 */
export function credentialsFromDataDir(
  dataDir: string,
  site: SiteConfig,
  logger: SimulationLogger = silent,
  network: SiteNetwork = asNetwork(site),
): (device: DeviceConfig) => MqttCredentials | undefined {
  const secrets = loadOrCreateSecrets(dataDir, network);
  return (device) => {
    const password = secrets.devices[deviceKey(network, site.site.id, device.id)];
    if (!password) {
      // a hash pinned in the site file has no plaintext here: the real device holds it
      logger.warn(
        { device: device.id },
        'no password for device in secrets.json (hash pinned in site file?)',
      );
      return undefined;
    }
    return { username: deviceAccountName(network, site.site.id, device), password };
  };
}

/** Every device connects with the same account (a lab broker or a shared service account). */
export function sharedCredentials(credentials: MqttCredentials | undefined) {
  return (_device: DeviceConfig) => credentials;
}

interface Running {
  device: VirtualDevice;
  client: MqttClient | undefined;
  timer: NodeJS.Timeout | undefined;
  firstReport: NodeJS.Timeout | undefined;
  connectedOnce: boolean;
  offline: boolean;
}

export async function startSimulation(options: SimulationOptions): Promise<Simulation> {
  if (!(options.speed > 0)) throw new Error(`simulation speed must be positive, got ${options.speed}`);
  const logger = options.logger ?? silent;
  const speed = options.speed;
  const realStart = Date.now();
  const simStart = options.start ?? realStart;
  const now = () => simStart + (Date.now() - realStart) * speed;
  const building = new SimulatedBuilding(options.site, options.seed ?? 'kaufhaus');
  const minInterval = options.minReportIntervalMs ?? 5000;
  const pendingTimers = new Set<NodeJS.Timeout>();
  let stopped = false;
  let messagesSent = 0;
  let publishErrors = 0;
  let connectErrors = 0;
  const messagesByProfile: Record<string, number> = {};
  const skipped: string[] = [];
  const running = new Map<string, Running>();
  const locks = new Map<string, LockControls>();

  // One device's connection changes are logged at debug level; the building as a whole once per change:
  // all devices connected, or some of them without the broker.
  const withoutBroker = new Set<string>();
  let fleet: 'starting' | 'all' | 'some' = 'starting';
  // Said at once, not after the 15 s wait for the devices: a broker that is not there yet (compose order).
  let waitingSaid = false;
  const reportFleet = () => {
    if (fleet === 'starting') return;
    if (withoutBroker.size === 0 && fleet !== 'all') {
      fleet = 'all';
      logger.info({ devices: running.size }, 'all simulated devices are connected');
    } else if (withoutBroker.size > 0 && fleet === 'all') {
      fleet = 'some';
      logger.warn(
        { without: withoutBroker.size, devices: running.size },
        'simulated devices lost the broker; they reconnect with backoff',
      );
    }
  };

  const publish = (r: Running, messages: DeviceMessage[]) => {
    const client = r.client;
    if (!client?.connected || stopped) return;
    for (const m of messages) {
      client.publish(m.topic, m.payload, { qos: m.qos, retain: m.retain }, (err) => {
        if (err) {
          publishErrors++;
          logger.debug({ device: r.device.config.id, err: err.message }, 'publish failed');
        }
      });
      messagesSent++;
      const profile = r.device.config.profile;
      messagesByProfile[profile] = (messagesByProfile[profile] ?? 0) + 1;
    }
  };

  const later = (realMs: number, action: () => void) => {
    const timer = setTimeout(() => {
      pendingTimers.delete(timer);
      if (!stopped) action();
    }, realMs);
    pendingTimers.add(timer);
  };

  const connect = (r: Running, onFirstConnect: () => void) => {
    const cfg = r.device.config;
    const creds = options.credentials(cfg);
    const will = r.device.will;
    const client = mqtt.connect(options.mqttUrl, {
      ...brokerClientOptions,
      clientId: `${options.clientIdPrefix ?? ''}${r.device.clientId}`,
      ...(creds ? { username: creds.username, password: creds.password } : {}),
      protocolVersion: 4,
      clean: true,
      keepalive: 60,
      will: { topic: will.topic, payload: Buffer.from(will.payload), qos: will.qos, retain: will.retain },
    });
    r.client = client;
    keepConnected(client, {
      name: `simulated device ${cfg.id}`,
      url: options.mqttUrl,
      logger,
      quiet: true,
      onStateChange: (state: BrokerLinkState) => {
        // A device taken offline on purpose (a lock's `offline` mode) is not missing.
        if (r.client !== client) return;
        if (state === 'connected') withoutBroker.delete(cfg.id);
        else withoutBroker.add(cfg.id);
        if (fleet === 'starting' && state === 'unreachable' && !waitingSaid && !stopped) {
          waitingSaid = true;
          logger.warn(
            { devices: running.size },
            'the broker is not reachable yet; the simulated devices retry with backoff',
          );
        }
        reportFleet();
      },
    });
    const io: CommandIo = { publish: (m) => publish(r, m), after: later, simNow: now };
    client.on('connect', () => {
      if (stopped) return;
      publish(r, r.device.birth(now()));
      if (r.device.commandTopics.length > 0 && !r.connectedOnce) {
        client.subscribe(r.device.commandTopics, { qos: 1 }, (err) => {
          if (err) logger.warn({ device: cfg.id, err: err.message }, 'subscribe failed');
        });
      }
      if (!r.connectedOnce) {
        r.connectedOnce = true;
        onFirstConnect();
      }
    });
    client.on('message', (topic, payload) => {
      r.device.command?.(topic, payload.toString('utf8'), io);
    });
    client.on('error', () => {
      connectErrors++;
    });
  };

  const disconnect = async (r: Running, graceful: boolean) => {
    const client = r.client;
    r.client = undefined;
    withoutBroker.delete(r.device.config.id);
    if (!client) return;
    // without DISCONNECT (force) the broker treats it as a lost device and publishes the last will
    if (graceful) await closeBrokerClient(client);
    else await client.endAsync(true);
  };

  const simulators = await loadSimulators();
  const selected = options.site.devices.filter((d) => (options.devices ? options.devices(d) : true));
  for (const cfg of selected) {
    const device = createVirtualDevice(simulators, cfg, building, simStart, {
      ...(options.rebootProbabilityPerDay === undefined
        ? {}
        : { rebootProbabilityPerDay: options.rebootProbabilityPerDay }),
      ...(options.lock ? { lock: options.lock } : {}),
      ...counterOption(options.counterWh?.(cfg)),
    });
    if (!device) {
      skipped.push(cfg.id);
      logger.warn({ device: cfg.id, profile: cfg.profile }, 'no virtual device for this profile; skipped');
      continue;
    }
    running.set(cfg.id, {
      device,
      client: undefined,
      timer: undefined,
      firstReport: undefined,
      connectedOnce: false,
      offline: false,
    });
  }

  for (const id of running.keys()) withoutBroker.add(id);
  let connectedCount = 0;
  let allConnected: () => void = () => {};
  const allConnectedPromise = new Promise<void>((resolve) => {
    allConnected = resolve;
  });
  if (running.size === 0) allConnected();

  for (const r of running.values()) {
    const periodMs = Math.max(minInterval, (r.device.firmwareIntervalS * 1000) / speed);
    connect(r, () => {
      connectedCount++;
      if (connectedCount === running.size) allConnected();
    });
    const tick = () => {
      if (stopped || !r.client?.connected) return;
      publish(r, r.device.report(now()));
    };
    // spread the devices over the period so they do not all speak at once
    r.firstReport = setTimeout(
      () => {
        r.firstReport = undefined;
        tick();
        r.timer = setInterval(tick, periodMs);
      },
      Math.floor(Math.random() * periodMs),
    );

    const lock = r.device.lock;
    if (lock) {
      const config = r.device.config;
      locks.set(config.id, {
        id: config.id,
        topic: config.topic,
        state: () => lock.state,
        mode: () => (r.offline ? 'offline' : lock.mode),
        commandsReceived: () => lock.commandsReceived,
        async setMode(mode) {
          if (mode === 'offline') {
            r.offline = true;
            await disconnect(r, false);
            return;
          }
          lock.mode = mode;
          if (r.offline) {
            r.offline = false;
            r.connectedOnce = false;
            await new Promise<void>((resolve) => connect(r, resolve));
          }
        },
      });
    }
  }

  const connectTimeout = options.connectTimeoutMs ?? 15_000;
  let waitTimer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  await Promise.race([
    allConnectedPromise,
    new Promise<void>((resolve) => {
      waitTimer = setTimeout(resolve, connectTimeout);
      onAbort = resolve;
      options.signal?.addEventListener('abort', onAbort, { once: true });
      if (options.signal?.aborted) resolve();
    }),
  ]);
  clearTimeout(waitTimer);
  if (onAbort) options.signal?.removeEventListener('abort', onAbort);
  if (options.signal?.aborted) {
    // Asked to stop while waiting for the broker: the stop is the news, not devices that "keep retrying".
    fleet = 'some';
  } else if (connectedCount < running.size) {
    fleet = 'some';
    if (!waitingSaid)
      logger.warn(
        { connected: connectedCount, devices: running.size },
        'not every virtual device could connect yet; they keep retrying with backoff',
      );
  } else {
    fleet = 'all';
    logger.info({ devices: running.size, speed }, 'simulated building running');
  }
  reportFleet();

  return {
    locks,
    now,
    stage(spaceId, direction) {
      building.stage(spaceId, direction);
      const seeing = new Set(building.spacesSeeing(spaceId));
      for (const r of running.values()) {
        if (seeing.has(r.device.config.space) && r.client?.connected) publish(r, r.device.report(now()));
      }
    },
    stats: () => ({
      devices: running.size,
      connected: [...running.values()].filter((r) => r.client?.connected).length,
      messagesSent,
      messagesByProfile: { ...messagesByProfile },
      publishErrors,
      connectErrors,
      skippedDevices: [...skipped],
      simulatedNow: now(),
      speed,
    }),
    async stop() {
      if (stopped) return;
      stopped = true;
      for (const t of pendingTimers) clearTimeout(t);
      pendingTimers.clear();
      for (const r of running.values()) {
        clearTimeout(r.firstReport);
        clearInterval(r.timer);
      }
      await Promise.all([...running.values()].map((r) => disconnect(r, true)));
    },
  };
}
