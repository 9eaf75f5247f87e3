import { type ChildProcess, fork } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { MqttClient } from 'mqtt';
import pino, { type Logger } from 'pino';
import type { Quantity } from '../building/quantities.ts';
import { buildingTopics } from '../building/topics.ts';
import { type RunningParts, startParts } from '../cli/parts.ts';
import { readSettings } from '../cli/settings.ts';
import type { DeviceProfile } from '../device-profiles/profile.ts';
import { loadProfiles } from '../device-profiles/registry.ts';
import type { Gateway } from '../gateway/gateway.ts';
import { syntheticSite } from '../load-mode/synthetic-buildings.ts';
import { loadOrCreateSecrets, type Secrets } from '../site/credentials.ts';
import type { SiteConfig } from '../site/site.ts';
import { openStore } from '../storage/open.ts';
import type { ManagedStore, TimeSeriesStore } from '../storage/store.ts';
import type { ChildMessage, ParentMessage, Phase, PhaseAccount, PrepareMessage } from './publisher.ts';

/**
 * What the ingest references (bench/references.ts) are built of: the load (one publisher in a process of its
 * own sending the load mode's vendor payloads with QoS 1 and a bounded in-flight window, an exact account of
 * what it sent), a pass-through measurement (first publish to the last message a subscriber received), and
 * WeSprint's reading path as `wesprint start --no-simulation` runs it (startWeSprint, through cli/parts.ts:
 * broker with its journal, gateway in the same process, store), timed from the first publish to the store's
 * acknowledgement of the last reading, every reading counted in the store. Each run uses a fresh broker and
 * DATA_DIR.
 */

export interface IngestOptions {
  /** Messages in the timed phase. */
  messages: number;
  /** Unacknowledged QoS 1 messages the publisher may have outstanding. */
  window: number;
  buildings: number;
  devicesPerBuilding: number;
  /** A run that has not finished by then fails. */
  timeoutMs: number;
  /** Let the broker and (for the gateway) the store finish the warm-up before the clock starts. */
  settleMs: number;
}

export interface IngestEnvironment {
  site: SiteConfig;
  profiles: Map<string, DeviceProfile>;
  /** The gateway's subscriptions, which the broker measurement's subscriber uses too. */
  filters: string[];
  logger: Logger;
}

export interface BrokerSample {
  ok: boolean;
  problems: string[];
  messages: number;
  durationMs: number;
  /** Messages per second, first publish to last message received by the subscriber. */
  rate: number;
  /** When the publisher had all its PUBACKs, ms after the first publish. */
  publisherDoneMs: number;
  /**
   * CPU time (user + system) of this process, which runs what is measured (the publisher has its own), per
   * timed message: on a machine others load, steadier than the rates.
   */
  cpuUsPerMessage: number;
  /** Of it, the main thread's (the event loop broker, journal and gateway share); NaN where /proc is not. */
  eventLoopUsPerMessage: number;
}

export interface GatewaySample {
  ok: boolean;
  problems: string[];
  messages: number;
  readings: number;
  durationMs: number;
  /** Messages per second, first publish to the store's acknowledgement of the last reading. */
  rate: number;
  readingsPerSecond: number;
  /** When the gateway had received the last message, ms after the first publish. */
  receivedMs: number;
  publisherDoneMs: number;
  /**
   * CPU time (user + system) of this process, which runs what is measured (the publisher has its own), per
   * timed message: on a machine others load, steadier than the rates.
   */
  cpuUsPerMessage: number;
  /** Of it, the main thread's (the event loop broker, journal and gateway share); NaN where /proc is not. */
  eventLoopUsPerMessage: number;
  /** Store writes (batches) during the timed phase. */
  storeWrites: number;
}

/**
 * CPU time (µs) of this process's main thread so far: the event loop the broker, the journal and the gateway
 * share, where the other threads are the store's write thread, V8's helpers (GC, compilers) and libuv's
 * pool. Linux only (/proc, in clock ticks of 10 ms); NaN elsewhere.
 */
export function eventLoopCpuUs(): number {
  try {
    const stat = fs.readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10_000;
  } catch {
    return Number.NaN;
  }
}

