import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import mqtt, { type MqttClient } from 'mqtt';
import { loadMessage, syntheticSite } from '../load-mode/synthetic-buildings.ts';
import { loadOrCreateSecrets } from '../site/credentials.ts';
import { deviceAccountName, deviceKey, networkOf } from '../site/network.ts';
import type { SiteConfig } from '../site/site.ts';
import { LiveLedger } from './live-ledger.ts';
import { cpuSeconds, openLiveFeed, rssMb, startSystem } from './started-system.ts';
import { type Percentiles, percentiles } from './unlock.ts';

/**
 * Issue 11's scale figure: `wesprint start --no-simulation` (broker, gateway, embedded store, API in one
 * process, as a network's one machine runs them) serving `buildings` houses of `devicesPerBuilding` devices
 * each (SITES_DIR, one site file per house), against the same start serving one house alone (SITE_FILE, the
 * single building's default), alternating, in the same run. Every device connects with its own account and
 * publishes one QoS 1 message (load mode's vendor payloads) every `periodS` seconds, the devices spread evenly
 * over the period, for `seconds`. Measured on the system's own process (/proc): CPU time per second and per
 * message, resident memory at the end and its peak; and the home house's live latency, device publish ->
 * the administrator's `/api/live` WebSocket (the API serves the home house), every reading counted.
 *
 * The devices run in this process, the system in its own: the CPU and memory figures are the system's alone.
 */

export interface NetworkBenchOptions {
  /** Houses in the network (default 10). */
  buildings?: number;
  /** Devices per house (default 160: ten houses are about 1,600 devices). */
  devicesPerBuilding?: number;
  /** Seconds between two messages of one device (default 10). */
  periodS?: number;
  /** Seconds measured (default 60). */
  seconds?: number;
  /** Alternating rounds of both layouts (default 1). */
  rounds?: number;
}

export interface NetworkSample {
  layout: 'one' | 'network';
  houses: number;
  devices: number;
  messages: number;
  /** Messages per second all houses together, as published. */
  rate: number;
  /** CPU seconds of the system's process per second of the measured window (1.0 = one core). */
  cpuCores: number;
  /** CPU microseconds of the system's process per message. */
  cpuUsPerMessage: number;
  /** Resident memory once started, once every device is connected, at the end, and its peak while measured. */
  rssMb: { started: number; connected: number; end: number; peak: number };
  latencyMs: Percentiles;
  readings: { expected: number; received: number; extra: number };
  /** Seconds until every device's first message (each announces its device) was on the socket. */
  warmUpS: number;
  problems: string[];
}

export interface NetworkBenchResult {
  ok: boolean;
  samples: NetworkSample[];
  /** Medians of the network's figures over the one house's, same run. */
  ratios?: { cpuCores: number; cpuUsPerMessage: number; rssEnd: number; latencyP99: number };
  failures: string[];
}

/**
 * The houses: one synthetic site cut into `buildings` sites (so base topics stay unique in the network, as
 * the start demands), each house its own site id, floors, spaces and devices.
 */
export function networkHouses(buildings: number, devicesPerBuilding: number): SiteConfig[] {
  const whole = syntheticSite(buildings, devicesPerBuilding);
  return whole.floors.map((floor, i) => ({
    site: { ...whole.site, id: `haus-${String(i + 1).padStart(2, '0')}`, name: `Haus ${i + 1}` },
    floors: [floor],
    spaces: whole.spaces.filter((s) => s.floor === floor.id),
    devices: whole.devices.filter((d) => whole.spaces.some((s) => s.id === d.space && s.floor === floor.id)),
  }));
}

