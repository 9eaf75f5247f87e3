import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import mqtt from 'mqtt';
import { InfluxV1Store } from '../storage/influx-v1-store.ts';
import { SqliteStore } from '../storage/sqlite-store.ts';
import type { StoredReading, TimeSeriesStore } from '../storage/store.ts';
import { INFLUXD_INSTALL, type Influxd, influxdAvailable, startInfluxd } from '../test-support/influxd.ts';
import { startBareAedes } from './bare-broker.ts';
import {
  DEVICE_FILTERS,
  type HandWrittenClient,
  influxWriter,
  startHandWrittenClient,
} from './hand-written-client.ts';
import {
  type BrokerSample,
  eventLoopCpuUs,
  type GatewaySample,
  type IngestEnvironment,
  type IngestOptions,
  Milestone,
  measureGateway,
  measurePassThrough,
  median,
  Publisher,
  publisherOptions,
  runPhase,
  sleep,
  type TimedHooks,
  verifyStore,
} from './ingest.ts';
import {
  CpuProfiler,
  formatSummary,
  type ProfileSummary,
  summariseProfile,
  writeProfile,
} from './profile.ts';

/**
 * Issue 10's measuring stick: WeSprint's reading path against two references, all on the same load (the
 * ingest bench's publisher: the load mode's vendor payloads, QoS 1, `window` in flight, one process of its
 * own) in the same run, alternating (the order rotates from run to run), medians of `runs` runs each:
 *
 *   A         a bare aedes (npm aedes, default in-memory persistence, no accounts or ACLs), in this process,
 *             passing through to one clean-session subscriber of the device topics; first publish to last
 *             message received.
 *   B         the hand-written MQTT.js client (bench/hand-written-client.ts), clean session, on the same bare
 *             aedes, both in this process; batches of 1,000 points to
 *               - InfluxDB (Debian's influxd on loopback, test-support/influxd.ts; line protocol over /write),
 *               - the embedded store: storage/sqlite-store.ts's SqliteStore.write, the store WeSprint uses;
 *             first publish to the store's acknowledgement of the last point.
 *   WeSprint  `wesprint start --no-simulation` in this process through the CLI's own composition
 *             (bench/ingest.ts startWeSprint: cli/parts.ts startParts, broker + gateway): the project's broker
 *             in lab mode journaling into DATA_DIR/journal and acknowledging after the commit, the gateway
 *             reading the journal, storing into the same influxd (InfluxV1Store, a fresh database per run)
 *             and into the embedded store.
 *
 * Ratios, with issue 10's goals (a figure short of its goal is reported, not a failure):
 *   WeSprint -> InfluxDB / B -> InfluxDB   points/s, goal >= 1.0
 *   WeSprint -> embedded / A               messages/s, goal >= 0.8
 *   WeSprint -> embedded / B -> embedded   points/s, no goal (how far the store path is from a plain one)
 * Each measurement also reports the CPU time (user + system) of this process per timed message: everything
 * measured runs here (the publisher and influxd do not), and on a machine others load it moves far less than
 * the rates do.
 * Every reading is counted in every store, per device and quantity: one lost or stored twice (a duplicate
 * carries a new arrival time, so it is a second point) fails the run, as does a stall or a refused batch.
 * Without /usr/bin/influxd the InfluxDB measurements are skipped, and said so.
 */

export const INFLUX_GOAL = 1.0;
export const EMBEDDED_GOAL = 0.8;

export const REFERENCE_MEASUREMENTS = [
  'A',
  'B-influxdb',
  'WeSprint-influxdb',
  'B-embedded',
  'WeSprint-embedded',
] as const;
export type ReferenceMeasurement = (typeof REFERENCE_MEASUREMENTS)[number];

const LABELS: Record<ReferenceMeasurement, string> = {
  A: 'A  bare aedes -> subscriber',
  'B-influxdb': 'B  hand-written -> InfluxDB',
  'WeSprint-influxdb': 'WeSprint -> InfluxDB',
  'B-embedded': 'B  hand-written -> embedded',
  'WeSprint-embedded': 'WeSprint -> embedded',
};