export function median(values: number[]): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export async function ingestEnvironment(options: IngestOptions): Promise<IngestEnvironment> {
  const site = syntheticSite(options.buildings, options.devicesPerBuilding);
  const profiles = await loadProfiles();
  const topics = buildingTopics(site.site.id);
  // The same set startGateway subscribes to.
  const filters = new Set<string>([topics.allCommands]);
  for (const profile of profiles.values()) for (const f of profile.subscriptions) filters.add(f);
  const logger = pino({ level: process.env.LOG_LEVEL ?? 'warn', base: undefined });
  return { site, profiles, filters: [...filters], logger };
}

/** Where WeSprint stores in a measurement: the embedded store in its DATA_DIR, or a database on an influxd. */
export type WeSprintStore = { kind: 'embedded' } | { kind: 'influxdb'; url: string; database: string };

export interface WeSprintOptions {
  /** Prefix of the throwaway DATA_DIR's name. */
  name: string;
  store?: WeSprintStore;
  /** Lab mode (BROKER_ALLOW_ANONYMOUS): one publisher may speak for every device. */
  labMode?: boolean;
  /** The API too (HTTP on an ephemeral loopback port), as `wesprint start` runs it. */
  api?: boolean;
}

export interface RunningWeSprint {
  dataDir: string;
  parts: RunningParts;
  gateway: Gateway;
  /** mqtt://127.0.0.1:<port> of the project's broker. */
  url: string;
  secrets: Secrets;
  /** Reads what the gateway stored (a connection of its own to the same store). */
  reader: ManagedStore;
  /** Stops every part, as `wesprint start` does on SIGTERM, and removes the DATA_DIR. */
  close(): Promise<void>;
}

/**
 * WeSprint as `wesprint start --no-simulation` runs it, through the CLI's own composition (cli/parts.ts
 * startParts) so that the bench cannot drift from the product: the project's broker journaling the devices'
 * messages into DATA_DIR/journal (PUBACK after the journal's commit), the gateway in the same process reading
 * that journal into the store (DATA_DIR/readings.db, or InfluxV1Store on INFLUX_URL), and the API when asked;
 * no watchers, no simulation. Settings come from readSettings, as the CLI reads them, with a fresh DATA_DIR
 * and the site written as its SITE_FILE; ports are ephemeral and on loopback.
 */
export async function startWeSprint(site: SiteConfig, options: WeSprintOptions): Promise<RunningWeSprint> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `wesprint-bench-${options.name}-`));
  const siteFile = path.join(dataDir, 'site.json');
  fs.writeFileSync(siteFile, JSON.stringify(site));
  const store = options.store ?? { kind: 'embedded' };
  const settings = readSettings(
    {
      DATA_DIR: dataDir,
      SITE_FILE: siteFile,
      MQTT_HOST: '127.0.0.1',
      MQTT_PORT: '0',
      MQTT_WS_PORT: '0',
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: '0',
      BROKER_ALLOW_ANONYMOUS: options.labMode ? 'true' : 'false',
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
      ...(store.kind === 'influxdb' ? { INFLUX_URL: store.url, INFLUX_DATABASE: store.database } : {}),
    },
    false,
  );
  const logger = pino({ level: settings.logLevel, base: undefined });
  let parts: RunningParts | undefined;
  let reader: ManagedStore | undefined;
  try {
    parts = await startParts(
      settings,
      { broker: true, gateway: true, watchers: false, api: options.api ?? false, simulation: false },
      { logger },
    );
    const gateway = parts.gateway;
    if (!gateway) throw new Error('startParts started no gateway');
    // `wesprint start` lets the gateway connect in the background; a measurement waits for it.
    await gateway.subscribed;
    reader = openStore(settings);
    const running = parts;
    const opened = reader;
    return {
      dataDir,
      parts,
      gateway,
      url: running.mqttUrl,
      secrets: loadOrCreateSecrets(dataDir, running.site),
      reader,
      async close() {
        try {
          await running.stop();
          await opened.close();
        } finally {
          fs.rmSync(dataDir, { recursive: true, force: true });
        }
      },
    };
  } catch (err) {
    await parts?.stop().catch(() => {});
    await reader?.close().catch(() => {});
    fs.rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
}

/** The forked publisher (bench/publisher.ts). */
export class Publisher {
  private readonly waiting = new Map<string, (m: ChildMessage) => void>();
  private readonly rejecters = new Set<(err: Error) => void>();
  private failure: Error | undefined;

