import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { closedPort } from './ports.ts';
import { ServerProcess, startOnFreePorts } from './server-process.ts';

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
  private readonly server: ServerProcess;

  constructor(
    readonly dataDir: string,
    readonly port: number,
    configFile: string,
  ) {
    this.server = new ServerProcess({
      name: 'influxd',
      command: INFLUXD,
      args: ['-config', configFile],
      ready: async () => {
        try {
          const res = await fetch(`${this.url}/ping`, { signal: AbortSignal.timeout(1000) });
          return res.status === 204;
        } catch {
          return false; // not listening yet
        }
      },
      stopGraceMs: 15_000,
      keepChars: 4000,
    });
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  start(): Promise<void> {
    return this.server.start(30_000, 100);
  }

  stop(): Promise<void> {
    return this.server.stop();
  }

  kill(): Promise<void> {
    return this.server.kill();
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

/** Starts influxd on a throwaway data directory. */
export function startInfluxd(): Promise<Influxd> {
  return startOnFreePorts(async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-influxd-'));
    const [httpPort, rpcPort] = [await closedPort(), await closedPort()];
    const configFile = path.join(dir, 'influxdb.conf');
    fs.writeFileSync(configFile, config(dir, httpPort, rpcPort));
    return new RunningInfluxd(dir, httpPort, configFile);
  });
}