/** Points per second, or messages per second, of the measurements' medians. */
export interface Rates {
  rate: number;
  readingsPerSecond?: number;
  /** CPU time of the measuring process per message (µs): what the path costs, steadier than its rate. */
  cpuUsPerMessage?: number;
  /** Of it, its main thread's (µs per message). */
  eventLoopUsPerMessage?: number;
}

export interface RatioResult {
  ratio: number;
  goal?: number;
  met?: boolean;
}

export interface IngestReferencesResult {
  /** No failure (loss, duplicate, stall, refused write). Says nothing about the goals. */
  ok: boolean;
  settings: IngestOptions & { runs: number };
  /** Medians of the runs that counted right; messages/s, and points/s where points are stored. */
  medians: Partial<Record<ReferenceMeasurement, Rates>>;
  samples: Partial<Record<ReferenceMeasurement, (BrokerSample | GatewaySample)[]>>;
  ratios: {
    influxdbVsHandWritten: RatioResult;
    embeddedVsBareBroker: RatioResult;
    embeddedVsHandWritten: RatioResult;
  };
  failures: string[];
  skipped: string[];
  /** With --profile: where WeSprint's time goes, one extra run per store under the CPU profiler. */
  profiles?: Partial<Record<ReferenceMeasurement, ProfileSummary>>;
}

/** The order of run `run` (1-based): the measurements rotated by one per run. */
export function referenceOrder(
  run: number,
  wanted: readonly ReferenceMeasurement[] = REFERENCE_MEASUREMENTS,
): ReferenceMeasurement[] {
  const k = (run - 1) % wanted.length;
  return [...wanted.slice(k), ...wanted.slice(0, k)];
}

/** a / b, rounded to three places, against its goal when it has one. */
export function ratioOf(a: number | undefined, b: number | undefined, goal?: number): RatioResult {
  const ratio = a !== undefined && b !== undefined ? Math.round((a / b) * 1000) / 1000 : Number.NaN;
  if (goal === undefined) return { ratio };
  return { ratio, goal, met: Number.isFinite(ratio) && ratio >= goal };
}

/** Reference A: the bare aedes passing through to one clean-session subscriber. */
export async function measureBareAedes(options: IngestOptions): Promise<BrokerSample> {
  const broker = await startBareAedes();
  try {
    const subscriber = await mqtt.connectAsync(broker.url, {
      clientId: 'bench-bare-subscriber',
      protocolVersion: 4,
      clean: true,
      reconnectPeriod: 0,
    });
    return await measurePassThrough(broker.url, subscriber, DEVICE_FILTERS, options, 'bare');
  } finally {
    await broker.close();
  }
}

/** One store of a run, as both reference B and WeSprint see it: a writer for B, a reader for counting. */
export interface BenchStore {
  /** What the hand-written client writes with. */
  write: (batch: StoredReading[]) => Promise<void>;
  /** What the readings are counted through. */
  reader: TimeSeriesStore;
  dispose(): Promise<void>;
}

