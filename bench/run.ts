import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { boundHeapGrowth } from '../cli/heap.ts';
import { benchBoardReport, describeBoardReportBench } from './board-report.ts';
import {
  DEFAULT_FAULTS,
  describeFaults,
  FAULTS,
  type FaultName,
  type FaultsResult,
  MEMORY_DOWN_S,
  runFaults,
  SHAPES,
  type Shape,
} from './faults.ts';
import { type IngestOptions, ingestEnvironment } from './ingest.ts';
import { benchLiveLatency, describeLiveLatency, type LiveLatencyResult } from './live-latency.ts';
import { benchNetwork, describeNetworkBench, type NetworkBenchResult } from './network.ts';
import {
  describeReferences,
  type IngestReferencesResult,
  REFERENCE_MEASUREMENTS,
  type ReferenceMeasurement,
  runIngestReferences,
} from './references.ts';
import { benchSendersSnapshot, describeSendersSnapshot } from './senders-snapshot.ts';
import { LAYOUTS, type Layout, measureTwoNodes, type TwoNodeSamples } from './two-nodes.ts';
import { benchUnlock, describeUnlockBench, type UnlockBenchResult, unlockFailures } from './unlock.ts';

/**
 * `npm run bench` (bin/bench.js): the project's benchmarks, one after another, each figure printed and
 * written under `benchmarks.<name>` in bench/results.json. A measurement that lost, duplicated or stalled
 * is a failure (exit code 1), not a figure; a figure short of its goal is reported, not a failure.
 *
 *   ingest-references   issue 10's measuring stick (bench/references.ts): WeSprint's reading path as `wesprint
 *           start --no-simulation` runs it (cli/parts.ts startParts with the broker and the gateway: the broker,
 *           lab mode for the publisher, journals into DATA_DIR/journal and PUBACKs after the commit, the gateway
 *           in the same process reads the journal) storing into InfluxDB (InfluxV1Store) and into the embedded
 *           store, against a bare aedes passing through to a clean-session subscriber (A) and a hand-written
 *           MQTT.js client batching 1,000 points into the same stores (B), alternating, medians of --runs; the
 *           ratios WeSprint->InfluxDB / B (goal >= 1.0) and WeSprint->embedded / A (goal >= 0.8), and each
 *           path's CPU time per message in the measuring process (steadier than rates on a loaded machine). Needs
 *           /usr/bin/influxd for the InfluxDB half (else skipped). (The former `ingest`, the gateway against
 *           the project's broker serving the gateway's persistent session, measured a session the gateway no
 *           longer has, and its gateway half was WeSprint->embedded: folded in here.)
 *   live    device publish -> /api/live WebSocket latency at 1,000 msg/s (p50, p95, p99, max; goal p99 < 50 ms)
 *           on `wesprint start --no-simulation` as its own process (broker with its journal, gateway, API),
 *           the administrator's session on the socket, every reading counted; against a bare aedes of its own
 *           passing the same devices' messages to one subscriber at the same rate (publish -> subscriber), in
 *           the same run, alternating, medians of --live-runs; the ratios WeSprint / bare and each path's
 *           publish -> PUBACK (bench/live-latency.ts). About 2.5 minutes.
 *   unlock  phone unlock latency (command on the wire, vendor command, confirmation), also relative to a
 *           bare MQTT round trip on the same broker in the same run, and booking throughput (bench/unlock.ts).
 *
 *   two-nodes   issue 10's two-node figure (bench/two-nodes.ts): two `wesprint broker` processes sharing one
 *           building through Redis (REDIS_URL, default redis://127.0.0.1:6379; a key prefix of its own per
 *           measurement, deleted afterwards), a publisher on node A and the gateway's account, filters and
 *           persistent session on node B, against one node alone (and one node on Redis), pass-through as
 *           measured for reference A, alternating, medians of --runs; the ratio two nodes / one node. Skipped,
 *           saying so, when no Redis answers.
 *
 *   network issue 11's scale figure (bench/network.ts): `wesprint start --no-simulation` as its own process
 *           serving --houses houses (SITES_DIR) of --house-devices devices each (default 10 x 160, about 1,600
 *           devices, each publishing every 10 s), against the same start serving one house (SITE_FILE), in the
 *           same run: the system process's CPU (per second and per message), its memory (RSS), and the home
 *           house's live latency (device publish -> /api/live); the ratios network / one house. About 3 minutes.
 *
 *   report  the board report, uncached, for the last year and month on a data dir with history (--data-dir, or
 *           DATA_DIR; skipped without one): year and month times against a plain read of the same rollup rows
 *           in the same run (bench/board-report.ts). Only with --only report or --data-dir.
 *   faults  issue 10's durability (bench/faults.ts): the real processes in both shapes a building runs (--shape):
 *           edge, `wesprint edge` (broker + gateway in one process, the broker's journal); split, `wesprint
 *           broker` + `wesprint gateway` (the gateway's MQTT intake and its own journal); the store embedded or
 *           influxd (--store). --messages QoS 1 readings from --buildings × --devices Tasmota/Shelly devices
 *           (one MQTT.js client resending with DUP 1 after a reconnect), a fault injected halfway (edge: kill -9
 *           of the edge, --repeat runs; split: gateway kill -9, --repeat runs, broker kill -9; both: the store
 *           away for --store-down s, everything kill -9 at once; each restarted), then every message counted in
 *           the store: lost (PUBACKed, not stored), lost without PUBACK (allowed), stored twice (goal: 0 and 0).
 *           Counts are figures, not failures; a part that does not come back, stalled PUBACKs, a store that
 *           does not settle or an outage the gateway never noticed are. Not in the default run: it takes
 *           minutes (on this 2-core machine at load ~10, one store and one shape about 4 minutes: 7 runs of
 *           ~20 s on freshly started processes, the store outage 75 s; --memory adds the memory scenario). Only
 *           with --only faults.
 *   memory  issue 10's memory while the store is down (bench/faults.ts, scenario memory): the store away for
 *           --memory-minutes (default 10) under a steady --memory-rate msg/s (default 500), the RSS of each
 *           process of the system (edge: `wesprint edge`; split: `wesprint broker` and `wesprint gateway`)
 *           sampled every second: start, peak, end, slope over the outage and after its warm-up, each process
 *           on its own; every message counted as in faults. Store: InfluxDB unless --store says (embedded:
 *           SQLite's write lock held); shape: edge unless --shape says. About the outage + 2 minutes; a smoke
 *           run: --memory-minutes 0.5. Only with --only memory.
 *
 *   --only NAME    ingest-references | live | unlock | two-nodes | network | report | faults | memory (default:
 *                  all but report, faults and memory)
 *   --houses N --house-devices N --network-seconds S   network: houses, devices per house, seconds measured
 *                  (10, 160, 60)
 *   --data-dir D   report: the data dir to read (e.g. the demo's after its first start)
 *   --messages N   ingest-references: timed messages per run (default 100000: runs of 4-7 s; at 20,000, ~1 s,
 *                  single runs swung by ±25 % and a median of 3 by ±0.05 in the ratio); faults, two-nodes:
 *                  messages per run (default 20000)
 *   --runs N       ingest-references: runs of each measurement, alternating (default 3); medians
 *                  are reported
 *   --window N     ingest-references: publisher's unacknowledged QoS 1 messages (default 1000)
 *   --buildings N --devices N   ingest-references: synthetic site (default 5 × 100 devices:
 *                  enough that no device sends twice in one millisecond, the store's key; few enough
 *                  (~670 topics) to stay inside the broker's 1024-entry per-session ACL decision cache, past
 *                  which every message pays a linear ACL scan)
 *   --measure LIST ingest-references: only these measurements (comma-separated, of A, B-influxdb,
 *                  WeSprint-influxdb, B-embedded, WeSprint-embedded), e.g. A,WeSprint-embedded while working on
 *                  the embedded path; the ratios whose two sides were not measured are left out (–)
 *   --profile      ingest-references: one extra run of each WeSprint measurement under the CPU profiler
 *                  (broker, journal, gateway and store share the process); prints where the time goes
 *   --live-rate N --live-seconds S --live-runs N   live: messages per second, seconds of publishing per
 *                  run, runs of each path (1000, 20, 3)
 *   --store S      faults, memory: embedded (SQLite; faults' default), influx (Debian's influxd, started by the
 *                  bench; memory's default), or both: embedded,influx (results under faults and faults-influx,
 *                  memory and memory-influx)
 *   --shape LIST   faults, memory: edge, split or edge,split (default: faults both, memory edge)
 *   --fault LIST   faults: comma-separated, of edge-kill, gateway-kill, broker-kill, store-down, all-kill,
 *                  memory (default all but memory; each shape runs those it has)
 *   --repeat N     faults: runs of edge-kill and gateway-kill (default 5); the other faults run once
 *   --store-down S faults: seconds the store is away in store-down (default 60; embedded: more than the
 *                  store's 5 s busy timeout, or the gateway's write just waits and nothing spools)
 *   --memory       faults: also the memory scenario (as --only memory)
 *   --memory-minutes M   memory: minutes the store is away (default 10; fractions allowed, 0.5 for a smoke run)
 *   --memory-rate N      memory: messages per second meanwhile (default 500)
 *   --memory-control     memory: the same minutes and load with the store left up (is a rise the outage's?)
 *   --out FILE     results file (default bench/results.json)
 *
 * Time: with the defaults, ingest-references is 15 measurements of 100,000 messages (4-7 s each on a quiet
 * machine, up to 30 s at load 15): A and WeSprint->embedded alone (--measure, 6 runs) took 1.3-2 minutes at
 * load 9-15 (2026-12-07), all five paths about twice that; live about 20 s. For a quick look: --only
 * ingest-references --messages 2000 --runs 1 (about 15 s); faults:
 * --only faults --messages 2000 --store-down 8 --repeat 1 (about 3 minutes for both shapes).
 */

