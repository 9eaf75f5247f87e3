import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { AuditLog } from '../access/audit-log.ts';
import type { DeviceProfile } from '../device-profiles/profile.ts';
import { type IntegrationTokens, issueToken, revokeToken } from '../members/integration-tokens.ts';
import type { SiteConfig } from '../site/site.ts';
import { firstFlows } from './first-flows.ts';

/**
 * Node-RED beside the building (`wesprint start`): a process of its own (node-red-process.mjs), so that a
 * facility manager's flow can neither stall nor crash the broker, the gateway or the API, with
 *   - its user directory in DATA_DIR/node-red (flows, their encrypted credentials, the key to them generated
 *     at the first start, mode 0600), the palette of this repository linked into it as npm links a package;
 *   - at its first start (no flows yet) an integration token made for it (label `node-red-embedded`, the
 *     scopes the flows need, audited like `wesprint tokens create`), and the example flows for this site's
 *     rooms deployed with it; a later start deploys nothing, the flows are the facility manager's;
 *   - its editor behind WeSprint's sign-in, for administrators only (editor-access.mjs);
 *   - restarted with backoff (1 s doubling to 30 s) should it end, stopped with the rest within seconds.
 */

/** What this process sends Node-RED's process (node-red-process.mjs), once. */
interface NodeRedStart {
  type: 'start';
  userDir: string;
  credentialSecret: string;
  host: string;
  port: number;
  apiUrl: string;
  /** Deployed only when Node-RED has no flows yet (its first start); they carry the token in their credentials. */
  firstFlows: Record<string, unknown>[] | null;
}

/** What Node-RED's process answers. */
type FromNodeRed =
  | { type: 'ready'; url: string; startedMs: number; deployed: string[]; version: string }
  | { type: 'failed'; error: string }
  | {
      type: 'log';
      level: 'error' | 'warn' | 'info' | 'debug';
      msg: string;
      detail?: Record<string, unknown>;
    };

export const PALETTE_DIR = path.resolve(import.meta.dirname, '../node-red');
const PALETTE_NAME = 'node-red-contrib-wesprint';
const CHILD = path.resolve(import.meta.dirname, 'node-red-process.mjs');
export const EMBEDDED_TOKEN_LABEL = 'node-red-embedded';
/** What the example flows use: readings and the event feed in, a space's bookings, commands and notices out. */
export const EMBEDDED_TOKEN_SCOPES = 'readings:read,feed:read,bookings:read,commands:write,notices:write';
const STOP_GRACE_MS = 5000;

export interface NodeRedLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

export interface EmbeddedNodeRedOptions {
  dataDir: string;
  host: string;
  /** 0: any free port. */
  port: number;
  /** The API as the Node-RED process reaches it. */
  apiUrl: string;
  site: SiteConfig;
  profiles: ReadonlyMap<string, DeviceProfile>;
  tokens: IntegrationTokens;
  audit: AuditLog;
  logger: NodeRedLogger;
  signal?: AbortSignal;
}

export interface EmbeddedNodeRed {
  /** The editor. */
  url: string;
  version: string;
  /** Real ms from spawning the process to Node-RED running its flows. */
  readyMs: number;
  /** Of which Node-RED itself (loading, starting the runtime and the flows), as its process measured. */
  startedMs: number;
  /** The tabs deployed by this start (the first one's), else none. */
  deployed: string[];
  stop(): Promise<void>;
}

export class NodeRedStartError extends Error {
  override name = 'NodeRedStartError';
}

export function nodeRedUserDir(dataDir: string): string {
  return path.join(dataDir, 'node-red');
}

/** The key Node-RED encrypts the flows' credentials with: generated once, kept beside them (mode 0600). */
function credentialSecret(userDir: string): string {
  const file = path.join(userDir, 'credential-secret');
  if (fs.existsSync(file)) return fs.readFileSync(file, 'utf8').trim();
  const secret = randomBytes(32).toString('hex');
  fs.writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  return secret;
}

/** The palette as `npm install <folder>` leaves it: a link in the user directory's node_modules. */
function linkPalette(userDir: string): void {
  const modules = path.join(userDir, 'node_modules');
  fs.mkdirSync(modules, { recursive: true });
  const link = path.join(modules, PALETTE_NAME);
  const current = fs.lstatSync(link, { throwIfNoEntry: false });
  if (current?.isSymbolicLink() && fs.readlinkSync(link) === PALETTE_DIR) return;
  if (current) fs.rmSync(link, { recursive: true, force: true });
  fs.symlinkSync(PALETTE_DIR, link, 'dir');
  fs.writeFileSync(
    path.join(userDir, 'package.json'),
    `${JSON.stringify({ name: 'wesprint-node-red', private: true, dependencies: { [PALETTE_NAME]: `file:${PALETTE_DIR}` } }, null, 2)}\n`,
  );
}