  private constructor(private readonly child: ChildProcess) {
    child.on('message', (m: ChildMessage) => {
      if (m.kind === 'error') return this.fail(new Error(`publisher: ${m.message}`));
      const key = m.kind === 'sent' ? `sent:${m.phase}` : m.kind;
      const resolve = this.waiting.get(key);
      this.waiting.delete(key);
      resolve?.(m);
    });
    child.on('exit', (code) => {
      if (this.waiting.size > 0) this.fail(new Error(`publisher exited (code ${code})`));
    });
  }

  static async start(prepare: Omit<PrepareMessage, 'kind'>): Promise<{
    publisher: Publisher;
    accounts: Record<Phase, PhaseAccount>;
  }> {
    const child = fork(new URL('./publisher.ts', import.meta.url), [], {
      execArgv: ['--import', import.meta.resolve('tsx')],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const publisher = new Publisher(child);
    const ready = publisher.expect('ready');
    publisher.send({ kind: 'prepare', ...prepare });
    const m = await ready;
    if (m.kind !== 'ready') throw new Error('publisher answered out of turn');
    return { publisher, accounts: { warmup: m.warmup, timed: m.timed } };
  }

  /** Starts a phase; the promise resolves when every message of it is acknowledged by the broker. */
  go(phase: Phase): Promise<{ acked: number; failed: number; at: number }> {
    const sent = this.expect(`sent:${phase}`).then((m) => {
      const at = performance.now();
      return m.kind === 'sent' ? { acked: m.acked, failed: m.failed, at } : { acked: 0, failed: 0, at };
    });
    this.send({ kind: 'go', phase });
    return sent;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    if (this.child.connected) this.send({ kind: 'stop' });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }

  private send(m: ParentMessage): void {
    this.child.send(m);
  }

  private expect(key: string): Promise<ChildMessage> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiting.set(key, resolve);
      this.rejecters.add(reject);
    });
  }

  private fail(err: Error): void {
    this.failure = err;
    for (const reject of this.rejecters) reject(err);
    this.rejecters.clear();
    this.waiting.clear();
  }
}

/**
 * Resolves with the time `condition` first holds, checked whenever `poke` is called. Rejects after `ms`,
 * or, once `stallAfter` was called, when nothing pokes it for that long (a lost message never arrives:
 * no need to wait out the whole timeout).
 */
export class Milestone {
  at: number | undefined;
  private resolve: (at: number) => void = () => {};
  private reject: (err: Error) => void = () => {};
  readonly reached: Promise<number>;
  private readonly timer: NodeJS.Timeout;
  private stall: { ms: number; timer: NodeJS.Timeout } | undefined;

  constructor(
    private readonly condition: () => boolean,
    ms: number,
    private readonly what: string,
  ) {
    this.reached = new Promise<number>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.reached.catch(() => {});
    this.timer = setTimeout(() => this.fail(`timed out after ${ms} ms waiting for ${what}`), ms);
    this.poke();
  }

  poke(): void {
    if (this.at !== undefined) return;
    if (this.condition()) {
      this.at = performance.now();
      this.cancel();
      this.resolve(this.at);
    } else if (this.stall) {
      this.stall.timer.refresh();
    }
  }

  stallAfter(ms: number): void {
    if (this.at !== undefined || this.stall) return;
    this.stall = {
      ms,
      timer: setTimeout(() => this.fail(`nothing moved for ${ms} ms while waiting for ${this.what}`), ms),
    };
  }

  cancel(): void {
    clearTimeout(this.timer);
    if (this.stall) clearTimeout(this.stall.timer);
  }

  private fail(message: string): void {
    this.cancel();
    this.reject(new Error(message));
  }
}

/** Once every publish is acknowledged, what is still missing must arrive without a pause this long. */
const STALL_MS = 3000;

/**
 * One publisher phase: starts it, and once every publish is acknowledged gives the milestones STALL_MS
 * without progress before they fail. A missed milestone is recorded in `problems` and yields NaN.
 */