/** The two-node figure (bench/two-nodes.ts): medians per layout and two nodes / one node alone. */
export interface TwoNodesEntry {
  ok: boolean;
  skipped?: string;
  redisUrl?: string;
  median?: Record<Layout, number>;
  ratio?: number;
  samples?: TwoNodeSamples[];
  failures?: string[];
}

/** True when a Redis answers PING at `url` within a few seconds. */
async function redisAnswers(url: string): Promise<boolean> {
  const { Redis } = await import('ioredis');
  const conn = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 3000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  conn.on('error', () => undefined);
  try {
    await conn.connect();
    return (await conn.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    conn.disconnect();
  }
}

const rate = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en') : '–');

const RESULTS_FILE = fileURLToPath(new URL('./results.json', import.meta.url));
/** Messages per run without --messages: faults and two-nodes. */
const DEFAULT_MESSAGES = 20_000;
/** Timed messages per run of ingest-references without --messages (~5 s a run on this machine). */
const REFERENCE_MESSAGES = 100_000;

export type UnlockEntry = { ok: boolean; failures: string[] } & Partial<UnlockBenchResult>;

/** The results file: machine facts of the latest run, then one entry per benchmark. */
export interface BenchResults {
  date: string;
  node: string;
  cpus: { count: number; model: string };
  loadAverage: number[];
  benchmarks: Record<string, unknown> & {
    'ingest-references'?: IngestReferencesResult;
    live?: LiveLatencyResult;
    unlock?: UnlockEntry;
    faults?: FaultsResult;
    'faults-influx'?: FaultsResult;
    memory?: FaultsResult;
    'memory-influx'?: FaultsResult;
    'two-nodes'?: TwoNodesEntry;
    network?: NetworkBenchResult;
  };
}

/**
 * Writes one benchmark's entry into the results file, keeping the other benchmarks' entries that are
 * already there (`--only` runs one of them).
 */
export function writeBenchResult(file: string, name: string, entry: unknown): void {
  let previous: Partial<BenchResults> = {};
  try {
    previous = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<BenchResults>;
  } catch {
    // No earlier results (or unreadable ones): start afresh.
  }
  const cpus = os.cpus();
  const results: BenchResults = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: { count: cpus.length, model: cpus[0]?.model ?? 'unknown' },
    loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
    benchmarks: { ...(previous.benchmarks ?? {}), [name]: entry },
  };
  fs.writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
}