/** The flows' token: a new one at a first start, the one made before (an emptied user directory) revoked. */
async function tokenForFirstFlows(tokens: IntegrationTokens, audit: AuditLog): Promise<string> {
  const keeper = { actor: null, via: 'cli' as const };
  const before = (await tokens.list()).find((t) => t.label === EMBEDDED_TOKEN_LABEL && t.revokedAt === null);
  if (before) await revokeToken(tokens, audit, before.id, keeper);
  const { secret } = await issueToken(
    tokens,
    audit,
    { label: EMBEDDED_TOKEN_LABEL, scopes: EMBEDDED_TOKEN_SCOPES, site: null },
    keeper,
  );
  return secret;
}

function spawnChild(): ChildProcess {
  // No TypeScript loader: it would sit in front of every module Node-RED requires.
  return spawn(process.execPath, [CHILD], {
    // It stops itself when the IPC channel closes (this process killed with -9).
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
}

export async function startEmbeddedNodeRed(options: EmbeddedNodeRedOptions): Promise<EmbeddedNodeRed> {
  const { logger } = options;
  const userDir = nodeRedUserDir(options.dataDir);
  fs.mkdirSync(userDir, { recursive: true, mode: 0o700 });
  linkPalette(userDir);
  const secret = credentialSecret(userDir);
  const first = !fs.existsSync(path.join(userDir, 'flows.json'));
  const flows = first
    ? firstFlows({
        site: options.site,
        profiles: options.profiles,
        apiUrl: options.apiUrl,
        token: await tokenForFirstFlows(options.tokens, options.audit),
      })
    : null;
  let port = options.port;

  let child: ChildProcess | undefined;
  let stopped = false;
  let restartTimer: NodeJS.Timeout | undefined;
  let backoffMs = 1000;

  const launch = (firstFlowsNow: Record<string, unknown>[] | null) =>
    new Promise<{ ready: Extract<FromNodeRed, { type: 'ready' }>; ms: number }>((resolve, reject) => {
      const began = Date.now();
      const proc = spawnChild();
      child = proc;
      let settled = false;
      const lines = (level: 'warn' | 'debug') => (chunk: Buffer) => {
        for (const line of chunk.toString('utf8').split('\n'))
          if (line.trim()) logger[level]({}, line.slice(0, 500));
      };
      proc.stdout?.on('data', lines('debug'));
      proc.stderr?.on('data', lines('warn'));
      proc.on('message', (m: FromNodeRed) => {
        if (m.type === 'log') logger[m.level]({ ...m.detail }, m.msg);
        else if (m.type === 'ready' && !settled) {
          settled = true;
          backoffMs = 1000;
          resolve({ ready: m, ms: Date.now() - began });
        } else if (m.type === 'failed' && !settled) {
          settled = true;
          reject(new NodeRedStartError(m.error));
        }
      });
      proc.on('exit', (code, signal) => {
        if (!settled) {
          settled = true;
          reject(new NodeRedStartError(`Node-RED ended while starting (${signal ?? `code ${code}`})`));
          return;
        }
        if (stopped || child !== proc) return;
        logger.error({ code, signal, retryInMs: backoffMs }, 'Node-RED ended; it is started again');
        restartTimer = setTimeout(() => {
          if (stopped) return;
          launch(null).catch((err: Error) =>
            logger.error({ err: err.message }, 'Node-RED did not start again'),
          );
        }, backoffMs);
        backoffMs = Math.min(30_000, backoffMs * 2);
      });
      const start: NodeRedStart = {
        type: 'start',
        userDir,
        credentialSecret: secret,
        host: options.host,
        port,
        apiUrl: options.apiUrl,
        firstFlows: firstFlowsNow,
      };
      proc.send(start);
    });

  const stopChild = async () => {
    const proc = child;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    if (proc.connected) proc.send({ type: 'stop' });
    else proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), STOP_GRACE_MS);
    await exited;
    clearTimeout(timer);
  };

  const onAbort = () => void stopChild();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  let started: Awaited<ReturnType<typeof launch>>;
  try {
    started = await launch(flows);
  } catch (err) {
    await stopChild();
    throw err;
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
  }
  // A restart takes the port it had (0 would move the editor elsewhere).
  port = Number(new URL(started.ready.url).port);
  return {
    url: started.ready.url,
    version: started.ready.version,
    readyMs: started.ms,
    startedMs: started.ready.startedMs,
    deployed: started.ready.deployed,
    async stop() {
      stopped = true;
      clearTimeout(restartTimer);
      await stopChild();
    },
  };
}
