import fs from 'node:fs';
import path from 'node:path';

/**
 * `wesprint healthcheck gateway`: the container health check. The gateway has no HTTP port of its own, so it
 * writes a heartbeat file; healthy = written recently and connected to the broker.
 */
const STALE_AFTER_MS = 60_000;

export function heartbeatFile(dataDir: string): string {
  return path.join(dataDir, 'gateway.heartbeat.json');
}

export function writeHeartbeat(dataDir: string, connected: boolean, spooling: boolean): void {
  const file = heartbeatFile(dataDir);
  // What the process holds (kB): whether memory stays flat while the store is away is read from here
  // (bench/faults.ts --memory), since the heap is not visible from outside the process.
  const m = process.memoryUsage();
  const memory = {
    rssKb: Math.round(m.rss / 1024),
    heapUsedKb: Math.round(m.heapUsed / 1024),
    heapTotalKb: Math.round(m.heapTotal / 1024),
    externalKb: Math.round(m.external / 1024),
  };
  // The pid tells a reader whose heartbeat this is: a gateway killed with -9 leaves its last one behind.
  fs.writeFileSync(
    `${file}.tmp`,
    JSON.stringify({ ts: Date.now(), pid: process.pid, connected, spooling, memory }),
  );
  fs.renameSync(`${file}.tmp`, file);
}

export function checkGatewayHeartbeat(dataDir: string, now = Date.now()): string | undefined {
  let beat: { ts: number; connected: boolean };
  try {
    beat = JSON.parse(fs.readFileSync(heartbeatFile(dataDir), 'utf8'));
  } catch {
    return 'no gateway heartbeat file (gateway not running?)';
  }
  if (now - beat.ts > STALE_AFTER_MS)
    return `gateway heartbeat is ${Math.round((now - beat.ts) / 1000)} s old`;
  if (!beat.connected) return 'gateway is not connected to the broker';
  return undefined;
}
