import path from 'node:path';
import { performance } from 'node:perf_hooks';
import mqtt from 'mqtt';
import pino from 'pino';
import { buildApi } from '../api/app.ts';
import { LockCommands } from '../api/lock-commands.ts';
import { SqliteBookingStore } from '../bookings/sqlite-booking-store.ts';
import { BuildingFeed } from '../building/live-feed.ts';
import { buildingTopics } from '../building/topics.ts';
import { openRecords } from '../database/database.ts';
import { DEMO_SITE_FILE } from '../simulations/demo-site.ts';
import { SERVICE_USERNAMES } from '../site/credentials.ts';
import { loadSite } from '../site/load.ts';
import { signedInMember } from '../test-support/members.ts';
import { startRunningGateway } from '../test-support/running-gateway.ts';

/**
 * Phone unlock latency and booking throughput on the real parts, wired as `wesprint start` wires them: the
 * project's broker (with its ACL), the gateway with the real Nuki profile, simulated Nuki locks, the API over
 * real HTTP on loopback with signed-in members. Each member holds a booking of their own Protel room covering
 * now, so every request goes through the booking rules, the command topic, the gateway and the lock.
 *
 * Clocks (all from the moment the HTTP request is sent):
 *   - toCommandMs: the building command `wesprint/<site>/commands/<lock>` reaches a subscriber of the broker;
 *   - toVendorMs:  the gateway's vendor command `nuki/<id>/lockAction` reaches a subscriber (what the lock sees);
 *   - toConfirmMs: the HTTP answer `unlocked`, which the API gives only after the gateway has the lock's
 *     confirmation.
 * Requests go one after another (a door is opened by one person at a time); members take turns so no member
 * exceeds the per-member rate limit.
 *
 * Baseline, measured in the same run on the same broker: before each unlock, a bare QoS 1 publish from a
 * client of its own (Nagle off, as the API's command channel) to the same observer. toCommandMs over this
 * round trip is what the API, the booking rules and HTTP add to one MQTT hop, a figure that survives a
 * noisy machine better than milliseconds do.
 *
 * Booking throughput: POST /api/bookings with distinct free slots, `concurrency` requests in flight.
 */

export interface UnlockBenchOptions {
  /** Timed unlocks (default 100). At most 10 per member; members = ceil(unlocks / 10), at most 20 (the demo's Protel rooms). */
  unlocks?: number;
  /** Unlocks before the clock starts, not measured (default 5). */
  warmup?: number;
  /** Bookings created in the throughput phase (default 200). */
  bookings?: number;
  /** Booking requests in flight at once (default 8). */
  concurrency?: number;
}

/** Nearest-rank percentiles (the smallest sample with at least that share of the samples at or below it). */
export interface Percentiles {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export interface UnlockBenchResult {
  unlocks: {
    requested: number;
    /** By the API's `result`; everything but `unlocked` is a failure of the run. */
    results: Record<string, number>;
    toCommandMs: Percentiles;
    toVendorMs: Percentiles;
    toConfirmMs: Percentiles;
    /** Building commands and vendor commands seen on the wire, warm-up included; one each per unlock. */
    wire: { expected: number; commands: number; vendorCommands: number };
  };
  baseline: {
    /** Bare QoS 1 publish -> the observer receives it, same broker, interleaved with the unlocks. */
    roundTripMs: Percentiles;
    /** toCommandMs p50 over roundTripMs p50 (at p99, 100 samples each make a ratio of two outliers). */
    toCommandOverBaseline: number;
  };
  bookings: {
    requested: number;
    created: number;
    /** By HTTP status, for everything that was not 201. */
    refused: Record<string, number>;
    seconds: number;
    perSecond: number;
    concurrency: number;
  };
}

const MAX_UNLOCKS_PER_MEMBER = 10;
const silent = pino({ level: 'silent' });

export function percentiles(samples: number[]): Percentiles {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) =>
    sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN;
  const round = (v: number) => Math.round(v * 100) / 100;
  return {
    count: sorted.length,
    p50: round(at(0.5)),
    p95: round(at(0.95)),
    p99: round(at(0.99)),
    max: round(sorted.at(-1) ?? Number.NaN),
  };
}