/** Reference B: the hand-written client on the bare aedes, storing into `store`. */
export async function measureHandWritten(
  env: IngestEnvironment,
  options: IngestOptions,
  store: BenchStore,
): Promise<GatewaySample> {
  const since = Date.now() - 60_000;
  const broker = await startBareAedes();
  let publisher: Publisher | undefined;
  let client: HandWrittenClient | undefined;
  try {
    client = await startHandWrittenClient({ url: broker.url, site: env.site, write: store.write });
    const c = client.counters;
    let arrived: Milestone | undefined;
    let written: Milestone | undefined;
    client.onProgress = () => {
      arrived?.poke();
      written?.poke();
    };
    const started = await Publisher.start(publisherOptions(broker.url, options, 'hand'));
    publisher = started.publisher;
    const { warmup, timed } = started.accounts;

    const problems: string[] = [];
    written = new Milestone(
      () => c.written >= warmup.readings,
      options.timeoutMs,
      'every point to be stored',
    );
    await runPhase(publisher, 'warmup', [written], problems);
    await sleep(options.settleMs);

    const before = { ...c };
    arrived = new Milestone(
      () => c.messages - before.messages >= timed.messages,
      options.timeoutMs,
      'the client to receive every message',
    );
    written = new Milestone(
      () => c.written - before.written >= timed.readings,
      options.timeoutMs,
      'every point to be stored',
    );
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const loop0 = eventLoopCpuUs();
    const {
      sent,
      at: [receivedAt = Number.NaN, t1 = Number.NaN],
    } = await runPhase(publisher, 'timed', [arrived, written], problems);
    const cpu = process.cpuUsage(cpu0);
    const loop = eventLoopCpuUs() - loop0;
    arrived.cancel();
    written.cancel();
    await sleep(300);

    if (sent.failed > 0) problems.push(`${sent.failed} publishes failed`);
    const messages = c.messages - before.messages;
    if (messages !== timed.messages)
      problems.push(`the client received ${messages} messages, ${timed.messages} sent`);
    if (c.unknown > 0) problems.push(`${c.unknown} messages on topics the client does not know`);
    const decoded = c.readings - before.readings;
    if (decoded !== timed.readings)
      problems.push(`the client decoded ${decoded} readings, the messages carried ${timed.readings}`);
    if (c.failed > 0) problems.push(`the store refused ${c.failed} points: ${client.errors.join('; ')}`);
    const stored = c.written - before.written;
    if (stored !== timed.readings)
      problems.push(`the store acknowledged ${stored} points, ${timed.readings} expected`);
    problems.push(...(await verifyStore(store.reader, [warmup, timed], since)));

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
      storeWrites: c.batches - before.batches,
    };
  } finally {
    await publisher?.stop();
    await client?.stop();
    await broker.close();
  }
}

/** A fresh database on the bench's influxd, set up as InfluxV1Store sets it up (retention policy `raw`). */
async function influxDatabase(influxd: Influxd, database: string): Promise<BenchStore> {
  const reader = new InfluxV1Store({ url: influxd.url, database });
  // Creates the database and its retention policies (`raw` the default one, where /write lands).
  await reader.write([]);
  return {
    write: influxWriter(influxd.url, database),
    reader,
    async dispose() {
      await reader.close();
      await dropDatabase(influxd, database);
    },
  };
}

async function dropDatabase(influxd: Influxd, database: string): Promise<void> {
  const q = encodeURIComponent(`DROP DATABASE "${database}"`);
  await fetch(`${influxd.url}/query?q=${q}`, { method: 'POST' }).catch(() => {});
}

export function embeddedDatabase(dir: string): BenchStore {
  const store = new SqliteStore({ file: path.join(dir, 'readings.db') });
  return {
    write: (batch) => store.write(batch),
    reader: store,
    async dispose() {
      await store.close();
    },
  };
}

const rate = (n: number | undefined) =>
  n !== undefined && Number.isFinite(n) ? `${Math.round(n).toLocaleString('en')}` : '–';

function describeSample(what: ReferenceMeasurement, s: BrokerSample | GatewaySample): string {
  const points =
    'readingsPerSecond' in s
      ? `  ${rate(s.readingsPerSecond).padStart(7)} points/s  (${Math.round(s.durationMs)} ms; all received at ${Math.round(s.receivedMs)} ms, ${s.storeWrites} batches)`
      : `  ${''.padStart(16)}  (${Math.round(s.durationMs)} ms)`;
  const cpu = Number.isFinite(s.cpuUsPerMessage)
    ? `  ${Math.round(s.cpuUsPerMessage)} µs CPU/msg${Number.isFinite(s.eventLoopUsPerMessage) ? ` (event loop ${Math.round(s.eventLoopUsPerMessage)})` : ''}`
    : '';
  return `${LABELS[what].padEnd(30)}${rate(s.rate).padStart(7)} msg/s${points}${cpu}${s.ok ? '' : `  FAIL: ${s.problems.join('; ')}`}`;
}

