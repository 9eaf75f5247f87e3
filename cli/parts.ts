import fs from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import pino, { type Logger } from 'pino';
import { scheduleAuditPurge } from '../access/audit-log.ts';
import { AlertWatch } from '../alerts/alert-watch.ts';
import { buildApi } from '../api/app.ts';
import { LockCommands } from '../api/lock-commands.ts';
import {
  type EmbeddedNodeRed,
  NodeRedStartError,
  startEmbeddedNodeRed,
} from '../automations/embedded-node-red.ts';
import { BookingClock } from '../bookings/booking-clock.ts';
import { CheckInWatcher } from '../bookings/check-in.ts';
import { PortInUseError, type RunningBroker, startBroker } from '../broker/broker.ts';
import { defaultKeyPrefix, redactedRedisUrl } from '../broker/cluster-options.ts';
import { journalOrigin } from '../broker/journal-feed.ts';
import { BuildingFeed } from '../building/live-feed.ts';
import { PostgresRecordsError, PostgresWaitAborted } from '../database/postgres.ts';
import type { DeviceProfile } from '../device-profiles/profile.ts';
import { loadProfiles } from '../device-profiles/registry.ts';
import { scheduleSignUpPurge } from '../events/signup-store.ts';
import {
  deviceFilters,
  type Gateway,
  type GatewayOptions,
  type RetainedMessage,
  startGateway,
} from '../gateway/gateway.ts';
import type { MqttIntake } from '../gateway/mqtt-intake.ts';
import { Quarantine } from '../gateway/quarantine.ts';
import type { MessageJournal } from '../journal/journal.ts';
import { type JournalOptions, journalWarnings, openJournal } from '../journal/segment-journal.ts';
import {
  adminCredentialsFile,
  ensureDemoLobbyToken,
  ensureDemoMembers,
  ensureFirstAdmin,
} from '../members/first-start.ts';
import { Identity } from '../members/identity.ts';
import { auditSignIns } from '../members/sign-in-audit.ts';
import type { BackgroundWork } from '../records/leader.ts';
import { openRecordStores, type Records } from '../records/records.ts';
import { credentialsFromDataDir, type Simulation, startSimulation } from '../simulations/simulator.ts';
import { loadOrCreateSecrets, SERVICE_USERNAMES, type Secrets, secretsFile } from '../site/credentials.ts';
import type { SiteNetwork } from '../site/network.ts';
import type { DeviceConfig, SiteConfig } from '../site/site.ts';
import { openStore } from '../storage/open.ts';
import { siteReadings } from '../storage/site-view.ts';
import type { TimeSeriesStore } from '../storage/store.ts';
import { type GatewayIntake, openGatewayIntake } from './gateway-intake.ts';
import { writeHeartbeat } from './healthcheck.ts';
import { openLog } from './log.ts';
import type { Settings } from './settings.ts';
import { startupHistory } from './simulated-history.ts';
import { loadSites } from './sites.ts';

/**
 * Runs any combination of the parts in one process: all of them for `wesprint start`, one for
 * `wesprint broker|gateway|api|simulate`. The parts only meet over MQTT and the data directory, so the same
 * combination works split across processes or containers.
 */
export interface PartSelection {
  broker: boolean;
  gateway: boolean;
  /**
   * The check-in watcher (releases bookings nobody came to) and the alert watcher (tells the facility
   * manager). They run beside the API: its alert channel pushes what the alert watcher in its process decides.
   */
  watchers: boolean;
  api: boolean;
  simulation: boolean;
  /** The embedded Node-RED (automations/), beside the API (`wesprint start`, unless NODE_RED=false). */
  automations?: boolean;
}

export class StartError extends Error {
  override name = 'StartError';
}

/** Asked to stop while still starting: what had started is stopped again, nothing is wrong. */
class StartAborted extends Error {
  override name = 'StartAborted';
}

export interface StartOptions {
  /** The log (default: JSON lines at settings.logLevel). */
  logger?: Logger;
  /** Aborted when the process is asked to stop during the start: waiting stops, started parts stop. */
  signal?: AbortSignal;
  /** The journal's group-write step of `wesprint start` (tests: a disk held or refused, test-support/held-disk.ts). */
  journal?: Pick<JournalOptions, 'beforeWrite'>;
}

/** How many ports after the default 1883 the demo tries when another broker already has it. */
const DEMO_PORT_ATTEMPTS = 10;
const HEARTBEAT_INTERVAL_MS = 10_000;
/**
 * docker stop, systemd and compose wait 10 s after SIGTERM before they kill. Every part stops within its own
 * graces well before that; should anything still hang, the process ends itself first, with a log line.
 */
const STOP_DEADLINE_MS = 9000;
/** Rollups and retention for the embedded store. */
const MAINTENANCE_INTERVAL_MS = 10 * 60_000;