function measurementsOf(list: string | undefined): ReferenceMeasurement[] | undefined {
  if (list === undefined) return undefined;
  const wanted = list.split(',').map((m) => m.trim());
  const unknown = wanted.filter((m) => !(REFERENCE_MEASUREMENTS as readonly string[]).includes(m));
  if (unknown.length > 0)
    throw new Error(`--measure: unknown ${unknown.join(', ')} (known: ${REFERENCE_MEASUREMENTS.join(', ')})`);
  return REFERENCE_MEASUREMENTS.filter((m) => wanted.includes(m));
}

/** A positive number of the option, fractions allowed (e.g. --memory-minutes 0.5 for a smoke run). */
export function positiveNumber(name: string, value: string | undefined): number {
  const n = Number(value);
  if (!(Number.isFinite(n) && n > 0)) throw new Error(`--${name} must be a positive number`);
  return n;
}

function positive(name: string, value: string | undefined): number {
  const n = Number(value);
  if (!(Number.isInteger(n) && n > 0)) throw new Error(`--${name} must be a positive whole number`);
  return n;
}

const BENCHMARKS = [
  'ingest-references',
  'live',
  'unlock',
  'two-nodes',
  'network',
  'report',
  'faults',
  'memory',
  'senders-snapshot',
] as const;
type BenchmarkName = (typeof BENCHMARKS)[number];

