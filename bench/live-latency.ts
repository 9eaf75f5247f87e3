import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import mqtt, { type MqttClient } from 'mqtt';
import { type LoadMessage, loadMessage, syntheticSite } from '../load-mode/synthetic-buildings.ts';
import { deviceUsername, loadOrCreateSecrets } from '../site/credentials.ts';
import type { DeviceConfig, SiteConfig } from '../site/site.ts';
import { killWesprint, spawnNode } from '../test-support/wesprint-process.ts';
import { BARE_BROKER_SCRIPT } from './bare-broker.ts';
import { LiveLedger } from './live-ledger.ts';
import { cpuSeconds, openLiveFeed, startSystem } from './started-system.ts';
import { type Percentiles, percentiles } from './unlock.ts';

/**
 * Device publish -> `/api/live` WebSocket, issue 10's third throughput figure (goal: p99 below 50 ms at
 * 1,000 msg/s), against the bare broker's publish -> subscriber at the same rate, in the same run,
 * alternating (the order turns each run), medians of `runs` runs each:
 *
 *   wesprint  `wesprint start --no-simulation` as its own process, as a building runs it (broker with its
 *             accounts and ACLs journaling each device message before its PUBACK, the gateway reading the
 *             journal and republishing, the API and its live feed, the embedded store); the administrator
 *             signs in over HTTP and opens `/api/live` with the session cookie. Each reading's latency runs
 *             from its message's publish call to the WebSocket message that carries it; every reading must
 *             arrive once.
 *   bare      a bare aedes (bench/bare-broker.ts: no persistence, no accounts) as its own process, one
 *             clean-session subscriber of every topic; each message's latency runs from its publish call
 *             to the subscriber's receipt; every message must arrive once.
 *
 * The devices are real MQTT clients, every device of a synthetic site (load mode's families and payloads)
 * with its own account (none on the bare broker), publishing QoS 1 at `rate` messages per second all
 * together, the devices in turn (each every devices/rate s), paced every 5 ms: 5 s not timed, then
 * `durationS` timed (the steady flow, not its first moments). They and the
 * WebSocket client / subscriber run in this process, so both ends of a latency are read on one clock
 * (performance.now()); the system measured has its process to itself. Each sample also reports publish ->
 * PUBACK (for WeSprint: after its journal's commit), which tells a tail of the journal's from one of the
 * live path's. LIVE_NODE_ARGS are node's options for the system process (`--cpu-prof --cpu-prof-dir=D`: it
 * is stopped with SIGTERM, so the profile is written; `--trace-gc`), LIVE_SYSTEM_LOG a file for its output.
 */

export const LIVE_P99_GOAL_MS = 50;

export const LIVE_PATHS = ['bare', 'wesprint'] as const;
export type LivePath = (typeof LIVE_PATHS)[number];

export interface LiveLatencyOptions {
  /** Messages per second, all devices together (default 1000). */
  rate?: number;
  /** Seconds of publishing per run (default 20). */
  durationS?: number;
  /** Devices (default 100: at 1,000 msg/s each sends every 100 ms, never twice in a millisecond). */
  devices?: number;
  /** Runs of each path, alternating (default 3); medians are reported. */
  runs?: number;
  /** A line per sample as it is measured. */
  progress?: (line: string) => void;
}

export interface LiveSample {
  path: LivePath;
  run: number;
  messages: number;
  /** What the devices achieved: messages published / seconds of publishing. */
  achievedRate: number;
  /** WeSprint: readings on the socket; bare: messages at the subscriber. */
  readings: { expected: number; received: number; missing: number; extra: number };
  /** Publish call -> the socket (WeSprint) or the subscriber (bare), ms. */
  latencyMs: Percentiles;
  /** Publish call -> PUBACK, ms. */
  pubackMs: Percentiles;
  /**
   * CPU time of the system's process (WeSprint's, or the bare broker's) per message while timed, µs:
   * steadier than latencies on a loaded machine, and what a change to the path moves.
   */
  cpuUsPerMessage: number;
  /** The highest latency of the messages published in each second of the run, ms: where the tail was. */
  worstPerSecondMs: number[];
  problems: string[];
}