export async function runIngestReferences(
  env: IngestEnvironment,
  options: IngestOptions,
  runs: number,
  report: (line: string) => void = console.log,
  profile = false,
  measurements: readonly ReferenceMeasurement[] = REFERENCE_MEASUREMENTS,
): Promise<IngestReferencesResult> {
  const failures: string[] = [];
  const skipped: string[] = [];
  let influxd: Influxd | undefined;
  let wanted: ReferenceMeasurement[] = [...measurements];
  if (!wanted.some((m) => m.endsWith('-influxdb'))) {
    // Not asked for: no influxd started.
  } else if (!influxdAvailable()) {
    skipped.push(`InfluxDB measurements: no influxd (${INFLUXD_INSTALL})`);
    wanted = wanted.filter((m) => !m.endsWith('-influxdb'));
  } else {
    influxd = await startInfluxd();
  }
  const samples: Partial<Record<ReferenceMeasurement, (BrokerSample | GatewaySample)[]>> = {};
  report(
    `ingest references: ${options.messages} messages per run, ${env.site.devices.length} devices, QoS 1, window ${options.window}, ${runs} run(s) of each, alternating`,
  );
  for (const s of skipped) report(`  skipped: ${s}`);
  let databases = 0;
  const profiles: Partial<Record<ReferenceMeasurement, ProfileSummary>> = {};
  try {
    for (let run = 1; run <= runs; run++) {
      for (const what of referenceOrder(run, wanted)) {
        let sample: BrokerSample | GatewaySample;
        try {
          sample = await measureOne(what, env, options, influxd, `bench_${process.pid}_${++databases}`);
        } catch (err) {
          failures.push(`${what} run ${run}: ${(err as Error).message}`);
          report(`  run ${run} ${LABELS[what].padEnd(30)}FAIL: ${(err as Error).message}`);
          continue;
        }
        const list = samples[what] ?? [];
        samples[what] = list;
        list.push(sample);
        report(`  run ${run} ${describeSample(what, sample)}`);
        if (!sample.ok) failures.push(`${what} run ${run}: ${sample.problems.join('; ')}`);
      }
    }
    if (profile) {
      for (const what of wanted.filter((m) => m.startsWith('WeSprint'))) {
        const profiler = new CpuProfiler();
        let raw: Awaited<ReturnType<CpuProfiler['stop']>> | undefined;
        const hooks: TimedHooks = {
          beforeTimed: () => profiler.start(),
          afterTimed: async () => {
            raw = await profiler.stop();
          },
        };
        const s = await measureOne(what, env, options, influxd, `bench_${process.pid}_${++databases}`, hooks);
        if (!raw) continue;
        const file = path.join(os.tmpdir(), `wesprint-${what}-${Date.now()}.cpuprofile`);
        writeProfile(file, raw);
        const summary = summariseProfile(raw);
        profiles[what] = summary;
        report(`\nprofiled run: ${describeSample(what, s)}`);
        report(formatSummary(summary));
        report(`  raw profile (Chrome DevTools): ${file}`);
      }
    }
  } finally {
    await influxd?.dispose();
  }

  const medians: Partial<Record<ReferenceMeasurement, Rates>> = {};
  for (const what of wanted) {
    const ok = (samples[what] ?? []).filter((s) => s.ok);
    if (ok.length === 0) continue;
    const points = ok.flatMap((s) => ('readingsPerSecond' in s ? [s.readingsPerSecond] : []));
    medians[what] = {
      rate: Math.round(median(ok.map((s) => s.rate))),
      ...(points.length > 0 ? { readingsPerSecond: Math.round(median(points)) } : {}),
      cpuUsPerMessage: Math.round(median(ok.map((s) => s.cpuUsPerMessage))),
      eventLoopUsPerMessage: Math.round(median(ok.map((s) => s.eventLoopUsPerMessage ?? Number.NaN))),
    };
  }
  const pointsOf = (m: ReferenceMeasurement) => medians[m]?.readingsPerSecond;
  return {
    ok: failures.length === 0,
    settings: { ...options, runs },
    medians,
    samples,
    ratios: {
      influxdbVsHandWritten: ratioOf(pointsOf('WeSprint-influxdb'), pointsOf('B-influxdb'), INFLUX_GOAL),
      embeddedVsBareBroker: ratioOf(medians['WeSprint-embedded']?.rate, medians.A?.rate, EMBEDDED_GOAL),
      embeddedVsHandWritten: ratioOf(pointsOf('WeSprint-embedded'), pointsOf('B-embedded')),
    },
    failures,
    skipped,
    ...(profile ? { profiles } : {}),
  };
}