async function until(what: string, check: () => boolean, timeoutMs = 60_000): Promise<void> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > timeoutMs) throw new Error(`bench: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function benchUnlock(options: UnlockBenchOptions = {}): Promise<UnlockBenchResult> {
  const unlocks = options.unlocks ?? 100;
  const warmup = options.warmup ?? 5;
  const bookingCount = options.bookings ?? 200;
  const concurrency = options.concurrency ?? 8;

  const site = loadSite(DEMO_SITE_FILE);
  const topics = buildingTopics(site.site.id);
  const rooms = site.spaces.filter((s) => s.kind === 'protel' && s.bookable && s.lock);
  const memberCount = Math.min(rooms.length, Math.ceil((unlocks + warmup) / MAX_UNLOCKS_PER_MEMBER));
  if (unlocks + warmup > memberCount * MAX_UNLOCKS_PER_MEMBER)
    throw new Error(`bench: at most ${rooms.length * MAX_UNLOCKS_PER_MEMBER} unlocks (including warm-up)`);
  const used = rooms.slice(0, memberCount);
  const lockIds = new Set(used.map((r) => r.lock as string));
  const lockDevices = site.devices.filter((d) => lockIds.has(d.id));

  const stops: (() => Promise<void> | void)[] = [];
  try {
    const building = await startRunningGateway({
      site,
      dataDirPrefix: 'wesprint-bench-unlock-',
      // The gateway answers on the lock's confirmation; no automatic re-lock so each unlock is a real turn.
      simulate: { devices: (d) => lockIds.has(d.id), lock: { relockAfterMs: 0 } },
      logger: silent,
    });
    stops.push(() => building.stop());
    const { url, secrets, store, quarantine, profiles, dataDir } = building;

    const api = { username: SERVICE_USERNAMES.api, password: secrets.services.api };
    const feed = new BuildingFeed({ url, ...api, site, logger: silent });
    feed.start();
    stops.push(() => feed.close());
    const commands = new LockCommands({ url, ...api, site, status: feed, logger: silent });
    commands.start();
    stops.push(() => commands.close());
    const records = openRecords(path.join(dataDir, 'wesprint.db'));
    stops.push(() => {
      records.close();
    });
    const app = await buildApi({ site, store, feed, quarantine, profiles, records, lockCommands: commands });
    stops.push(() => app.close());
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    await feed.waitUntilConnected();
    await commands.waitUntilReady();
    await until('the locks online', () => lockDevices.every((d) => feed.device(d.id)?.online === true));

    // Observers on the wire: the building command (API -> gateway) and the vendor command (gateway -> lock).
    const observer = await mqtt.connectAsync(url, {
      username: SERVICE_USERNAMES.gateway,
      password: secrets.services.gateway,
      clientId: `bench-observer-${process.pid}`,
      reconnectPeriod: 0,
    });
    stops.push(() => observer.endAsync(true));
    const vendorTopic = new Map(lockDevices.map((d) => [`${d.topic}/lockAction`, d.id]));
    const commandTopic = new Map(lockDevices.map((d) => [topics.command(d.id), d.id]));
    const seen = { command: new Map<string, number[]>(), vendor: new Map<string, number[]>() };
    observer.on('message', (topic) => {
      const at = performance.now();
      const vendorLock = vendorTopic.get(topic);
      const commandLock = commandTopic.get(topic);
      if (vendorLock) seen.vendor.set(vendorLock, [...(seen.vendor.get(vendorLock) ?? []), at]);
      if (commandLock) seen.command.set(commandLock, [...(seen.command.get(commandLock) ?? []), at]);
    });
    const probeTopic = `${topics.base}/bench/round-trip`;
    const probeArrivals: number[] = [];
    let probeArrived: (() => void) | undefined;
    observer.on('message', (topic) => {
      if (topic !== probeTopic) return;
      probeArrivals.push(performance.now());
      probeArrived?.();
    });
    await observer.subscribeAsync([...vendorTopic.keys(), ...commandTopic.keys(), probeTopic], { qos: 1 });
    // The baseline's publisher: the gateway's account may publish under the building's own topics, which
    // nothing but the observer listens to here.
    const probe = await mqtt.connectAsync(url, {
      username: SERVICE_USERNAMES.gateway,
      password: secrets.services.gateway,
      clientId: `bench-probe-${process.pid}`,
      reconnectPeriod: 0,
    });
    stops.push(() => probe.endAsync(true));
    (probe.stream as { setNoDelay?: (on: boolean) => unknown }).setNoDelay?.(true);
    const roundTrip = async (): Promise<number> => {
      const before = probeArrivals.length;
      const arrived = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('bench: baseline publish never arrived')), 5000);
        probeArrived = () => {
          if (probeArrivals.length <= before) return;
          clearTimeout(timer);
          resolve();
        };
      });
      const sent = performance.now();
      probe.publish(probeTopic, '{}', { qos: 1 });
      await arrived;
      probeArrived = undefined;
      return (probeArrivals[before] as number) - sent;
    };

    const bookings = new SqliteBookingStore(records, site.site.id);
    const now = Date.now();
    const members: { cookie: string; space: string; lock: string }[] = [];
    for (const room of used) {
      const m = await signedInMember(app, records, 'member');
      const created = await bookings.create({
        memberId: m.member.id,
        spaceId: room.id,
        start: now - 60_000,
        end: now + 3 * 3_600_000,
      });
      if (!created.ok) throw new Error(`bench: could not book ${room.id}`);
      members.push({ cookie: m.cookie, space: room.id, lock: room.lock as string });
    }

    const results: Record<string, number> = {};
    const toCommand: number[] = [];
    const toVendor: number[] = [];
    const toConfirm: number[] = [];
    const baseline: number[] = [];
    for (let i = 0; i < warmup + unlocks; i++) {
      const m = members[i % members.length] as (typeof members)[number];
      const bare = await roundTrip();
      if (i >= warmup) baseline.push(bare);
      const commandsBefore = seen.command.get(m.lock)?.length ?? 0;
      const vendorBefore = seen.vendor.get(m.lock)?.length ?? 0;
      const sent = performance.now();
      const response = await fetch(`${base}/api/spaces/${m.space}/unlock`, {
        method: 'POST',
        headers: { cookie: m.cookie },
      });
      const answered = performance.now();
      const body = (await response.json()) as { result?: string };
      if (i < warmup) continue;
      const result = body.result ?? `http_${response.status}`;
      results[result] = (results[result] ?? 0) + 1;
      if (result !== 'unlocked') continue;
      toConfirm.push(answered - sent);
      const commandAt = seen.command.get(m.lock)?.[commandsBefore];
      if (commandAt !== undefined) toCommand.push(commandAt - sent);
      // The vendor command is on its way to the lock by the time the lock confirms.
      await until(
        'the vendor command seen',
        () => (seen.vendor.get(m.lock)?.length ?? 0) > vendorBefore,
        5000,
      );
      toVendor.push((seen.vendor.get(m.lock)?.[vendorBefore] ?? Number.NaN) - sent);
    }

    // Booking throughput: distinct one-hour slots on the members' rooms, from three hours ahead on.
    const hour = 3_600_000;
    const firstSlot = Math.ceil(now / hour) * hour + 4 * hour;
    const slots = Array.from({ length: bookingCount }, (_, i) => ({
      member: members[i % members.length] as (typeof members)[number],
      start: firstSlot + Math.floor(i / members.length) * hour,
    }));
    const refused: Record<string, number> = {};
    let created = 0;
    let next = 0;
    const started = performance.now();
    const worker = async () => {
      while (next < slots.length) {
        const slot = slots[next++] as (typeof slots)[number];
        const response = await fetch(`${base}/api/bookings`, {
          method: 'POST',
          headers: { cookie: slot.member.cookie, 'content-type': 'application/json' },
          body: JSON.stringify({
            spaceId: slot.member.space,
            start: new Date(slot.start).toISOString(),
            end: new Date(slot.start + hour).toISOString(),
          }),
        });
        await response.arrayBuffer();
        if (response.status === 201) created++;
        else refused[String(response.status)] = (refused[String(response.status)] ?? 0) + 1;
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    const seconds = (performance.now() - started) / 1000;

    const count = (seen: Map<string, number[]>) => [...seen.values()].reduce((n, at) => n + at.length, 0);
    const toCommandMs = percentiles(toCommand);
    const roundTripMs = percentiles(baseline);
    const over = (a: number, b: number) => Math.round((a / b) * 100) / 100;
    return {
      unlocks: {
        requested: unlocks,
        results,
        toCommandMs,
        toVendorMs: percentiles(toVendor),
        toConfirmMs: percentiles(toConfirm),
        wire: {
          expected: warmup + unlocks,
          commands: count(seen.command),
          vendorCommands: count(seen.vendor),
        },
      },
      baseline: {
        roundTripMs,
        toCommandOverBaseline: over(toCommandMs.p50, roundTripMs.p50),
      },
      bookings: {
        requested: bookingCount,
        created,
        refused,
        seconds: Math.round(seconds * 1000) / 1000,
        perSecond: Math.round((created / seconds) * 10) / 10,
        concurrency,
      },
    };
  } finally {
    for (const stop of stops.reverse()) {
      try {
        await stop();
      } catch {
        // Shutting down what the bench started; one failure must not leave the rest running.
      }
    }
  }
}

/** Figures as lines for the console and the bench results file. */
export function describeUnlockBench(r: UnlockBenchResult): string[] {
  const p = (x: Percentiles) => `p50 ${x.p50} ms  p99 ${x.p99} ms  max ${x.max} ms  (n=${x.count})`;
  return [
    `unlock: baseline, bare MQTT publish -> receive   ${p(r.baseline.roundTripMs)}`,
    `unlock: request -> building command on the wire  ${p(r.unlocks.toCommandMs)}`,
    `        p50 = ${r.baseline.toCommandOverBaseline} x the baseline's p50`,
    `unlock: request -> vendor lockAction on the wire  ${p(r.unlocks.toVendorMs)}`,
    `unlock: request -> lock confirmed (HTTP answer)   ${p(r.unlocks.toConfirmMs)}`,
    `unlock: results ${JSON.stringify(r.unlocks.results)}`,
    `bookings: ${r.bookings.created}/${r.bookings.requested} created in ${r.bookings.seconds} s = ${r.bookings.perSecond}/s at concurrency ${r.bookings.concurrency}${Object.keys(r.bookings.refused).length ? `; refused ${JSON.stringify(r.bookings.refused)}` : ''}`,
  ];
}

