import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino, { type Logger } from 'pino';
import { type RunningBroker, startBroker } from '../broker/broker.ts';
import type { DeviceProfile } from '../device-profiles/profile.ts';
import { loadProfiles } from '../device-profiles/registry.ts';
import { deviceFilters, type Gateway, type GatewayOptions, startGateway } from '../gateway/gateway.ts';
import { Quarantine } from '../gateway/quarantine.ts';
import type { MessageJournal } from '../journal/journal.ts';
import { openJournal } from '../journal/segment-journal.ts';
import { DEMO_SITE_FILE } from '../simulations/demo-site.ts';
import {
  credentialsFromDataDir,
  type LockControls,
  type Simulation,
  type SimulationOptions,
  startSimulation,
} from '../simulations/simulator.ts';
import { loadOrCreateSecrets, SERVICE_USERNAMES, type Secrets } from '../site/credentials.ts';
import { loadSite } from '../site/load.ts';
import type { DeviceConfig, SiteConfig } from '../site/site.ts';
import { SqliteStore } from '../storage/sqlite-store.ts';

/**
 * The path of a reading and of a command running on real parts, for tests and benchmarks, wired as
 * `wesprint start` wires it: the project's broker (with its ACL and generated secrets) on an ephemeral
 * loopback port journaling device messages into DATA_DIR/journal, the gateway with the real profiles
 * reading that journal into a SQLite store, a quarantine, and optionally simulated devices; no API
 * (running-system.ts runs the whole system). Everything lives in a throwaway DATA_DIR that stop() removes.
 */
export interface RunningGatewayOptions {
  /** Default: the demo site. */
  site?: SiteConfig;
  /** Prefix of the temporary DATA_DIR's name, so a leftover directory says who made it. */
  dataDirPrefix?: string;
  /** The gateway's store path settings (its defaults when absent). */
  storeWriter?: GatewayOptions['storeWriter'];
  /**
   * What the gateway writes to, made for the readings file (default: `store`, the SQLite store on it): a test
   * that takes the store away gives its own, on the same file.
   */
  gatewayStore?: (file: string) => GatewayOptions['store'];
  /** How long the gateway waits for a device to confirm a command (its own default when absent). */
  commandTimeoutMs?: number;
  /** Simulated devices (at speed 1) for the site's devices this filter picks; none when absent. */
  simulate?: { devices: (device: DeviceConfig) => boolean; lock?: SimulationOptions['lock'] };
  /** Default: silent. */
  logger?: Logger;
}

export interface RunningGateway {
  site: SiteConfig;
  dataDir: string;
  /** mqtt://127.0.0.1:<port> of the project's broker. */
  url: string;
  broker: RunningBroker;
  secrets: Secrets;
  profiles: Map<string, DeviceProfile>;
  store: SqliteStore;
  /** The journal the broker appends device messages to and the gateway reads. */
  journal: MessageJournal;
  quarantine: Quarantine;
  /** The gateway running now (restartGateway() replaces it). */
  gateway(): Gateway;
  /** Resolves once the store holds every message the journal has committed so far. */
  stored(): Promise<void>;
  /** Stops the gateway and starts a new one on the same broker, journal, store, quarantine and command log. */
  restartGateway(): Promise<void>;
  /** Present when started with `simulate`. */
  simulation: Simulation | undefined;
  /** The simulated lock's controls; throws when it is not simulated. */
  lock(id: string): LockControls;
  /** Stops everything started here, newest first, and removes the DATA_DIR; every step runs even if one fails. */
  stop(): Promise<void>;
}

const silent = pino({ level: 'silent' });

export async function startRunningGateway(options: RunningGatewayOptions = {}): Promise<RunningGateway> {
  const site = options.site ?? loadSite(DEMO_SITE_FILE);
  const logger = options.logger ?? silent;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), options.dataDirPrefix ?? 'wesprint-building-'));
  const stops: (() => Promise<void> | void)[] = [() => fs.rmSync(dataDir, { recursive: true, force: true })];
  const stop = async () => {
    let firstFailure: unknown;
    for (const step of stops.splice(0).reverse()) {
      try {
        await step();
      } catch (err) {
        firstFailure ??= err;
      }
    }
    if (firstFailure !== undefined) throw firstFailure;
  };
  try {
    const profiles = await loadProfiles();
    const secrets = loadOrCreateSecrets(dataDir, site);
    const readingsFile = path.join(dataDir, 'readings.db');
    const store = new SqliteStore({ file: readingsFile });
    stops.push(() => store.close());
    const gatewayStore = options.gatewayStore?.(readingsFile) ?? store;
    const journal = await openJournal(path.join(dataDir, 'journal'));
    stops.push(() => journal.close());
    // Stopped before the journal closes and the store; after the broker (pushed later, stopped earlier).
    let gateway: Gateway | undefined;
    stops.push(() => gateway?.stop());
    const broker = await startBroker({
      journal,
      site,
      secrets,
      profiles,
      dataDir,
      host: '127.0.0.1',
      port: 0,
      wsPort: null,
      allowAnonymous: false,
      logger,
    });
    stops.push(() => broker.close());
    const url = `mqtt://127.0.0.1:${broker.port}`;
    const quarantine = new Quarantine(path.join(dataDir, 'gateway.db'));
    stops.splice(1, 0, () => quarantine.close());
    const startOwnGateway = () =>
      startGateway({
        site,
        profiles,
        mqttUrl: url,
        username: SERVICE_USERNAMES.gateway,
        password: secrets.services.gateway,
        journal,
        store: gatewayStore,
        retained: () => broker.retained(deviceFilters(profiles)),
        quarantine,
        commandLogFile: path.join(dataDir, 'gateway.db'),
        ...(options.commandTimeoutMs !== undefined && { commandTimeoutMs: options.commandTimeoutMs }),
        ...(options.storeWriter !== undefined && { storeWriter: options.storeWriter }),
        logger,
      });
    gateway = await startOwnGateway();
    const running = () => gateway as Gateway;
    let simulation: Simulation | undefined;
    if (options.simulate) {
      const started = await startSimulation({
        site,
        mqttUrl: url,
        credentials: credentialsFromDataDir(dataDir, site),
        speed: 1,
        devices: options.simulate.devices,
        ...(options.simulate.lock && { lock: options.simulate.lock }),
      });
      simulation = started;
      stops.push(() => started.stop());
    }
    return {
      site,
      dataDir,
      url,
      broker,
      secrets,
      profiles,
      store,
      journal,
      quarantine,
      gateway: running,
      async stored() {
        while (journal.cursor('store') < journal.committed())
          await new Promise((resolve) => setTimeout(resolve, 10));
      },
      async restartGateway() {
        await running().stop();
        gateway = await startOwnGateway();
      },
      simulation,
      lock(id) {
        const controls = simulation?.locks.get(id);
        if (!controls) throw new Error(`simulated lock ${id} missing`);
        return controls;
      },
      stop,
    };
  } catch (err) {
    // A half-started building must not keep ports, files or clients open.
    await stop().catch(() => {});
    throw err;
  }
}