async function measureOne(
  what: ReferenceMeasurement,
  env: IngestEnvironment,
  options: IngestOptions,
  influxd: Influxd | undefined,
  database: string,
  hooks: TimedHooks = {},
): Promise<BrokerSample | GatewaySample> {
  if (what === 'A') return measureBareAedes(options);
  if (what === 'WeSprint-embedded') return measureGateway(env, options, hooks);
  if (what === 'WeSprint-influxdb') {
    const server = influxd as Influxd;
    try {
      return await measureGateway(env, options, hooks, { kind: 'influxdb', url: server.url, database });
    } finally {
      await dropDatabase(server, database);
    }
  }
  const dir = what === 'B-embedded' ? fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-bench-hand-')) : '';
  const store =
    what === 'B-influxdb' ? await influxDatabase(influxd as Influxd, database) : embeddedDatabase(dir);
  try {
    return await measureHandWritten(env, options, store);
  } finally {
    await store.dispose();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** ", N µs CPU/msg" of a median, when known (InfluxDB's own CPU is influxd's, not counted). */
const cpuOf = (r: Rates | undefined) =>
  r?.cpuUsPerMessage !== undefined && Number.isFinite(r.cpuUsPerMessage)
    ? `  ${r.cpuUsPerMessage} µs CPU/msg${r.eventLoopUsPerMessage !== undefined && Number.isFinite(r.eventLoopUsPerMessage) ? ` (event loop ${r.eventLoopUsPerMessage})` : ''}`
    : '';

/** The summary lines `npm run bench` prints after the runs. */
export function describeReferences(r: IngestReferencesResult): string[] {
  const n = r.settings.runs;
  const m = r.medians;
  const ratio = (x: RatioResult) =>
    `${Number.isFinite(x.ratio) ? x.ratio.toFixed(2) : '–'}${
      x.goal === undefined ? '' : `   (goal >= ${x.goal.toFixed(1)}: ${x.met ? 'met' : 'NOT met'})`
    }`;
  return [
    `reference A  bare aedes pass-through        ${rate(m.A?.rate).padStart(7)} msg/s     (median of ${n})${cpuOf(m.A)}`,
    `reference B  hand-written -> InfluxDB       ${rate(m['B-influxdb']?.readingsPerSecond).padStart(7)} points/s  ${rate(m['B-influxdb']?.rate)} msg/s${cpuOf(m['B-influxdb'])}`,
    `reference B  hand-written -> embedded       ${rate(m['B-embedded']?.readingsPerSecond).padStart(7)} points/s  ${rate(m['B-embedded']?.rate)} msg/s${cpuOf(m['B-embedded'])}`,
    `WeSprint     gateway -> InfluxDB            ${rate(m['WeSprint-influxdb']?.readingsPerSecond).padStart(7)} points/s  ${rate(m['WeSprint-influxdb']?.rate)} msg/s${cpuOf(m['WeSprint-influxdb'])}`,
    `WeSprint     gateway -> embedded            ${rate(m['WeSprint-embedded']?.readingsPerSecond).padStart(7)} points/s  ${rate(m['WeSprint-embedded']?.rate)} msg/s${cpuOf(m['WeSprint-embedded'])}`,
    `ratio WeSprint->InfluxDB / B->InfluxDB      ${ratio(r.ratios.influxdbVsHandWritten)}`,
    `ratio WeSprint->embedded / A (msg/s)        ${ratio(r.ratios.embeddedVsBareBroker)}`,
    `ratio WeSprint->embedded / B->embedded      ${ratio(r.ratios.embeddedVsHandWritten)}`,
    r.ok
      ? 'every reading counted in every store: nothing lost, nothing twice'
      : `${r.failures.length} measurement(s) FAILED (see above)`,
    ...r.skipped.map((s) => `skipped: ${s}`),
  ];
}
