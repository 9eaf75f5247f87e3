import path from 'node:path';
import { performance } from 'node:perf_hooks';
import mqtt, { type MqttClient } from 'mqtt';
import WebSocket from 'ws';
import { openRecords } from '../database/database.ts';
import { loadMessage, syntheticSite } from '../load-mode/synthetic-buildings.ts';
import { deviceUsername } from '../site/credentials.ts';
import { createTestMember } from '../test-support/members.ts';
import { startWeSprint } from './ingest.ts';
import { LiveLedger } from './live-ledger.ts';
import { type Percentiles, percentiles } from './unlock.ts';

/**
 * Device publish -> `/api/live` WebSocket, issue 10's third throughput figure (goal: p99 below 50 ms at
 * 1,000 msg/s). The project's broker with its accounts and ACLs journaling the devices' messages (PUBACK
 * after the journal's commit), the gateway reading the journal and the API with its live feed, all in one
 * process through the CLI's own composition (bench/ingest.ts startWeSprint: cli/parts.ts startParts, as
 * `wesprint start --no-simulation` runs them), a facility member's WebSocket on `/api/live`. Every device of
 * a synthetic site (load mode's families and payloads) connects with its own account; together they publish
 * QoS 1 at `rate` messages per second for `durationS`, the devices in turn. Each reading's latency runs from
 * its message's publish call to the WebSocket message that carries it; every reading must arrive once.
 *
 * Everything, the devices and the WebSocket client included, runs in this one process: at 1,000 msg/s the
 * devices and the client cost a share of the event loop that the system measured does not get.
 */

export const LIVE_P99_GOAL_MS = 50;

export interface LiveLatencyOptions {
  /** Messages per second, all devices together (default 1000). */
  rate?: number;
  /** Seconds of publishing (default 10). */
  durationS?: number;
  /** Devices (default 100: at 1,000 msg/s each sends every 100 ms, never twice in a millisecond). */
  devices?: number;
}

export interface LiveLatencyResult {
  ok: boolean;
  problems: string[];
  goalMs: number;
  /** p99 below the goal. */
  met: boolean;
  rate: number;
  /** What the devices achieved: messages published / seconds of publishing. */
  achievedRate: number;
  messages: number;
  readings: { expected: number; received: number; missing: number; extra: number };
  latencyMs: Percentiles;
}

const STALL_MS = 3000;

export async function benchLiveLatency(options: LiveLatencyOptions = {}): Promise<LiveLatencyResult> {
  const rate = options.rate ?? 1000;
  const durationS = options.durationS ?? 10;
  const site = syntheticSite(1, options.devices ?? 100);
  const stops: (() => Promise<void> | void)[] = [];
  try {
    const wesprint = await startWeSprint(site, { name: 'live', api: true });
    stops.push(() => wesprint.close());
    const { url, secrets } = wesprint;
    const httpUrl = wesprint.parts.httpUrl as string;
    const records = openRecords(path.join(wesprint.dataDir, 'wesprint.db'));
    const facility = await createTestMember(records, { role: 'facility' });
    records.close();
    const cookie = await signIn(httpUrl, facility.member.email, facility.password);

    const ledger = new LiveLedger();
    const socket = new WebSocket(`${httpUrl.replace(/^http/, 'ws')}/api/live`, { headers: { cookie } });
    stops.push(() => socket.terminate());
    socket.on('message', (data) => ledger.socketMessage(data));
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });

    const clients = new Map<string, MqttClient>();
    for (const device of site.devices) {
      const client = await mqtt.connectAsync(url, {
        clientId: `bench-live-${device.id}`.slice(0, 23),
        username: deviceUsername(device),
        password: secrets.devices[device.id] as string,
        protocolVersion: 4,
        clean: true,
        reconnectPeriod: 0,
      });
      stops.push(() => client.endAsync(true));
      clients.set(device.id, client);
    }
    const sequence = new Map<string, number>();
    let publishFailures = 0;
    const publishOne = (index: number) => {
      const device = site.devices[index % site.devices.length] as (typeof site.devices)[number];
      const seq = sequence.get(device.id) ?? 0;
      sequence.set(device.id, seq + 1);
      const m = loadMessage(device, seq, Date.now());
      ledger.published(device.id, m.quantities);
      clients.get(device.id)?.publish(m.topic, m.payload, { qos: 1 }, (err) => {
        if (err) publishFailures++;
      });
      return m.quantities.length;
    };
    const drained = (what: string, stallMs = STALL_MS) => ledger.drained(what, stallMs);

    // The API's live feed subscribes on a connection of its own, in the background: a device's message is
    // sent until its readings come through (one lost on the way is forgotten, not counted).
    for (let attempt = 1; ; attempt++) {
      publishOne(0);
      try {
        await drained('probe', 500);
        break;
      } catch (err) {
        if (attempt >= 60) throw err;
        ledger.forget();
      }
    }

    // Warm-up: every device once (its first message announces it online), not timed.
    for (let i = 0; i < site.devices.length; i++) publishOne(i);
    await drained('warm-up');

    const problems: string[] = [];
    const total = Math.round(rate * durationS);
    let expected = 0;
    let sent = 0;
    ledger.timing = true;
    const started = performance.now();
    await new Promise<void>((resolve) => {
      const tick = setInterval(() => {
        const due = Math.min(total, Math.floor(((performance.now() - started) * rate) / 1000));
        while (sent < due) expected += publishOne(site.devices.length + sent++);
        if (sent >= total) {
          clearInterval(tick);
          resolve();
        }
      }, 5);
    });
    const publishedIn = (performance.now() - started) / 1000;
    await drained('timed').catch((err: Error) => problems.push(err.message));
    await new Promise((r) => setTimeout(r, 100));
    ledger.timing = false;
    const { received, extra } = ledger;
    const missing = expected - received;
    if (missing > 0) problems.push(`${missing} readings never reached the socket`);
    if (extra > 0) problems.push(`${extra} readings reached the socket twice or unasked`);
    if (publishFailures > 0) problems.push(`${publishFailures} publishes failed`);
    const latencyMs = percentiles(ledger.latencies);
    return {
      ok: problems.length === 0,
      problems,
      goalMs: LIVE_P99_GOAL_MS,
      met: latencyMs.p99 < LIVE_P99_GOAL_MS,
      rate,
      achievedRate: Math.round(total / publishedIn),
      messages: total,
      readings: { expected, received, missing, extra },
      latencyMs,
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

/** Signs in through `POST /api/auth/login` as a browser would; the session cookie to send with the socket. */
export async function signIn(httpUrl: string, email: string, password: string): Promise<string> {
  const response = await fetch(`${httpUrl}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  if (response.status !== 200) throw new Error(`sign-in failed: ${response.status} ${await response.text()}`);
  const session = response.headers
    .getSetCookie()
    .map((c) => c.split(';')[0] as string)
    .find((c) => c.startsWith('wesprint_session='));
  if (!session) throw new Error('sign-in set no wesprint_session cookie');
  return session;
}

export function describeLiveLatency(r: LiveLatencyResult): string[] {
  const l = r.latencyMs;
  return [
    `live: device publish -> /api/live WebSocket, ${r.messages.toLocaleString('en')} messages at ${r.rate} msg/s (achieved ${r.achievedRate}), ${r.readings.received.toLocaleString('en')} readings`,
    `  latency p50 ${l.p50} ms, p99 ${l.p99} ms, max ${l.max} ms   (goal p99 < ${r.goalMs} ms: ${r.met ? 'met' : 'NOT met'})`,
    r.ok ? '  every reading reached the socket once' : `  FAIL: ${r.problems.join('; ')}`,
  ];
}
