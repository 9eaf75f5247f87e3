import fs from 'node:fs';
import WebSocket from 'ws';
import { closedPort } from '../test-support/ports.ts';
import {
  killWesprint,
  spawnNode,
  WESPRINT_BIN,
  type WesprintService,
} from '../test-support/wesprint-process.ts';
import type { LiveLedger } from './live-ledger.ts';

/**
 * `wesprint start --no-simulation` as its own process, as a building runs it, for the benches that measure it
 * from outside (bench/live-latency.ts, bench/network.ts): its ports free ones on 127.0.0.1, no Node-RED, its
 * log at warn; the administrator signed in over HTTP with `/api/live` open; the process's CPU and memory read
 * from /proc, so that the devices and the socket, in the bench's process, are not counted.
 */
export interface StartedSystem {
  system: WesprintService;
  pid: number;
  httpUrl: string;
  mqttUrl: string;
}

export interface SystemOptions {
  dataDir: string;
  /** SITE_FILE or SITES_DIR. */
  siteEnv: Record<string, string>;
  /** Node's options for the system process (`--cpu-prof --cpu-prof-dir=D`: Node 20 takes it there only). */
  nodeArgs?: string[];
  startupMs: number;
  /** Where its stop goes: SIGTERM (so that a CPU profile is written), killed if it does not end in 15 s. */
  stops: (() => Promise<unknown> | unknown)[];
}

export async function startSystem(options: SystemOptions): Promise<StartedSystem & { admin: Admin }> {
  const system = spawnNode([...(options.nodeArgs ?? []), WESPRINT_BIN, 'start', '--no-simulation'], {
    DATA_DIR: options.dataDir,
    ...options.siteEnv,
    HTTP_HOST: '127.0.0.1',
    HTTP_PORT: String(await closedPort()),
    MQTT_HOST: '127.0.0.1',
    MQTT_PORT: String(await closedPort()),
    MQTT_WS_PORT: String(await closedPort()),
    NODE_RED: 'false',
    LOG_LEVEL: 'warn',
  });
  options.stops.push(async () => {
    const killer = setTimeout(() => void killWesprint(system), 15_000);
    await system.stop('SIGTERM').catch(() => killWesprint(system));
    clearTimeout(killer);
  });
  const [, httpUrl] = await system.waitFor(/API\s+(http:\/\/\S+)\/api\/devices/, options.startupMs);
  const [, email, password] = await system.waitFor(/Administrator\s+(\S+)\s+password: (\S+)/, 10_000);
  const [, mqttUrl] = await system.waitFor(/MQTT broker\s+(mqtt:\/\/\S+)/, 10_000);
  return {
    system,
    pid: system.child.pid as number,
    httpUrl: httpUrl as string,
    mqttUrl: mqttUrl as string,
    admin: { email: email as string, password: password as string },
  };
}

interface Admin {
  email: string;
  password: string;
}

/**
 * The administrator's `/api/live` WebSocket, each message to `ledger`; a close the bench did not ask for is
 * one of its `problems`. Resolves once open; closed by `stops`.
 */
export async function openLiveFeed(
  started: { httpUrl: string; admin: Admin },
  ledger: LiveLedger,
  problems: string[],
  stops: (() => Promise<unknown> | unknown)[],
): Promise<void> {
  const cookie = await signIn(started.httpUrl, started.admin.email, started.admin.password);
  const socket = new WebSocket(`${started.httpUrl.replace(/^http/, 'ws')}/api/live`, {
    headers: { cookie },
  });
  let closing = false;
  stops.push(() => {
    closing = true;
    socket.terminate();
  });
  socket.on('message', (data) => ledger.socketMessage(data));
  socket.on('close', (code, reason) => {
    if (!closing) problems.push(`the live socket closed: ${code} ${reason}`);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
}

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

const CLOCK_TICKS_PER_S = 100; // Linux's USER_HZ on x86_64 and arm64

/** CPU seconds (user + system) a process has used so far, from /proc (Linux). */
export function cpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command's closing parenthesis: state is the first, utime the 12th, stime the 13th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_S;
}

/** A process's resident memory in MB, from /proc (Linux). */
export function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : Number.NaN;
}