export interface LiveLatencyResult {
  ok: boolean;
  problems: string[];
  goalMs: number;
  /** WeSprint's median p99 below the goal. */
  met: boolean;
  rate: number;
  durationS: number;
  runs: number;
  /** WeSprint, medians over its runs (count: all its readings). */
  latencyMs: Percentiles;
  /** The bare broker, medians over its runs (count: all its messages). */
  baselineMs: Percentiles;
  /** Publish -> PUBACK, medians over the runs of each path. */
  pubackMs: Record<LivePath, Percentiles>;
  /** The system process's CPU per message, medians over the runs of each path, µs. */
  cpuUsPerMessage: Record<LivePath, number>;
  /** WeSprint / bare broker, of the medians. */
  ratios: { p50: number; p95: number; p99: number };
  /** WeSprint's median achieved rate. */
  achievedRate: number;
  samples: LiveSample[];
}

const STALL_MS = 3000;
/** Seconds of publishing at the rate before the timed ones. */
const LEAD_S = 5;
const STARTUP_MS = 120_000;

/** The order of the two paths in run `run` (1-based): the first one turns each run. */
export function liveOrder(run: number): LivePath[] {
  return run % 2 === 1 ? ['bare', 'wesprint'] : ['wesprint', 'bare'];
}

export function median(xs: readonly number[]): number {
  const s = [...xs].filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** Each figure the median of the runs' (count: their sum). */
export function medianPercentiles(runs: readonly Percentiles[]): Percentiles {
  const of = (pick: (p: Percentiles) => number) => Math.round(median(runs.map(pick)) * 100) / 100;
  return {
    count: runs.reduce((sum, p) => sum + p.count, 0),
    p50: of((p) => p.p50),
    p95: of((p) => p.p95),
    p99: of((p) => p.p99),
    max: of((p) => p.max),
  };
}

interface LiveTarget {
  mqttUrl: string;
  /** The system's process. */
  pid: number;
  /** The account a device signs in with (none on the bare broker). */
  account(device: DeviceConfig): { username?: string; password?: string };
  /** What is due where: a message's readings on the socket, or the message at the subscriber. */
  published(ledger: LiveLedger, m: LoadMessage, at: number): number;
  stops: (() => Promise<unknown> | unknown)[];
}

async function startWesprintTarget(site: SiteConfig, ledger: LiveLedger, problems: string[]) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-bench-live-'));
  const stops: LiveTarget['stops'] = [() => fs.rmSync(dir, { recursive: true, force: true })];
  try {
    const dataDir = path.join(dir, 'data');
    const siteFile = path.join(dir, 'live.site.json');
    fs.writeFileSync(siteFile, JSON.stringify(site));
    // e.g. `--cpu-prof --cpu-prof-dir=D`: where the system's time goes while measured (Node 20 takes it on
    // the command line only, not in NODE_OPTIONS).
    // Its output written once it stopped (stops run last first), so the log ends with its shutdown.
    let output = () => '';
    if (process.env.LIVE_SYSTEM_LOG)
      stops.push(() => fs.writeFileSync(process.env.LIVE_SYSTEM_LOG as string, output()));
    const started = await startSystem({
      dataDir,
      siteEnv: { SITE_FILE: siteFile },
      // e.g. `--cpu-prof --cpu-prof-dir=D`: where the system's time goes while measured.
      nodeArgs: process.env.LIVE_NODE_ARGS?.split(' ').filter(Boolean) ?? [],
      startupMs: STARTUP_MS,
      stops,
    });
    output = () => started.system.output();
    await openLiveFeed(started, ledger, problems, stops);
    const secrets = loadOrCreateSecrets(dataDir, site);
    const target: LiveTarget = {
      mqttUrl: started.mqttUrl,
      pid: started.pid,
      account: (device) => ({
        username: deviceUsername(device),
        password: secrets.devices[device.id] as string,
      }),
      published: (l, m, at) => {
        l.published(m.device, m.quantities, at);
        return m.quantities.length;
      },
      stops,
    };
    return target;
  } catch (err) {
    for (const stop of stops.reverse()) await stop();
    throw err;
  }
}