/** The parts this process runs, with what a test or a caller needs to reach them. */
export interface RunningParts {
  /** What `wesprint start` prints: one line per part, with URLs and where the generated credentials are. */
  lines: string[];
  /** http://host:port of the API and dashboard, when the API runs here. */
  httpUrl: string | undefined;
  mqttUrl: string;
  /** The home site: the one site of SITE_FILE, the first of SITES_DIR. */
  site: SiteConfig;
  /** Every site this installation serves (one for SITE_FILE). */
  network: SiteNetwork;
  /** The simulated building (the home site's), when it runs here (its devices can be driven by tests and demos). */
  simulation: Simulation | undefined;
  /** Every simulated building, by site id (one for SITE_FILE). */
  simulations: Map<string, Simulation>;
  /** The gateway, when it runs here (its stats are what the benchmarks count by). */
  gateway: Gateway | undefined;
  /** Stops every part, newest first; every step runs even if one fails. */
  stop(): Promise<void>;
}

/**
 * `wesprint start|broker|gateway|api|simulate`: starts the parts, prints where they are, stops on SIGTERM or
 * Ctrl+C within docker stop's 10 s, in any state: while starting, while waiting for a broker, with a store
 * that hangs. A second Ctrl+C ends the process at once.
 */
export async function runParts(settings: Settings, parts: PartSelection): Promise<void> {
  const logger = await openLog(settings);
  const abort = new AbortController();
  let running: RunningParts | undefined;
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'asked again: stopping at once');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'stopping');
    abort.abort();
    setTimeout(() => {
      logger.error({}, `not stopped within ${STOP_DEADLINE_MS / 1000} s; ending the process`);
      process.exit(1);
    }, STOP_DEADLINE_MS).unref();
    // While starting, startParts sees the abort and stops what it has started. A stop that fails leaves the
    // deadline above to end the process.
    void running?.stop().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  try {
    running = await startParts(settings, parts, { logger, signal: abort.signal });
  } catch (err) {
    if (err instanceof StartAborted) process.exit(0);
    throw err;
  }
  if (stopping) {
    await running.stop();
    process.exit(0);
  }
  console.log(
    `\nWeSprint OS is running.\n\n${running.lines.map((l) => `  ${l}`).join('\n')}\n\nStop with Ctrl+C.\n`,
  );
}