async function measureLayout(
  layout: NetworkSample['layout'],
  houses: SiteConfig[],
  periodS: number,
  seconds: number,
): Promise<NetworkSample> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `wesprint-bench-network-${layout}-`));
  const dataDir = path.join(dir, 'data');
  const sitesDir = path.join(dir, 'sites');
  fs.mkdirSync(sitesDir);
  for (const [i, house] of houses.entries())
    fs.writeFileSync(
      path.join(sitesDir, `${String(i + 1).padStart(2, '0')}.site.json`),
      JSON.stringify(house),
    );
  const network = layout === 'network' ? networkOf(houses) : houses[0];
  const siteEnv: Record<string, string> =
    layout === 'network' ? { SITES_DIR: sitesDir } : { SITE_FILE: path.join(sitesDir, '01.site.json') };
  const home = houses[0] as SiteConfig;
  const stops: (() => Promise<unknown> | unknown)[] = [
    () => fs.rmSync(dir, { recursive: true, force: true }),
  ];
  const problems: string[] = [];
  try {
    const running = await startSystem({ dataDir, siteEnv, startupMs: 120_000, stops });
    const { system, pid, mqttUrl } = running;
    const rssStarted = rssMb(pid);
    const secrets = loadOrCreateSecrets(dataDir, network ?? home);
    const ledger = new LiveLedger();
    await openLiveFeed(running, ledger, problems, stops);

    // Every device of every house with its own account, a few dozen connecting at a time.
    const devices = houses.flatMap((house) =>
      house.devices.map((device) => ({ house, device, homeHouse: house === home })),
    );
    const clients: MqttClient[] = [];
    for (let i = 0; i < devices.length; i += 50) {
      const batch = await Promise.all(
        devices.slice(i, i + 50).map(({ house, device }) => {
          const qualified = layout === 'network' ? networkOf(houses) : { sites: [house], qualified: false };
          return mqtt.connectAsync(mqttUrl as string, {
            username: deviceAccountName(qualified, house.site.id, device),
            password: secrets.devices[deviceKey(qualified, house.site.id, device.id)] as string,
            protocolVersion: 4,
            clean: true,
            reconnectPeriod: 0,
          });
        }),
      );
      clients.push(...batch);
    }
    stops.push(() => Promise.all(clients.map((c) => c.endAsync(true))));
    const rssConnected = rssMb(pid);

    const sequence = new Map<string, number>();
    let publishFailures = 0;
    let expected = 0;
    const publish = (index: number, timed: boolean) => {
      const { device, homeHouse } = devices[index] as (typeof devices)[number];
      const key = `${index}`;
      const seq = sequence.get(key) ?? 0;
      sequence.set(key, seq + 1);
      const m = loadMessage(device, seq, Date.now());
      // Only the home house's readings reach the socket: the API serves that house.
      if (homeHouse) {
        ledger.published(device.id, m.quantities);
        if (timed) expected += m.quantities.length;
      }
      clients[index]?.publish(m.topic, m.payload, { qos: 1 }, (err) => {
        if (err) publishFailures++;
      });
    };

    // The live feed subscribes in the background: the first home device until its readings come through.
    for (let attempt = 1; ; attempt++) {
      publish(0, false);
      try {
        await ledger.drained('probe', 500);
        break;
      } catch (err) {
        if (attempt >= 60) throw err;
        ledger.forget();
      }
    }
    // Warm-up: every device once (its first message announces it), not timed.
    const warmUpStarted = performance.now();
    for (let i = 0; i < devices.length; i++) publish(i, false);
    await ledger.drained('warm-up', 120_000).catch((err: Error) => {
      throw new Error(
        `${err.message}${problems.length ? ` (${problems.join('; ')})` : ''}\n${system.output().slice(-3000)}`,
      );
    });

    const warmUpS = Math.round((performance.now() - warmUpStarted) / 100) / 10;
    const total = Math.round((devices.length * seconds) / periodS);
    let sent = 0;
    let peak = rssMb(pid);
    ledger.timing = true;
    const cpuBefore = cpuSeconds(pid);
    const started = performance.now();
    await new Promise<void>((resolve) => {
      const tick = setInterval(() => {
        const due = Math.min(
          total,
          Math.floor(((performance.now() - started) * devices.length) / (periodS * 1000)),
        );
        while (sent < due) publish(sent++ % devices.length, true);
        if (sent >= total) {
          clearInterval(tick);
          resolve();
        }
      }, 10);
      const sampler = setInterval(() => {
        peak = Math.max(peak, rssMb(pid));
        if (sent >= total) clearInterval(sampler);
      }, 1000);
    });
    const publishedIn = (performance.now() - started) / 1000;
    await ledger.drained('timed', 10_000).catch((err: Error) => problems.push(err.message));
    const cpu = cpuSeconds(pid) - cpuBefore;
    const wall = (performance.now() - started) / 1000;
    const end = rssMb(pid);
    ledger.timing = false;
    if (expected > ledger.received)
      problems.push(`${expected - ledger.received} readings never reached the socket`);
    if (ledger.extra > 0) problems.push(`${ledger.extra} readings reached the socket twice or unasked`);
    if (publishFailures > 0) problems.push(`${publishFailures} publishes failed`);
    return {
      layout,
      houses: houses.length,
      devices: devices.length,
      messages: total,
      rate: Math.round(total / publishedIn),
      cpuCores: Math.round((cpu / wall) * 1000) / 1000,
      cpuUsPerMessage: Math.round((cpu * 1e6) / total),
      rssMb: { started: rssStarted, connected: rssConnected, end, peak: Math.max(peak, end) },
      latencyMs: percentiles(ledger.latencies),
      readings: { expected, received: ledger.received, extra: ledger.extra },
      warmUpS,
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

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

export async function benchNetwork(
  options: NetworkBenchOptions = {},
  progress: (line: string) => void = () => {},
): Promise<NetworkBenchResult> {
  const buildings = options.buildings ?? 10;
  const periodS = options.periodS ?? 10;
  const seconds = options.seconds ?? 60;
  const houses = networkHouses(buildings, options.devicesPerBuilding ?? 160);
  const samples: NetworkSample[] = [];
  const failures: string[] = [];
  for (let round = 0; round < (options.rounds ?? 1); round++) {
    for (const layout of ['one', 'network'] as const) {
      try {
        const sample = await measureLayout(
          layout,
          layout === 'one' ? houses.slice(0, 1) : houses,
          periodS,
          seconds,
        );
        samples.push(sample);
        progress(describeSample(sample));
        failures.push(...sample.problems.map((p) => `${layout}: ${p}`));
      } catch (err) {
        failures.push(`${layout}: ${(err as Error).message}`);
      }
    }
  }
  const of = (layout: NetworkSample['layout'], pick: (s: NetworkSample) => number) =>
    median(samples.filter((s) => s.layout === layout).map(pick));
  const ratio = (pick: (s: NetworkSample) => number) =>
    Math.round((of('network', pick) / of('one', pick)) * 100) / 100;
  const both = samples.some((s) => s.layout === 'one') && samples.some((s) => s.layout === 'network');
  return {
    ok: failures.length === 0,
    samples,
    ...(both
      ? {
          ratios: {
            cpuCores: ratio((s) => s.cpuCores),
            cpuUsPerMessage: ratio((s) => s.cpuUsPerMessage),
            rssEnd: ratio((s) => s.rssMb.end),
            latencyP99: ratio((s) => s.latencyMs.p99),
          },
        }
      : {}),
    failures,
  };
}

function describeSample(s: NetworkSample): string {
  const l = s.latencyMs;
  return (
    `  ${s.layout.padEnd(8)} ${String(s.houses).padStart(2)} houses, ${String(s.devices).padStart(5)} devices, ` +
    `${String(s.rate).padStart(4)} msg/s: CPU ${(s.cpuCores * 100).toFixed(1)} % of a core ` +
    `(${s.cpuUsPerMessage} µs/msg), RSS ${s.rssMb.started} MB started, ${s.rssMb.connected} connected, ${s.rssMb.end} at the end (peak ${s.rssMb.peak}), ` +
    `live p50 ${l.p50} ms p99 ${l.p99} ms max ${l.max} ms, first messages in ${s.warmUpS} s${s.problems.length ? `  FAIL: ${s.problems.join('; ')}` : ''}`
  );
}

export function describeNetworkBench(r: NetworkBenchResult): string[] {
  const x = r.ratios;
  return [
    'network: the one machine of a network, `wesprint start --no-simulation` serving N houses vs one (same run)',
    ...(x
      ? [
          `  network / one house: CPU ${x.cpuCores}x, CPU per message ${x.cpuUsPerMessage}x, RSS ${x.rssEnd}x, live p99 ${x.latencyP99}x`,
        ]
      : []),
    r.ok ? '  every home-house reading reached the socket once' : `  FAIL: ${r.failures.join('; ')}`,
  ];
}