async function startBareTarget(ledger: LiveLedger): Promise<LiveTarget> {
  const broker = spawnNode(['--import', 'tsx', BARE_BROKER_SCRIPT], {});
  const stops: LiveTarget['stops'] = [() => killWesprint(broker)];
  try {
    const [, mqttUrl] = await broker.waitFor(/bare broker (mqtt:\/\/\S+)/, STARTUP_MS);
    const subscriber = await mqtt.connectAsync(mqttUrl as string, {
      clientId: 'bench-live-subscriber',
      protocolVersion: 4,
      clean: true,
      reconnectPeriod: 0,
    });
    stops.push(() => subscriber.endAsync(true));
    subscriber.on('message', (topic) => ledger.arrived(topic, 'message'));
    await subscriber.subscribeAsync('#', { qos: 1 });
    return {
      mqttUrl: mqttUrl as string,
      pid: broker.child.pid as number,
      account: () => ({}),
      // A topic is one device's: its messages arrive in order, each settles the oldest one due.
      published: (l, m, at) => {
        l.published(m.topic, ['message'], at);
        return 1;
      },
      stops,
    };
  } catch (err) {
    for (const stop of stops.reverse()) await stop();
    throw err;
  }
}

/**
 * The highest latency of the messages published in each second from `started` (a message's readings all
 * count for its second), rounded to 0.1 ms; a second with none is 0.
 */
export function worstPerSecond(
  publishedAt: readonly number[],
  latencies: readonly number[],
  started: number,
  seconds: number,
): number[] {
  const worst = Array.from({ length: Math.max(1, Math.ceil(seconds)) }, () => 0);
  publishedAt.forEach((at, i) => {
    const second = Math.min(worst.length - 1, Math.max(0, Math.floor((at - started) / 1000)));
    worst[second] = Math.max(worst[second] as number, Math.round((latencies[i] as number) * 10) / 10);
  });
  return worst;
}