export async function startParts(
  settings: Settings,
  parts: PartSelection,
  options: StartOptions = {},
): Promise<RunningParts> {
  const logger = options.logger ?? pino({ level: settings.logLevel, base: undefined });
  const signal = options.signal;
  const goOn = () => {
    if (signal?.aborted) throw new StartAborted('stopped while starting');
  };
  // The broker, the gateway and the watchers serve every site; the API and the demo's history the home site.
  const network = loadSites(settings);
  const site = network.sites[0] as SiteConfig;
  const profiles = await loadProfiles();
  for (const each of network.sites) checkProfiles(each, profiles);
  fs.mkdirSync(settings.dataDir, { recursive: true, mode: 0o700 });
  const secrets = loadOrCreateSecrets(settings.dataDir, network);

  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.splice(0).reverse()) {
      try {
        await stop();
      } catch (err) {
        logger.warn({ err: (err as Error).message }, 'while stopping');
      }
    }
  };

  try {
    const lines: string[] = [];
    let httpUrl: string | undefined;
    let simulation: Simulation | undefined;
    const simulations = new Map<string, Simulation>();
    let runningGateway: Gateway | undefined;
    let mqttUrl = settings.mqttUrl;
    /**
     * This process's live feeds (the API's and the watchers'), by site. With the gateway in this process
     * (`inProcess` below) its readings are handed to them (`publishReading`) instead of routed by the
     * broker and read back over their connections: two trips through the event loop and a serialisation
     * each way less per reading, on the path `npm run bench -- --only live` measures.
     */
    const liveFeeds = new Map<string, BuildingFeed>();
    const liveFeed = (of: SiteConfig) => {
      const feed = new BuildingFeed({
        url: mqttUrl as string,
        ...service('api'),
        site: of,
        logger,
        readingsInProcess: inProcess?.publishReading !== undefined,
      });
      liveFeeds.set(of.site.id, feed);
      return feed;
    };
    // `wesprint start`: the broker journals the devices' messages (PUBACK once on disk), the gateway in this
    // process reads them from there (issue 10).
    let inProcess: GatewayInput | undefined;
    let stopInProcessGateway = async () => {};
    if (parts.broker && parts.gateway) {
      const journal = await openJournal(path.join(settings.dataDir, 'journal'), {
        ...journalWarnings(logger),
        ...options.journal,
      });
      let closed: Promise<void> | undefined;
      const close = () => {
        closed ??= journal.close();
        return closed;
      };
      stops.push(close);
      inProcess = { journal, close };
    }
    // `wesprint broker` on its own: it journals the devices' messages too and forwards the journal to the
    // gateway (broker/journal-feed.ts), so a device's resend after a broker crash is recognised and a message
    // keeps its arrival time whatever delivers it how often.
    let feedJournal: { journal: MessageJournal; origin: string } | undefined;
    if (parts.broker && !parts.gateway) {
      // Not DATA_DIR/journal: a `wesprint gateway` on the same DATA_DIR keeps its own journal there.
      const journal = await openJournal(
        path.join(settings.dataDir, 'broker-journal'),
        journalWarnings(logger),
      );
      stops.push(() => journal.close());
      feedJournal = { journal, origin: journalOrigin(settings.dataDir, site.site.id) };
    }
    if (parts.broker) {
      const broker = await startOwnBroker(
        settings,
        parts,
        network,
        secrets,
        profiles,
        logger,
        inProcess?.journal ?? feedJournal?.journal,
        feedJournal?.origin,
      );
      // The broker stops taking messages first; then the gateway finishes, the journal closes, the store closes.
      stops.push(async () => {
        try {
          await broker.close();
        } finally {
          await stopInProcessGateway();
        }
      });
      if (inProcess) {
        inProcess.retained = () => broker.retained(deviceFilters(profiles));
        // Readings go to this process's live feeds by hand, as decoded (they do not subscribe to them), and
        // to the broker's other subscribers through its routing, neither over a connection; serialised only
        // if someone on the broker listens.
        inProcess.publishReading = (topic, reading, payload) => {
          liveFeeds.get(reading.site)?.takeOwnReading(reading);
          broker.publishOwn(topic, payload);
        };
      }
      const shown = settings.mqttHost === '0.0.0.0' ? '127.0.0.1' : settings.mqttHost;
      mqttUrl = `mqtt://${shown}:${broker.port}`;
      lines.push(`MQTT broker     ${mqttUrl}  (WebSocket ws://${shown}:${broker.wsPort}/mqtt)`);
      if (settings.redisUrl)
        lines.push(
          `                a node of a cluster: state in Redis ${redactedRedisUrl(settings.redisUrl)}`,
        );
      if (settings.mqttPort !== 0 && broker.port !== settings.mqttPort) {
        lines.push(
          `                port ${settings.mqttPort} was taken (another MQTT broker?), so the demo uses ${broker.port}; set MQTT_PORT to choose`,
        );
      }
    }
    mqttUrl ??= `mqtt://127.0.0.1:${settings.mqttPort}`;
    const service = (name: 'gateway' | 'api') =>
      settings.mqttUrl && settings.mqttUsername
        ? {
            username: settings.mqttUsername,
            ...(settings.mqttPassword ? { password: settings.mqttPassword } : {}),
          }
        : { username: SERVICE_USERNAMES[name], password: secrets.services[name] };

    // Members, sessions, bookings, the audit log and the alerts, in the SQLite file or in PostgreSQL
    // (DATABASE_URL, waited for while it is not up yet): opened once for the API, the watchers and the demo.
    let records: Records | undefined;
    let identity: Identity | undefined;
    const openRecordsOnce = async (): Promise<Records> => {
      if (records) return records;
      try {
        records = await openRecordStores(
          { dataDir: settings.dataDir, databaseUrl: settings.databaseUrl },
          // The home site: bookings from before bookings carried their site are its (they were all the API's).
          {
            ...(signal ? { signal } : {}),
            homeSite: site.site.id,
            logger: logger.child({ part: 'records' }),
          },
        );
      } catch (err) {
        if (err instanceof PostgresWaitAborted) throw new StartAborted(err.message);
        if (err instanceof PostgresRecordsError) throw new StartError(err.message);
        throw err;
      }
      const opened = records;
      stops.push(() => opened.close());
      if (opened.engine === 'postgres') lines.push(`Records         PostgreSQL ${opened.where}`);
      return opened;
    };
    const openIdentity = async () => {
      if (identity) return identity;
      const opened = await openRecordsOnce();
      // The API serves the home site: every member is seen with their role there (roles are per site).
      identity = new Identity(opened, {
        onSignIn: auditSignIns(opened.audit),
        site: { id: site.site.id },
        // A lobby token made for another house shows that house's lobby (api/lobby-routes.ts).
        lobbySites: network.sites.map((s) => s.site.id),
      });
      return identity;
    };
    goOn();
    if (parts.gateway) {
      // `wesprint gateway`: the gateway's own journal, fed by its MQTT intake.
      const intake = inProcess
        ? undefined
        : await openGatewayIntake(settings, site, profiles, mqttUrl, service('gateway'), logger);
      const input = inProcess ?? (intake as GatewayIntake);
      const gateway = await startOwnGateway(
        settings,
        network,
        profiles,
        mqttUrl,
        service('gateway'),
        logger,
        input,
      );
      runningGateway = gateway.gateway;
      if (inProcess) stopInProcessGateway = gateway.stop;
      else stops.push(gateway.stop);
      // Stopped first (stops run newest first): the broker keeps what arrives while the gateway finishes.
      if (intake) stops.push(() => intake.intake.stop());
      lines.push(
        `Gateway         storing to ${settings.influx ? settings.influx.url : path.join(settings.dataDir, 'readings.db')}`,
      );
    }

    // The readings store and the building feeds: opened once for the watchers and the API.
    let readings:
      | {
          store: TimeSeriesStore;
          feed: BuildingFeed;
          all: TimeSeriesStore;
          /** The other houses' feeds, each on its own topics only. */
          feeds: Map<string, BuildingFeed>;
          /** One house's readings and feed (the home site's are `store` and `feed`). */
          house(id: string): { store: TimeSeriesStore; feed: BuildingFeed };
        }
      | undefined;
    const openReadings = () => {
      if (readings) return readings;
      const store = openStore(settings);
      stops.push(() => store.close());
      const feed = liveFeed(site);
      feed.start();
      stops.push(() => feed.close());
      // Each other house's feed: the watchers of every house and the facility view's site switch.
      const feeds = new Map<string, BuildingFeed>();
      for (const other of network.sites.slice(1)) {
        const otherFeed = liveFeed(other);
        otherFeed.start();
        stops.push(() => otherFeed.close());
        feeds.set(other.site.id, otherFeed);
      }
      // In a network the store holds every house's readings; each house is read through its own view.
      const view = (id: string) => (network.qualified ? siteReadings(store, id) : store);
      const opened = {
        store: view(site.site.id),
        feed,
        all: store,
        feeds,
        house: (id: string) => ({ store: view(id), feed: feeds.get(id) ?? feed }),
      };
      readings = opened;
      return opened;
    };

    goOn();
    // What runs in one process of those on the records (records/leader.ts): the watchers, the booking clock,
    // the audit purge, the board report's warm-up. Started below, once the API is up.
    const background: (() => BackgroundWork | Promise<BackgroundWork>)[] = [];
    // Every house's alert watcher, by site id; the home site's is the API's own (`/api/alerts`).
    const alertWatches = new Map<string, AlertWatch>();
    if (parts.watchers) {
      const houses = openReadings();
      const opened = await openRecordsOnce();
      // Every house is watched, each with its own site file (its rules, time zone, devices and bookings), its
      // own feed and its own readings. Every API process lists, acknowledges and pushes alerts; the leader's
      // watchers judge them.
      const watchers = houseWatchers(
        settings,
        network.sites.map((house) => ({ site: house, ...houses.house(house.site.id) })),
        profiles,
        opened,
        network.qualified ? (id) => logger.child({ site: id }) : () => logger,
      );
      for (const [id, house] of watchers) {
        alertWatches.set(id, house.alerts);
        background.push(() => house.start());
      }
      lines.push(
        `Watchers        check-in (no-show release after ${settings.checkInGraceMs / 60_000} min), alerts (CO2, devices offline, night load, doors)${network.sites.length > 1 ? `, in each of ${network.sites.length} houses` : ''}`,
      );
    }
    const alerts = alertWatches.get(site.site.id);

    goOn();
    if (parts.api) {
      // The facility view's site switch reads the other houses' feeds.
      const { store, feed, all, feeds } = openReadings();
      // Members belong to the network: a member of another house opens a door of this one through its channel.
      const otherLocks = new Map<string, LockCommands>();
      for (const [otherId, otherFeed] of feeds) {
        const other = otherFeed.site;
        const locks = new LockCommands({
          url: mqttUrl,
          ...service('api'),
          site: other,
          status: otherFeed,
          logger,
        });
        locks.start();
        stops.push(() => locks.close());
        otherLocks.set(otherId, locks);
      }
      const quarantine = new Quarantine(path.join(settings.dataDir, 'gateway.db'));
      stops.push(async () => quarantine.close());
      const lockCommands = new LockCommands({ url: mqttUrl, ...service('api'), site, status: feed, logger });
      lockCommands.start();
      stops.push(() => lockCommands.close());
      const identity = await openIdentity();
      const opened = await openRecordsOnce();
      background.push(async () => ({
        stop: await scheduleAuditPurge(opened.audit, settings.auditRetentionDays, logger),
      }));
      // The visitors of an event's date are deleted within the hour after it (their counts stay).
      background.push(async () => ({ stop: await scheduleSignUpPurge(opened.signUps, logger) }));
      // The login route's per-address limit in Redis when there is one: the same limit whichever replica.
      const limits = settings.redisUrl ? rateLimitRedis(settings, site) : undefined;
      if (limits) stops.push(limits.close);
      const admin = await ensureFirstAdmin(identity, {
        siteId: site.site.id,
        dataDir: settings.dataDir,
        email: settings.adminEmail,
      }).catch((err: Error) => {
        throw err.name === 'MemberError' ? new StartError(`ADMIN_EMAIL: ${err.message}`) : err;
      });
      const app = await buildApi({
        site,
        store,
        feed,
        quarantine,
        profiles,
        logger,
        records: opened,
        identity,
        lockCommands,
        // The network report reads every house's series, each through its own view (reports/network-report.ts).
        // and the other houses' alerts through their own watchers (the site switch).
        network: { sites: network.sites, store: all, feeds, lockCommands: otherLocks, alerts: alertWatches },
        ...(alerts ? { alerts } : {}),
        sessionsEnded: (listener) => opened.news.onSessionEnded(listener),
        warmBoardReport: false,
        ...(limits ? { rateLimitRedis: limits.redis } : {}),
        unlockGraceMs: settings.unlockGraceMs,
        trustedOrigins: settings.trustedOrigins,
        lobbyPublic: settings.lobbyPublic,
        ...(settings.trustProxy !== undefined ? { trustProxy: settings.trustProxy } : {}),
        ...(settings.dashboardDir !== undefined ? { dashboardDir: settings.dashboardDir } : {}),
      });
      stops.push(() => app.close());
      background.push(() => ({ stop: app.warmBoardReport() }));
      try {
        await app.listen({ host: settings.httpHost, port: settings.httpPort });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
          throw new StartError(
            `HTTP port ${settings.httpPort} is already in use. Set HTTP_PORT to a free port.`,
          );
        }
        throw err;
      }
      const host = settings.httpHost === '0.0.0.0' ? '127.0.0.1' : settings.httpHost;
      const address = app.server.address();
      const port = typeof address === 'object' && address ? address.port : settings.httpPort;
      const base = `http://${host}:${port}`;
      httpUrl = base;
      lines.push(
        `Dashboard       ${base}/   (sign in; facility: ${base}/facility, board: ${base}/board/report)`,
      );
      if (network.sites.length > 1)
        lines.push(`Network report  ${base}/network/report   (board in every house)`);
      lines.push(`API             ${base}/api/devices`);
      lines.push(`Live readings   ${base}/api/readings/latest   (WebSocket ws://${host}:${port}/api/live)`);
      lines.push(`API docs        ${base}/docs`);
      if (admin) {
        // Shown here once (never logged); the file keeps it for whoever runs the building.
        lines.push(`Administrator   ${admin.email}  password: ${admin.password}`);
        lines.push(
          `                shown once; also in ${admin.file} (mode 0600). Sign in: POST ${base}/api/auth/login`,
        );
      } else if (fs.existsSync(adminCredentialsFile(settings.dataDir))) {
        // A later start: the password is not shown again, but whoever runs the demo needs to find it.
        lines.push(
          `Administrator   e-mail and password in ${adminCredentialsFile(settings.dataDir)} (mode 0600)`,
        );
      }
    }

    goOn();
    if (parts.simulation) {
      // Before the live meters start: they go on from the stored history, or from the history planned now.
      const history = await startupHistory(settings, site, profiles, network.sites.slice(1));
      goOn();
      const started = await startOwnSimulation(
        settings,
        network,
        site,
        mqttUrl,
        logger,
        history.countersOf(site.site.id),
        signal,
      );
      simulation = started;
      simulations.set(site.site.id, started);
      stops.push(() => started.stop());
      const s = started.stats();
      lines.push(
        `Simulation      ${s.connected}/${s.devices} devices of "${site.site.name}", ${settings.simSpeed}x speed`,
      );
      // The network's other houses: their meters go on from their own history, as the home site's do.
      for (const other of network.sites.slice(1)) {
        goOn();
        const more = await startOwnSimulation(
          settings,
          network,
          other,
          mqttUrl,
          logger,
          history.countersOf(other.site.id),
          signal,
        );
        simulations.set(other.site.id, more);
        stops.push(() => more.stop());
        const m = more.stats();
        lines.push(`Simulation      ${m.connected}/${m.devices} devices of "${other.site.name}"`);
      }
      goOn();
      const demo = await ensureDemoMembers(await openIdentity(), {
        siteId: site.site.id,
        dataDir: settings.dataDir,
        ...(network.sites.length > 1 ? { networkSites: network.sites.map((s) => s.site.id) } : {}),
      });
      lines.push(`Demo members    ${demo.file} (e-mails and generated passwords, mode 0600)`);
      if (httpUrl) {
        const lobbyToken = await ensureDemoLobbyToken(await openIdentity(), { dataDir: settings.dataDir });
        lines.push(`Lobby screen    ${httpUrl}/lobby?token=${lobbyToken}`);
      }
      const backfill = history.start(logger);
      if (backfill) {
        // A process of its own: told to stop first, awaited last, so that its grace overlaps the others'.
        // (The gateway keeps its turn after the API: stopped first, it would say "offline" to an alert
        // watcher still running, and every stop would leave an alert.)
        let stopped: Promise<void> | undefined;
        stops.unshift(() => stopped ?? backfill.stop());
        stops.push(async () => {
          stopped = backfill.stop();
        });
        lines.push(backfill.line);
      }
      const ahead = history.bookingsAhead;
      if (ahead) {
        background.push(() => ahead.start(logger));
        lines.push(ahead.line);
      }
    }

    goOn();
    if (background.length > 0) {
      const opened = await openRecordsOnce();
      const leader = await opened.lead({
        // Installations sharing one database each lead their own home site's work.
        name: site.site.id,
        start: async () => {
          const started: BackgroundWork[] = [];
          for (const start of background) started.push(await start());
          return {
            stop: async () => {
              for (const work of started.reverse()) await work.stop();
            },
          };
        },
        logger: logger.child({ part: 'leader' }),
      });
      stops.push(() => leader.stop());
      if (opened.engine === 'postgres')
        lines.push(
          'Background      in one API process of those on PostgreSQL (advisory lock); this one asks',
        );
    }

    goOn();
    if (parts.automations && httpUrl) {
      const opened = await openRecordsOnce();
      // As with MQTT: the demo steps aside from a Node-RED already on the machine; an explicit port never moves.
      const mayMove = !settings.nodeRed.portExplicit && settings.nodeRed.port !== 0;
      const startNodeRed = async (attempt: number): Promise<EmbeddedNodeRed> => {
        const port = settings.nodeRed.port + attempt;
        try {
          return await startEmbeddedNodeRed({
            dataDir: settings.dataDir,
            host: settings.nodeRed.host,
            port,
            apiUrl: httpUrl,
            site,
            profiles,
            tokens: opened.integrationTokens,
            audit: opened.audit,
            logger: logger.child({ part: 'node-red' }),
            ...(signal ? { signal } : {}),
          });
        } catch (err) {
          if (signal?.aborted) throw new StartAborted('stopped while starting');
          if (!((err as Error).name === NodeRedStartError.name && /EADDRINUSE/.test((err as Error).message)))
            throw err;
          if (!mayMove || attempt + 1 >= DEMO_PORT_ATTEMPTS)
            throw new StartError(
              `Node-RED's port ${port} is already in use. Set NODE_RED_PORT to a free port, or NODE_RED=false.`,
            );
          logger.info({ port }, `Node-RED's port ${port} is in use, the demo tries ${port + 1}`);
          return startNodeRed(attempt + 1);
        }
      };
      const nodeRed = await startNodeRed(0);
      stops.push(() => nodeRed.stop());
      logger.info(
        {
          part: 'node-red',
          readyMs: nodeRed.readyMs,
          startedMs: nodeRed.startedMs,
          version: nodeRed.version,
        },
        'Node-RED is running',
      );
      lines.push(
        `Automations     ${nodeRed.url}  (Node-RED ${nodeRed.version}, started in ${(nodeRed.readyMs / 1000).toFixed(1)} s; administrators sign in with their WeSprint e-mail and password)`,
      );
      if (nodeRed.deployed.length > 0)
        lines.push(`                deployed: ${nodeRed.deployed.join(', ')} (token "node-red-embedded")`);
    }

    goOn();
    lines.push(`Secrets         ${secretsFile(settings.dataDir)} (generated passwords, mode 0600)`);
    return {
      lines,
      httpUrl,
      mqttUrl,
      site,
      network,
      simulation,
      simulations,
      gateway: runningGateway,
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

function checkProfiles(site: SiteConfig, profiles: Map<string, DeviceProfile>): void {
  const unknown = site.devices.filter((d) => !profiles.has(d.profile));
  if (unknown.length > 0) {
    const names = [...new Set(unknown.map((d) => d.profile))].join(', ');
    throw new StartError(
      `the site file names device profiles that do not exist: ${names} (known: ${[...profiles.keys()].join(', ')})`,
    );
  }
}

/** One house as its watchers see it: its site file, its readings (its view of the store) and its feed. */
export interface WatchedHouse {
  site: SiteConfig;
  store: TimeSeriesStore;
  feed: BuildingFeed;
}

/** One house's watchers: the alert watcher every API process lists with, and what the leader starts. */
export interface HouseWatchers {
  /** Every API process lists, acknowledges and pushes alerts with it; the leader's judges them. */
  alerts: AlertWatch;
  checkIn: CheckInWatcher;
  clock: BookingClock;
  /** Starts the check-in watcher, the booking clock and the alert watcher (the leader's work). */
  start(): BackgroundWork;
}

/**
 * The leader's watchers of every house, by site id: sensor-verified check-in and no-show release
 * (CHECKIN_GRACE_MIN), the booking clock, and alerts for the facility manager (ALERT_*: CO2, devices offline,
 * night base load, doors left unlocked). Each house's are its own: its site file (its rules, devices, opening
 * hours and time zone), its feed, its readings, its bookings and alerts (`Records.bookingsAt`, `alertsAt`),
 * so a device or space id another house also has is never mistaken for this house's.
 */
export function houseWatchers(
  settings: Pick<Settings, 'alerts' | 'checkInGraceMs'>,
  houses: readonly WatchedHouse[],
  profiles: Map<string, DeviceProfile>,
  records: Records,
  loggerOf: (site: string) => Logger,
  now?: () => number,
): Map<string, HouseWatchers> {
  const watchers = new Map<string, HouseWatchers>();
  for (const { site, store, feed } of houses) {
    const id = site.site.id;
    const logger = loggerOf(id);
    const bookings = records.bookingsAt(id);
    const clockOption = now ? { now } : {};
    const alerts = new AlertWatch({
      alerts: records.alertsAt(id),
      feed,
      site,
      profiles,
      timeSeries: store,
      bookings,
      settings: settings.alerts,
      events: feed,
      news: records.news.alerts,
      ...clockOption,
      logger: logger.child({ part: 'alerts' }),
    });
    const checkIn = new CheckInWatcher({
      store: bookings,
      feed,
      site,
      profiles,
      graceMs: settings.checkInGraceMs,
      events: feed,
      readings: store,
      ...clockOption,
      logger: logger.child({ part: 'check-in' }),
    });
    const clock = new BookingClock({
      store: bookings,
      claims: records.momentClaims,
      events: feed,
      siteId: id,
      ...clockOption,
      logger: logger.child({ part: 'booking-clock' }),
    });
    watchers.set(id, {
      alerts,
      checkIn,
      clock,
      start: () => {
        checkIn.start();
        clock.start();
        alerts.start();
        return {
          stop: async () => {
            await alerts.stop();
            await clock.stop();
            await checkIn.stop();
          },
        };
      },
    });
  }
  return watchers;
}

/** An ioredis client for the login route's limit, on REDIS_URL with this installation's key prefix. */
function rateLimitRedis(settings: Settings, site: SiteConfig): { redis: Redis; close: () => Promise<void> } {
  const redis = new Redis(settings.redisUrl as string, {
    keyPrefix: `${settings.redisKeyPrefix ?? defaultKeyPrefix(site.site.id)}login-limit:`,
    // Redis away: the limit lets the request through (skipOnError) rather than the sign-in failing.
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
  });
  redis.on('error', () => undefined);
  return {
    redis,
    close: async () => {
      redis.disconnect();
    },
  };
}

async function startOwnBroker(
  settings: Settings,
  parts: PartSelection,
  network: SiteNetwork,
  secrets: Secrets,
  profiles: Map<string, DeviceProfile>,
  logger: Logger,
  journal: MessageJournal | undefined,
  feedOrigin?: string,
): Promise<RunningBroker> {
  // The all-in-one demo may step aside from a broker already on the machine; an explicit port never moves.
  const mayMove = parts.simulation && !settings.mqttPortExplicit;
  for (let attempt = 0; ; attempt++) {
    const port = settings.mqttPort + attempt;
    const wsPort = settings.mqttWsPort === 0 ? 0 : settings.mqttWsPort + attempt;
    try {
      return await startBroker({
        site: network,
        secrets,
        profiles,
        dataDir: settings.dataDir,
        host: settings.mqttHost,
        port,
        wsPort,
        allowAnonymous: settings.brokerAllowAnonymous,
        denySubscribe: settings.brokerDenySubscribe,
        logger: logger.child({ part: 'broker' }),
        ...(settings.redisUrl
          ? {
              cluster: {
                redisUrl: settings.redisUrl,
                keyPrefix:
                  settings.redisKeyPrefix ?? defaultKeyPrefix((network.sites[0] as SiteConfig).site.id),
              },
            }
          : {}),
        ...(journal ? { journal } : {}),
        ...(feedOrigin ? { journalFeed: { origin: feedOrigin } } : {}),
      });
    } catch (err) {
      if (!(err instanceof PortInUseError) || !mayMove || attempt + 1 >= DEMO_PORT_ATTEMPTS) throw err;
      // Not a warning: the demo steps aside on purpose, and its banner says which port it took.
      logger.info({ port: err.port }, `MQTT port ${err.port} is in use, the demo tries ${err.port + 1}`);
    }
  }
}

/** Where the gateway's device messages come from: a journal, and what to do once the gateway finished. */
interface GatewayInput {
  journal: MessageJournal;
  /** The device messages retained at start (the in-process broker's). */
  retained?: () => Promise<RetainedMessage[]>;
  /** Republishes a reading into the in-process broker (RunningBroker.publishOwn). */
  publishReading?: GatewayOptions['publishReading'];
  /** Called once the gateway has stopped, before the store closes: closes the journal (and what feeds it). */
  close: () => Promise<void>;
  /** A worker of a share group (`wesprint gateway` with MQTT_SHARE_GROUP): its client id and group. */
  worker?: { clientId: string; shareGroup: string };
  /** `wesprint gateway` against another broker: the MQTT intake that fills the journal (for the heartbeat). */
  intake?: MqttIntake;
}

async function startOwnGateway(
  settings: Settings,
  network: SiteNetwork,
  profiles: Map<string, DeviceProfile>,
  mqttUrl: string,
  account: { username: string; password?: string },
  logger: Logger,
  input: GatewayInput,
): Promise<{ stop: () => Promise<void>; gateway: Gateway }> {
  // The embedded store's writes overlap the broker and the gateway's decoding on another core.
  const store = openStore(settings, { writeThread: true });
  const quarantine = new Quarantine(path.join(settings.dataDir, 'gateway.db'));
  let gateway: Gateway;
  try {
    gateway = await startGateway({
      site: network,
      profiles,
      mqttUrl,
      ...account,
      journal: input.journal,
      store,
      ...(input.retained ? { retained: input.retained } : {}),
      ...(input.publishReading ? { publishReading: input.publishReading } : {}),
      ...(input.worker ? { clientId: input.worker.clientId, shareGroup: input.worker.shareGroup } : {}),
      quarantine,
      commandLogFile: path.join(settings.dataDir, 'gateway.db'),
      logger: logger.child({ part: 'gateway' }),
      // Started before its broker (compose start order, a broker restarting): it waits, and says so.
      connectInBackground: true,
    });
  } catch (err) {
    await input.close();
    await store.close();
    quarantine.close();
    throw err;
  }
  const maintain = () => {
    store
      .maintain(Date.now())
      .catch((err: Error) => logger.warn({ err: err.message }, 'store maintenance failed'));
  };
  maintain();
  const timer = setInterval(maintain, MAINTENANCE_INTERVAL_MS);
  timer.unref();
  // A container health check runs in a process of its own: the gateway leaves it a heartbeat file.
  // "spooling": the store failed and the readings wait for it in the journal.
  // "journal": how far the store is behind what the journal holds; "intake": where the device messages come in
  // when the broker is another process (the gateway's own client carries only commands and statuses).
  const intake = input.intake;
  const heartbeat = () => {
    const s = intake?.stats();
    writeHeartbeat(settings.dataDir, {
      connected: gateway.client.connected,
      spooling: gateway.isSpooling(),
      journal: { committed: input.journal.committed(), stored: input.journal.cursor('store') },
      ...(intake && s
        ? {
            intake: {
              connected: intake.client.connected,
              subscribed: intake.listening(),
              received: s.received,
              appended: s.appended,
              duplicates: s.duplicates,
              // Of those, a device's message resent through another node of a cluster (moved-device-repeats.ts).
              movedRepeats: s.movedRepeats,
              acknowledged: s.acknowledged,
              connections: s.connections,
            },
          }
        : {}),
    });
  };
  heartbeat();
  // At once when the broker comes or goes, not up to 10 s later (the gateway may start before its broker).
  const clients = [gateway.client, ...(intake ? [intake.client] : [])];
  for (const c of clients) {
    c.on('connect', heartbeat);
    c.on('close', heartbeat);
  }
  // Answered subscriptions come after 'connect'.
  void intake?.subscribed.then(heartbeat);
  const heartbeatTimer = setInterval(heartbeat, HEARTBEAT_INTERVAL_MS);
  heartbeatTimer.unref();
  let stopped: Promise<void> | undefined;
  return {
    gateway,
    stop: () => {
      stopped ??= (async () => {
        clearInterval(timer);
        clearInterval(heartbeatTimer);
        for (const c of clients) {
          c.off('connect', heartbeat);
          c.off('close', heartbeat);
        }
        // The store write under way gets its grace; what the store has not acknowledged stays in the
        // journal past the store's cursor, where the next start resumes.
        try {
          await gateway.stop();
        } finally {
          await input.close();
          await store.close();
          quarantine.close();
        }
      })();
      return stopped;
    },
  };
}

async function startOwnSimulation(
  settings: Settings,
  network: SiteNetwork,
  site: SiteConfig,
  mqttUrl: string,
  logger: Logger,
  counterWh: (device: DeviceConfig) => number | undefined,
  signal: AbortSignal | undefined,
): Promise<Simulation> {
  const simLogger = logger.child({ part: 'simulation' });
  return startSimulation({
    ...(signal ? { signal } : {}),
    site,
    mqttUrl,
    credentials: credentialsFromDataDir(settings.dataDir, site, simLogger, network),
    // In a network the houses share the broker, where a client id is one connection.
    ...(network.qualified ? { clientIdPrefix: `${site.site.id}/` } : {}),
    speed: settings.simSpeed,
    logger: simLogger,
    counterWh,
  });
}