/** Runs the benchmarks named by `args`; resolves with the exit code: 1 when a measurement failed. */
export async function runBench(args: string[]): Promise<number> {
  // ingest-references composes WeSprint in this process: with V8's heap growth as `wesprint start` sets it
  // (cli/heap.ts), so its figures carry that setting's cost (more frequent full collections). Reference A runs
  // in the same process under the same setting; the benchmarks that spawn `wesprint` get it from the CLI.
  boundHeapGrowth();
  const { values } = parseArgs({
    args,
    options: {
      only: { type: 'string' },
      messages: { type: 'string' },
      runs: { type: 'string', default: '3' },
      window: { type: 'string', default: '1000' },
      buildings: { type: 'string', default: '5' },
      devices: { type: 'string', default: '100' },
      profile: { type: 'boolean', default: false },
      measure: { type: 'string' },
      out: { type: 'string', default: RESULTS_FILE },
      'data-dir': { type: 'string' },
      'live-rate': { type: 'string', default: '1000' },
      'live-seconds': { type: 'string', default: '20' },
      'live-runs': { type: 'string', default: '3' },
      store: { type: 'string' },
      shape: { type: 'string' },
      fault: { type: 'string' },
      repeat: { type: 'string', default: '5' },
      'store-down': { type: 'string', default: '60' },
      memory: { type: 'boolean', default: false },
      'memory-control': { type: 'boolean', default: false },
      'memory-rate': { type: 'string', default: '500' },
      'memory-minutes': { type: 'string', default: String(MEMORY_DOWN_S / 60) },
      houses: { type: 'string', default: '10' },
      'house-devices': { type: 'string', default: '160' },
      'network-seconds': { type: 'string', default: '60' },
      'snapshot-senders': { type: 'string', default: '1000,20000' },
    },
    strict: true,
  });
  const only = values.only as BenchmarkName | undefined;
  if (only !== undefined && !BENCHMARKS.includes(only))
    throw new Error(`--only must be one of ${BENCHMARKS.join(', ')}`);
  const dataDir = values['data-dir'] ?? process.env.DATA_DIR;
  const wanted = only
    ? [only]
    : [
        'ingest-references',
        'live',
        'unlock',
        'two-nodes',
        'network',
        ...(values['data-dir'] ? ['report'] : []),
      ];
  const options: IngestOptions = {
    messages: positive('messages', values.messages ?? String(DEFAULT_MESSAGES)),
    window: positive('window', values.window),
    buildings: positive('buildings', values.buildings),
    devicesPerBuilding: positive('devices', values.devices),
    timeoutMs: 30_000,
    settleMs: 300,
  };
  // ingest-references' runs are longer: ~1 s runs (20,000 messages) swung by ±25 % each.
  const referenceMessages = positive('messages', values.messages ?? String(REFERENCE_MESSAGES));
  const referenceOptions: IngestOptions = {
    ...options,
    messages: referenceMessages,
    // Each phase at no less than 2,000 messages a second.
    timeoutMs: Math.max(options.timeoutMs, referenceMessages / 2),
  };
  const runs = positive('runs', values.runs);
  const started = performance.now();
  const failures: string[] = [];

  if (wanted.includes('ingest-references')) {
    console.log('');
    try {
      const env = await ingestEnvironment(referenceOptions);
      const references = await runIngestReferences(
        env,
        referenceOptions,
        runs,
        console.log,
        values.profile,
        measurementsOf(values.measure),
      );
      console.log('');
      for (const line of describeReferences(references)) console.log(line);
      writeBenchResult(values.out, 'ingest-references', references);
      failures.push(...references.failures.map((f) => `ingest-references: ${f}`));
    } catch (err) {
      failures.push(`ingest-references: ${(err as Error).message}`);
    }
  }

  if (wanted.includes('live')) {
    console.log('');
    try {
      const live = await benchLiveLatency({
        rate: positive('live-rate', values['live-rate']),
        durationS: positive('live-seconds', values['live-seconds']),
        runs: positive('live-runs', values['live-runs']),
        progress: console.log,
      });
      for (const line of describeLiveLatency(live)) console.log(line);
      writeBenchResult(values.out, 'live', live);
      failures.push(...live.problems.map((f) => `live: ${f}`));
    } catch (err) {
      failures.push(`live: ${(err as Error).message}`);
    }
  }

  if (wanted.includes('unlock')) {
    console.log('');
    let entry: UnlockEntry;
    try {
      const unlock = await benchUnlock();
      for (const line of describeUnlockBench(unlock)) console.log(line);
      const problems = unlockFailures(unlock);
      entry = { ok: problems.length === 0, failures: problems, ...unlock };
    } catch (err) {
      // A stalled turn (a command that never arrived) ends the run with an error.
      entry = { ok: false, failures: [(err as Error).message] };
    }
    writeBenchResult(values.out, 'unlock', entry);
    failures.push(...entry.failures.map((f) => `unlock: ${f}`));
  }

  if (wanted.includes('two-nodes')) {
    console.log('');
    try {
      const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
      if (!(await redisAnswers(redisUrl))) {
        console.log(`two-nodes: SKIPPED: no Redis answering at ${redisUrl} (set REDIS_URL)`);
        writeBenchResult(values.out, 'two-nodes', { ok: true, skipped: `no Redis at ${redisUrl}` });
      } else {
        const env = await ingestEnvironment(options);
        console.log(
          `two-nodes: ${options.messages} QoS 1 messages per run, window ${options.window}, \`wesprint broker\` nodes sharing Redis ${redisUrl} (own key prefix per run, deleted after): publisher on node A, the gateway's account and filters (persistent session) on node B; against one node alone; ${runs} rounds, alternating`,
        );
        const failed: string[] = [];
        const result = await measureTwoNodes(env, { ...options, redisUrl }, runs, (layout, s) => {
          console.log(
            `  ${layout.padEnd(13)} ${rate(s.rate).padStart(7)} msg/s${s.ok ? '' : `  FAIL: ${s.problems.join('; ')}`}`,
          );
          if (!s.ok) failed.push(`${layout}: ${s.problems.join('; ')}`);
        });
        const m = result.median;
        const ratio = m.twoNodes / m.oneNode;
        console.log('');
        console.log(`one node alone            ${rate(m.oneNode).padStart(7)} msg/s   (median of ${runs})`);
        console.log(`one node on Redis         ${rate(m.oneNodeRedis).padStart(7)} msg/s`);
        console.log(`two nodes, A -> B         ${rate(m.twoNodes).padStart(7)} msg/s`);
        console.log(`ratio two nodes / one     ${Number.isFinite(ratio) ? ratio.toFixed(2) : '–'}`);
        const entry: TwoNodesEntry = {
          ok: failed.length === 0,
          redisUrl: redisUrl.replace(/\/\/[^@/]*@/, '//'),
          median: Object.fromEntries(LAYOUTS.map((l) => [l, Math.round(m[l])])) as Record<Layout, number>,
          ratio: Math.round(ratio * 1000) / 1000,
          samples: result.samples,
          failures: failed,
        };
        writeBenchResult(values.out, 'two-nodes', entry);
        failures.push(...failed.map((f) => `two-nodes: ${f}`));
      }
    } catch (err) {
      failures.push(`two-nodes: ${(err as Error).message}`);
    }
  }

  if (wanted.includes('network')) {
    console.log('');
    try {
      const houses = positive('houses', values.houses);
      const perHouse = positive('house-devices', values['house-devices']);
      console.log(
        `network: ${houses} houses x ${perHouse} devices vs one house, each device every 10 s, ${values['network-seconds']} s measured`,
      );
      const network = await benchNetwork(
        {
          buildings: houses,
          devicesPerBuilding: perHouse,
          seconds: positive('network-seconds', values['network-seconds']),
        },
        console.log,
      );
      for (const line of describeNetworkBench(network)) console.log(line);
      writeBenchResult(values.out, 'network', network);
      failures.push(...network.failures.map((f) => `network: ${f}`));
    } catch (err) {
      failures.push(`network: ${(err as Error).message}`);
    }
  }

  if (wanted.includes('report')) {
    console.log('');
    if (!dataDir || !fs.existsSync(path.join(dataDir, 'readings.db'))) {
      console.log('report: skipped (no --data-dir or DATA_DIR with a readings.db)');
    } else {
      try {
        const report = await benchBoardReport({ dataDir });
        for (const line of describeBoardReportBench(report)) console.log(line);
        writeBenchResult(values.out, 'report', { ok: true, ...report });
      } catch (err) {
        failures.push(`report: ${(err as Error).message}`);
      }
    }
  }

  if (wanted.includes('faults') || wanted.includes('memory')) {
    console.log('');
    const memoryOnly = !wanted.includes('faults');
    try {
      // The memory bench: issue 10's store outage of 10 minutes, on InfluxDB unless told, `wesprint edge`.
      const stores = (values.store ?? (memoryOnly ? 'influx' : 'embedded')).split(',').map((s) => s.trim());
      if (stores.some((s) => s !== 'embedded' && s !== 'influx'))
        throw new Error('--store must be embedded, influx or both (embedded,influx)');
      const shapes = (values.shape ?? (memoryOnly ? 'edge' : 'edge,split'))
        .split(',')
        .map((s) => s.trim()) as Shape[];
      if (shapes.some((s) => !SHAPES.includes(s)))
        throw new Error(`--shape must be of ${SHAPES.join(', ')} (comma-separated)`);
      const faults = (
        memoryOnly
          ? ['memory']
          : values.fault
            ? values.fault.split(',').map((f) => f.trim())
            : [...DEFAULT_FAULTS]
      ) as FaultName[];
      const unknown = faults.filter((f) => !FAULTS.includes(f));
      if (unknown.length > 0)
        throw new Error(`--fault: unknown ${unknown.join(', ')} (known: ${FAULTS.join(', ')})`);
      if (values.memory && !faults.includes('memory')) faults.push('memory');
      const memoryDownS = Math.round(positiveNumber('memory-minutes', values['memory-minutes']) * 60);
      for (const store of stores as ('embedded' | 'influx')[]) {
        const result = await runFaults({
          store,
          shapes,
          messages: options.messages,
          window: options.window,
          devices: options.buildings * options.devicesPerBuilding,
          repeat: positive('repeat', values.repeat),
          storeDownS: positive('store-down', values['store-down']),
          faults,
          memoryRate: positive('memory-rate', values['memory-rate']),
          memoryDownS,
          memoryControl: values['memory-control'],
        });
        console.log('');
        for (const line of describeFaults(result)) console.log(line);
        const name = memoryOnly ? 'memory' : 'faults';
        writeBenchResult(values.out, store === 'influx' ? `${name}-influx` : name, result);
        failures.push(...result.failures.map((f) => `${name} (${store}): ${f}`));
      }
    } catch (err) {
      failures.push(`${memoryOnly ? 'memory' : 'faults'}: ${(err as Error).message}`);
    }
  }

  if (wanted.includes('senders-snapshot')) {
    console.log('');
    try {
      const counts = (values['snapshot-senders'] as string)
        .split(',')
        .map((n) => positive('snapshot-senders', n.trim()));
      const result = await benchSendersSnapshot(counts, runs);
      for (const line of describeSendersSnapshot(result)) console.log(line);
      writeBenchResult(values.out, 'senders-snapshot', result);
    } catch (err) {
      failures.push(`senders-snapshot: ${(err as Error).message}`);
    }
  }

  console.log('');
  console.log(`results: ${path.relative(process.cwd(), values.out) || values.out}`);
  console.log(`wall time: ${((performance.now() - started) / 1000).toFixed(1)} s`);
  if (failures.length === 0) return 0;
  console.log(`\nFAIL: ${failures.join('\n      ')}`);
  return 1;
}