/** One run of one path: a fresh system (or bare broker), warmed up, then `durationS` at `rate`. */
export async function measureLive(
  which: LivePath,
  run: number,
  site: SiteConfig,
  rate: number,
  durationS: number,
): Promise<LiveSample> {
  const problems: string[] = [];
  const ledger = new LiveLedger();
  const target =
    which === 'wesprint' ? await startWesprintTarget(site, ledger, problems) : await startBareTarget(ledger);
  const stops = target.stops;
  try {
    const clients: MqttClient[] = [];
    for (let i = 0; i < site.devices.length; i += 50) {
      clients.push(
        ...(await Promise.all(
          site.devices.slice(i, i + 50).map((device) =>
            mqtt.connectAsync(target.mqttUrl, {
              clientId: `bench-live-${device.id}`.slice(0, 23),
              ...target.account(device),
              protocolVersion: 4,
              clean: true,
              reconnectPeriod: 0,
            }),
          ),
        )),
      );
    }
    stops.push(() => Promise.all(clients.map((c) => c.endAsync(true))));

    const sequence = new Map<string, number>();
    const pubacks: number[] = [];
    let timing = false;
    let publishFailures = 0;
    const publishOne = (index: number) => {
      const device = site.devices[index % site.devices.length] as DeviceConfig;
      const seq = sequence.get(device.id) ?? 0;
      sequence.set(device.id, seq + 1);
      const m = loadMessage(device, seq, Date.now());
      const at = performance.now();
      const due = target.published(ledger, m, at);
      const timed = timing;
      clients[index % clients.length]?.publish(m.topic, m.payload, { qos: 1 }, (err) => {
        if (err) publishFailures++;
        else if (timed) pubacks.push(performance.now() - at);
      });
      return due;
    };

    // WeSprint's live feed subscribes on a connection of its own, in the background: device 0's message is
    // sent until it comes through (one lost on the way is forgotten, not counted).
    for (let attempt = 1; ; attempt++) {
      publishOne(0);
      try {
        await ledger.drained('probe', 500);
        break;
      } catch (err) {
        if (attempt >= 60) throw err;
        ledger.forget();
      }
    }
    // Warm-up: every device once (its first message announces it online), not timed.
    for (let i = 0; i < site.devices.length; i++) publishOne(i);
    await ledger.drained('warm-up', 30_000);

    // A lead-in at the rate, not timed: the timed seconds are the steady flow, not its first moments.
    const lead = Math.round(rate * LEAD_S);
    const total = Math.round(rate * durationS);
    let expected = 0;
    let sent = 0;
    let cpuBefore = Number.NaN;
    let started = Number.NaN;
    const flowing = performance.now();
    await new Promise<void>((resolve) => {
      const tick = setInterval(() => {
        const due = Math.min(lead + total, Math.floor(((performance.now() - flowing) * rate) / 1000));
        while (sent < due) {
          if (sent === lead) {
            ledger.timing = true;
            timing = true;
            cpuBefore = cpuSeconds(target.pid);
            started = performance.now();
          }
          const readings = publishOne(sent++);
          if (timing) expected += readings;
        }
        if (sent >= lead + total) {
          clearInterval(tick);
          resolve();
        }
      }, 5);
    });
    const publishedIn = (performance.now() - started) / 1000;
    await ledger.drained('timed', STALL_MS).catch((err: Error) => problems.push(err.message));
    // A message can reach the subscriber before its PUBACK reaches the device: every PUBACK in.
    const acksDue = performance.now() + STALL_MS;
    while (pubacks.length + publishFailures < total && performance.now() < acksDue)
      await new Promise((r) => setTimeout(r, 20));
    if (pubacks.length + publishFailures < total)
      problems.push(`${total - pubacks.length - publishFailures} PUBACKs never came`);
    ledger.timing = false;
    timing = false;
    const cpu = cpuSeconds(target.pid) - cpuBefore;
    const { received, extra } = ledger;
    const missing = expected - received;
    if (missing > 0)
      problems.push(
        `${missing} ${which === 'wesprint' ? 'readings never reached the socket' : 'messages never arrived'}`,
      );
    if (extra > 0) problems.push(`${extra} arrived twice or unasked`);
    if (publishFailures > 0) problems.push(`${publishFailures} publishes failed`);
    return {
      path: which,
      run,
      messages: total,
      achievedRate: Math.round(total / publishedIn),
      readings: { expected, received, missing, extra },
      latencyMs: percentiles(ledger.latencies),
      pubackMs: percentiles(pubacks),
      cpuUsPerMessage: Math.round((cpu * 1e6) / total),
      worstPerSecondMs: worstPerSecond(ledger.publishedAt, ledger.latencies, started, durationS),
      problems,
    };
  } finally {
    for (const stop of stops.reverse()) {
      try {
        await stop();
      } catch {
        // every step runs
      }
    }
  }
}