/**
 * What makes an unlock run a failure rather than a figure: an unlock that did not open, a command lost
 * or duplicated on the wire, a booking refused (the slots are distinct and free).
 */
export function unlockFailures(r: UnlockBenchResult): string[] {
  const failures: string[] = [];
  const notUnlocked = Object.entries(r.unlocks.results).filter(([result]) => result !== 'unlocked');
  if (notUnlocked.length > 0)
    failures.push(`unlocks not opened: ${notUnlocked.map(([k, n]) => `${n} ${k}`).join(', ')}`);
  const { expected, commands, vendorCommands } = r.unlocks.wire;
  if (commands !== expected) failures.push(`${commands} building commands on the wire, ${expected} unlocks`);
  if (vendorCommands !== expected)
    failures.push(`${vendorCommands} vendor commands on the wire, ${expected} unlocks`);
  if (r.unlocks.toCommandMs.count !== r.unlocks.requested)
    failures.push(`${r.unlocks.toCommandMs.count} of ${r.unlocks.requested} unlocks timed on the wire`);
  if (r.bookings.created !== r.bookings.requested)
    failures.push(
      `${r.bookings.created} of ${r.bookings.requested} bookings created (refused ${JSON.stringify(r.bookings.refused)})`,
    );
  return failures;
}
