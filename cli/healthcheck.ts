import fs from 'node:fs';
import path from 'node:path';
import { GCProfiler } from 'node:v8';

/**
 * `wesprint healthcheck gateway`: the container health check. The gateway has no HTTP port of its own, so it
 * writes a heartbeat file; healthy = written recently, its client connected to the broker, and (`wesprint
 * gateway` against another broker) its MQTT intake connected and subscribed: the intake is where the device
 * messages come in, the gateway's own client only carries commands and statuses, so a gateway whose intake
 * lost its broker is deaf even while its own client is connected.
 */
const STALE_AFTER_MS = 60_000;

export function heartbeatFile(dataDir: string): string {
  return path.join(dataDir, 'gateway.heartbeat.json');
}

/** What the gateway says of itself, every 10 s and at once when a connection comes or goes. */
export interface GatewayBeat {
  /** The gateway's own MQTT client (commands, statuses, republished readings). */
  connected: boolean;
  /** The store failed and the journal's readings wait for it. */
  spooling: boolean;
  /** The gateway's journal: the highest position on disk and the store's cursor (every entry up to it stored). */
  journal: { committed: number; stored: number };
  /**
   * `wesprint gateway` against another broker: its MQTT intake, which takes the devices' messages into the
   * journal. Absent in `wesprint start`/`edge`, where the broker journals them in the same process.
   */
  intake?: {
    connected: boolean;
    /** The broker answered this connection's subscriptions: messages flow. */
    subscribed: boolean;
    /** PUBLISH packets received, appended as new, recognised as redeliveries, PUBACKed, since start. */
    received: number;
    appended: number;
    duplicates: number;
    /** Of those, a device's message resent through another node of a cluster (gateway/moved-device-repeats.ts). */
    movedRepeats?: number;
    acknowledged: number;
    connections: number;
  };
}

export function writeHeartbeat(dataDir: string, beat: GatewayBeat): void {
  const file = heartbeatFile(dataDir);
  // What the process holds (kB): whether memory stays flat while the store is away is read from here
  // (bench/faults.ts --memory), since the heap is not visible from outside the process.
  const m = process.memoryUsage();
  const memory = {
    rssKb: Math.round(m.rss / 1024),
    heapUsedKb: Math.round(m.heapUsed / 1024),
    heapTotalKb: Math.round(m.heapTotal / 1024),
    externalKb: Math.round(m.external / 1024),
    ...liveHeapKb(),
    // Linux: the anonymous part of RSS at the same instant, so that a reader can tell the V8 heap and the
    // Buffers from native memory (SQLite, LevelDB, the allocator) without mixing moments.
    ...anonymousKb(),
  };
  // The pid tells a reader whose heartbeat this is: a gateway killed with -9 leaves its last one behind.
  fs.writeFileSync(`${file}.tmp`, JSON.stringify({ ts: Date.now(), pid: process.pid, ...beat, memory }));
  fs.renameSync(`${file}.tmp`, file);
}

/**
 * The live heap: what V8 still held right after its last full collection (mark-compact), kB. `heapUsed` counts
 * the garbage not yet collected and `heapTotal` what V8 reserved for it, and both grow with the rate of garbage
 * (V8 sizes its heap to it); only this one tells a leak from a lazy collector without a heap snapshot (issue
 * 10, the memory bench). From v8.GCProfiler, which records each collection's heap before and after; it is
 * stopped and started again at each heartbeat so that it never holds more than one interval's collections.
 */
let gcProfiler: GCProfiler | undefined;
let lastLiveKb: number | undefined;

function liveHeapKb(): { liveHeapKb?: number } {
  if (gcProfiler) {
    for (const gc of gcProfiler.stop().statistics)
      if (gc.gcType === 'MarkSweepCompact')
        lastLiveKb = Math.round(gc.afterGC.heapStatistics.usedHeapSize / 1024);
  }
  gcProfiler = new GCProfiler();
  gcProfiler.start();
  return lastLiveKb === undefined ? {} : { liveHeapKb: lastLiveKb };
}

function anonymousKb(): { anonKb?: number } {
  try {
    const m = /RssAnon:\s+(\d+)\s+kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    return m ? { anonKb: Number(m[1]) } : {};
  } catch {
    return {};
  }
}

export function checkGatewayHeartbeat(dataDir: string, now = Date.now()): string | undefined {
  let beat: { ts: number } & Partial<GatewayBeat>;
  try {
    beat = JSON.parse(fs.readFileSync(heartbeatFile(dataDir), 'utf8'));
  } catch {
    return 'no gateway heartbeat file (gateway not running?)';
  }
  if (now - beat.ts > STALE_AFTER_MS)
    return `gateway heartbeat is ${Math.round((now - beat.ts) / 1000)} s old`;
  if (!beat.connected) return 'gateway is not connected to the broker';
  if (beat.intake && !beat.intake.connected)
    return "gateway's intake is not connected to the broker: no device messages come in";
  if (beat.intake && !beat.intake.subscribed)
    return "gateway's intake is connected but not subscribed yet: no device messages come in";
  return undefined;
}