export async function benchLiveLatency(options: LiveLatencyOptions = {}): Promise<LiveLatencyResult> {
  const rate = options.rate ?? 1000;
  const durationS = options.durationS ?? 20;
  const runs = options.runs ?? 3;
  const site = syntheticSite(1, options.devices ?? 100);
  const samples: LiveSample[] = [];
  const problems: string[] = [];
  for (let run = 1; run <= runs; run++) {
    for (const which of liveOrder(run)) {
      try {
        const sample = await measureLive(which, run, site, rate, durationS);
        samples.push(sample);
        options.progress?.(describeLiveSample(sample));
        problems.push(...sample.problems.map((p) => `${which} run ${run}: ${p}`));
      } catch (err) {
        problems.push(`${which} run ${run}: ${(err as Error).message}`);
      }
    }
  }
  const of = (which: LivePath) => samples.filter((s) => s.path === which);
  const latencyMs = medianPercentiles(of('wesprint').map((s) => s.latencyMs));
  const baselineMs = medianPercentiles(of('bare').map((s) => s.latencyMs));
  const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;
  return {
    ok: problems.length === 0,
    problems,
    goalMs: LIVE_P99_GOAL_MS,
    met: latencyMs.p99 < LIVE_P99_GOAL_MS,
    rate,
    durationS,
    runs,
    latencyMs,
    baselineMs,
    pubackMs: {
      bare: medianPercentiles(of('bare').map((s) => s.pubackMs)),
      wesprint: medianPercentiles(of('wesprint').map((s) => s.pubackMs)),
    },
    cpuUsPerMessage: {
      bare: median(of('bare').map((s) => s.cpuUsPerMessage)),
      wesprint: median(of('wesprint').map((s) => s.cpuUsPerMessage)),
    },
    ratios: {
      p50: ratio(latencyMs.p50, baselineMs.p50),
      p95: ratio(latencyMs.p95, baselineMs.p95),
      p99: ratio(latencyMs.p99, baselineMs.p99),
    },
    achievedRate: median(of('wesprint').map((s) => s.achievedRate)),
    samples,
  };
}

/** Signs in through `POST /api/auth/login` as a browser would; the session cookie to send with the socket. */
const ms = (p: Percentiles) => `p50 ${p.p50} ms, p95 ${p.p95} ms, p99 ${p.p99} ms, max ${p.max} ms`;

export function describeLiveSample(s: LiveSample): string {
  return (
    `  ${s.path.padEnd(8)} run ${s.run}: ${s.messages.toLocaleString('en')} messages at ${s.achievedRate} msg/s, ` +
    `${s.readings.received.toLocaleString('en')} ${s.path === 'wesprint' ? 'readings' : 'messages'}: ${ms(s.latencyMs)}; ` +
    `PUBACK p50 ${s.pubackMs.p50} ms, p99 ${s.pubackMs.p99} ms; CPU ${s.cpuUsPerMessage} µs/msg${s.problems.length ? `  FAIL: ${s.problems.join('; ')}` : ''}`
  );
}

export function describeLiveLatency(r: LiveLatencyResult): string[] {
  return [
    `live: device publish -> /api/live WebSocket at ${r.rate} msg/s for ${r.durationS} s, against the bare broker's publish -> subscriber at the same rate (medians of ${r.runs} runs each, alternating)`,
    `  WeSprint  ${ms(r.latencyMs)}   (goal p99 < ${r.goalMs} ms: ${r.met ? 'met' : 'NOT met'})`,
    `  bare      ${ms(r.baselineMs)}`,
    `  ratio WeSprint / bare: p50 ${r.ratios.p50}, p95 ${r.ratios.p95}, p99 ${r.ratios.p99}`,
    `  publish -> PUBACK: WeSprint (after its journal's commit) p50 ${r.pubackMs.wesprint.p50} ms, p99 ${r.pubackMs.wesprint.p99} ms; bare p50 ${r.pubackMs.bare.p50} ms, p99 ${r.pubackMs.bare.p99} ms`,
    `  the system process's CPU per message: WeSprint ${r.cpuUsPerMessage.wesprint} µs, bare ${r.cpuUsPerMessage.bare} µs`,
    r.ok
      ? '  every reading reached the socket once, every message the subscriber once'
      : `  FAIL: ${r.problems.join('; ')}`,
  ];
}
