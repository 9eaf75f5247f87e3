import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/**
 * A real InfluxDB 1.x (Debian's `influxdb` package) for tests: loopback only, ephemeral ports, a
 * throwaway data directory. stop() is a clean SIGTERM, kill() a SIGKILL (the crash the gateway's spool
 * must survive), restart() starts it again on the same data and port.
 */
export const INFLUXD = '/usr/bin/influxd';
export const INFLUXD_INSTALL = 'apt-get install -y influxdb influxdb-client';

export function influxdAvailable(): boolean {
  return fs.existsSync(INFLUXD);
}

export interface Influxd {
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  /** SIGTERM, waits for exit. */
  stop(): Promise<void>;
  /** SIGKILL, waits for exit. */
  kill(): Promise<void>;
  /** Starts again on the same data dir and port; resolves when /ping answers 204. */
  restart(): Promise<void>;
  /** stop() and remove the data dir. */
  dispose(): Promise<void>;
  /**
   * influxd's own time (epoch ms, whole seconds): influxd is a Go program and ignores faketime, and it
   * refuses points older than a retention policy by this clock. Tests that write points date them by it.
   */
  clock(): Promise<number>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

function config(dir: string, httpPort: number, rpcPort: number): string {
  return `reporting-disabled = true
bind-address = "127.0.0.1:${rpcPort}"

[meta]
  dir = "${path.join(dir, 'meta')}"
  logging-enabled = false

[data]
  dir = "${path.join(dir, 'data')}"
  wal-dir = "${path.join(dir, 'wal')}"
  query-log-enabled = false

[coordinator]
  log-queries-after = "0s"

[monitor]
  store-enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:${httpPort}"
  log-enabled = false
  auth-enabled = false

[subscriber]
  enabled = false

[continuous_queries]
  log-enabled = false
`;
}

class RunningInfluxd implements Influxd {
  private child: ChildProcess | undefined;
  private output = '';

  constructor(
    readonly dataDir: string,
    readonly port: number,
    private readonly configFile: string,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(timeoutMs = 30_000): Promise<void> {
    this.output = '';
    const child = spawn(INFLUXD, ['-config', this.configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString()).slice(-4000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    let exited = false;
    child.once('exit', () => {
      exited = true;
    });
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (exited) throw new Error(`influxd exited while starting:\n${this.output}`);
      try {
        const res = await fetch(`${this.url}/ping`, { signal: AbortSignal.timeout(1000) });
        if (res.status === 204) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    child.kill('SIGKILL');
    throw new Error(`influxd did not answer /ping within ${timeoutMs} ms:\n${this.output}`);
  }

  private async signal(sig: NodeJS.Signals): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(sig);
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  }

  stop(): Promise<void> {
    return this.signal('SIGTERM');
  }

  kill(): Promise<void> {
    return this.signal('SIGKILL');
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  async dispose(): Promise<void> {
    await this.stop();
    fs.rmSync(this.dataDir, { recursive: true, force: true });
  }

  async clock(): Promise<number> {
    const res = await fetch(`${this.url}/ping`);
    const date = Date.parse(res.headers.get('date') ?? '');
    if (!Number.isFinite(date)) throw new Error('influxd answered /ping without a Date header');
    return date;
  }
}

/** Starts influxd; a port taken between probing and binding is retried with new ports. */
export async function startInfluxd(): Promise<Influxd> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-influxd-'));
    const [httpPort, rpcPort] = [await freePort(), await freePort()];
    const configFile = path.join(dir, 'influxdb.conf');
    fs.writeFileSync(configFile, config(dir, httpPort, rpcPort));
    const influxd = new RunningInfluxd(dir, httpPort, configFile);
    try {
      await influxd.start();
      return influxd;
    } catch (error) {
      lastError = error;
      await influxd.dispose();
    }
  }
  throw lastError;
}