export async function runPhase(
  publisher: Publisher,
  phase: Phase,
  milestones: Milestone[],
  problems: string[],
): Promise<{ sent: { acked: number; failed: number; at: number }; at: number[] }> {
  const sending = publisher.go(phase).then((sent) => {
    for (const m of milestones) m.stallAfter(STALL_MS);
    return sent;
  });
  const [sent, ...at] = await Promise.all([
    sending,
    ...milestones.map((m) =>
      m.reached.catch((err: Error) => {
        problems.push(`${phase}: ${err.message}`);
        return Number.NaN;
      }),
    ),
  ]);
  return { sent, at };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function publisherOptions(
  mqttUrl: string,
  options: IngestOptions,
  name: string,
): Omit<PrepareMessage, 'kind'> {
  return {
    mqttUrl,
    buildings: options.buildings,
    devicesPerBuilding: options.devicesPerBuilding,
    messages: options.messages,
    window: options.window,
    clientId: `bench-pub-${name}`,
  };
}

/**
 * Messages per second a broker passes from the forked publisher to one subscriber, timed after a warm-up,
 * every message counted. The caller connects the subscriber (its session is what differs between brokers);
 * this subscribes it, measures, and ends it.
 */
export async function measurePassThrough(
  url: string,
  subscriber: MqttClient,
  filters: readonly string[],
  options: IngestOptions,
  name: string,
  hooks: TimedHooks = {},
): Promise<BrokerSample> {
  let publisher: Publisher | undefined;
  try {
    const granted = await subscriber.subscribeAsync([...filters], { qos: 1 });
    const refused = granted.filter((g) => g.qos === 128).map((g) => g.topic);
    if (refused.length > 0) throw new Error(`broker refused subscriptions: ${refused.join(', ')}`);
    let received = 0;
    let milestone: Milestone | undefined;
    subscriber.on('message', () => {
      received++;
      milestone?.poke();
    });

    const started = await Publisher.start(publisherOptions(url, options, name));
    publisher = started.publisher;
    const { warmup, timed } = started.accounts;

    const problems: string[] = [];
    milestone = new Milestone(() => received >= warmup.messages, options.timeoutMs, 'every message');
    await runPhase(publisher, 'warmup', [milestone], problems);
    if (received !== warmup.messages)
      problems.push(`warmup: subscriber received ${received} messages, ${warmup.messages} sent`);
    await sleep(options.settleMs);

    received = 0;
    milestone = new Milestone(() => received >= timed.messages, options.timeoutMs, 'every message');
    await hooks.beforeTimed?.();
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const loop0 = eventLoopCpuUs();
    const {
      sent,
      at: [t1 = Number.NaN],
    } = await runPhase(publisher, 'timed', [milestone], problems);
    const cpu = process.cpuUsage(cpu0);
    const loop = eventLoopCpuUs() - loop0;
    await hooks.afterTimed?.();
    // Late extra deliveries would be duplicates.
    await sleep(100);
    if (sent.failed > 0) problems.push(`${sent.failed} publishes failed`);
    if (received !== timed.messages)
      problems.push(`subscriber received ${received} messages, ${timed.messages} sent`);
    const durationMs = t1 - t0;
    return {
      ok: problems.length === 0,
      problems,
      messages: timed.messages,
      durationMs,
      rate: timed.messages / (durationMs / 1000),
      publisherDoneMs: sent.at - t0,
      cpuUsPerMessage: (cpu.user + cpu.system) / timed.messages,
      eventLoopUsPerMessage: loop / timed.messages,
    };
  } finally {
    await publisher?.stop();
    await subscriber.endAsync();
  }
}

export interface TimedHooks {
  /** Called just before the timed phase starts and just after it ends (e.g. to run a CPU profile). */
  beforeTimed?: () => Promise<void>;
  afterTimed?: () => Promise<void>;
}

/**
 * WeSprint's reading path (startWeSprint: broker with its journal + in-process gateway, lab mode for the
 * publisher) storing into `store`; first publish to the store's acknowledgement of the last reading.
 */
export async function measureGateway(
  env: IngestEnvironment,
  options: IngestOptions,
  hooks: TimedHooks = {},
  store: WeSprintStore = { kind: 'embedded' },
): Promise<GatewaySample> {
  // Readings are stamped on arrival: the store is counted from a little before the run on.
  const since = Date.now() - 60_000;
  const wesprint = await startWeSprint(env.site, { name: 'gateway', store, labMode: true });
  const gw = wesprint.gateway;
  let publisher: Publisher | undefined;
  // The gateway's counters are polled: it has no event per message or per store write.
  let poll: NodeJS.Timeout | undefined;
  try {
    let written: Milestone | undefined;
    let arrived: Milestone | undefined;
    poll = setInterval(() => {
      written?.poke();
      arrived?.poke();
    }, 5);

    const started = await Publisher.start(publisherOptions(wesprint.url, options, 'gateway'));
    publisher = started.publisher;
    const { warmup, timed } = started.accounts;

    const problems: string[] = [];
    written = new Milestone(
      () => gw.stats().stored >= warmup.readings,
      options.timeoutMs,
      'every reading to be stored',
    );
    await runPhase(publisher, 'warmup', [written], problems);
    await sleep(options.settleMs);

    const before = { stats: gw.stats(), failures: gw.stats().storeFailures };
    arrived = new Milestone(
      () => gw.stats().received - before.stats.received >= timed.messages,
      options.timeoutMs,
      'the gateway to decode every message',
    );
    written = new Milestone(
      () => gw.stats().stored - before.stats.stored >= timed.readings,
      options.timeoutMs,
      'every reading to be stored',
    );
    await hooks.beforeTimed?.();
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const loop0 = eventLoopCpuUs();
    const {
      sent,
      at: [receivedAt = Number.NaN, t1 = Number.NaN],
    } = await runPhase(publisher, 'timed', [arrived, written], problems);
    const cpu = process.cpuUsage(cpu0);
    const loop = eventLoopCpuUs() - loop0;
    await hooks.afterTimed?.();
    arrived.cancel();
    written.cancel();
    await sleep(100);

    const after = gw.stats();
    const delta = (a: number, b: number) => a - b;
    if (sent.failed > 0) problems.push(`${sent.failed} publishes failed`);
    const decoded = delta(after.readings, before.stats.readings);
    if (decoded !== timed.readings)
      problems.push(`gateway decoded ${decoded} readings, the messages carried ${timed.readings}`);
    const quarantined = delta(after.quarantined, before.stats.quarantined);
    if (quarantined > 0) problems.push(`${quarantined} messages quarantined`);
    const stored = delta(after.stored, before.stats.stored);
    if (stored !== timed.readings)
      problems.push(`the store acknowledged ${stored} readings, ${timed.readings} expected`);
    if (after.storeFailures > before.failures)
      problems.push(
        `${after.storeFailures - before.failures} store writes failed (read again from the journal)`,
      );
    problems.push(...(await verifyStore(wesprint.reader, [warmup, timed], since)));

    const durationMs = t1 - t0;
    return {
      ok: problems.length === 0,
      problems,
      messages: timed.messages,
      readings: timed.readings,
      durationMs,
      rate: timed.messages / (durationMs / 1000),
      readingsPerSecond: timed.readings / (durationMs / 1000),
      receivedMs: receivedAt - t0,
      publisherDoneMs: sent.at - t0,
      cpuUsPerMessage: (cpu.user + cpu.system) / timed.messages,
      eventLoopUsPerMessage: loop / timed.messages,
      storeWrites: after.storeWrites - before.stats.storeWrites,
    };
  } finally {
    clearInterval(poll);
    await publisher?.stop();
    await wesprint.close();
  }
}

/**
 * The store must hold, per device and quantity, exactly as many readings as the messages carried (counted
 * from `from`, epoch ms: the run's start; default all of it).
 */
export async function verifyStore(
  store: TimeSeriesStore,
  phases: PhaseAccount[],
  from = 0,
): Promise<string[]> {
  const expected = new Map<string, Map<string, number>>();
  for (const phase of phases) {
    for (const [device, quantities] of Object.entries(phase.perDeviceQuantity)) {
      for (const [quantity, n] of Object.entries(quantities)) {
        const byDevice = expected.get(quantity) ?? new Map<string, number>();
        expected.set(quantity, byDevice);
        byDevice.set(device, (byDevice.get(device) ?? 0) + (n ?? 0));
      }
    }
  }
  const problems: string[] = [];
  let missing = 0;
  let extra = 0;
  let wrongSeries = 0;
  for (const [quantity, byDevice] of expected) {
    const series = await store.query({
      quantity: quantity as Quantity,
      from,
      to: Date.now() + 60_000,
      aggregate: 'count',
    });
    const found = new Map<string, number>();
    for (const s of series)
      found.set(
        s.device,
        s.points.reduce((sum, p) => sum + p.value, 0),
      );
    for (const [device, n] of byDevice) {
      const got = found.get(device) ?? 0;
      if (got < n) missing += n - got;
      if (got > n) extra += got - n;
      if (got !== n) wrongSeries++;
      found.delete(device);
    }
    for (const [, got] of found) extra += got;
  }
  if (missing > 0 || extra > 0)
    problems.push(
      `store holds ${missing} readings too few and ${extra} too many (${wrongSeries} device/quantity series wrong)`,
    );
  return problems;
}
