import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { closedPort } from './ports.ts';
import { ServerProcess, startOnFreePorts } from './server-process.ts';

/**
 * A Mosquitto of the test's own (this machine's /usr/sbin/mosquitto, Debian's 2.0.11): loopback only, a free
 * port, a config file and a persistence directory in a temp dir. The machine's own Mosquitto on 1883 is never
 * touched. stop() is a clean SIGTERM (Mosquitto writes its persistence file then), kill() a SIGKILL,
 * restart() starts it again on the same port and directory.
 *
 * A test needing it asks `requireComponent(t, mosquittoAvailable(), 'Mosquitto', MOSQUITTO_INSTALL)` first:
 * a missing binary skips loudly on a laptop and fails under CI=true.
 */
export const MOSQUITTO = '/usr/sbin/mosquitto';
export const MOSQUITTO_INSTALL = 'apt-get install -y mosquitto';

export function mosquittoAvailable(): boolean {
  return fs.existsSync(MOSQUITTO);
}

export interface MosquittoOptions {
  /**
   * Messages a persistent session may have queued while its client is away (`max_queued_messages`; Mosquitto's
   * default is 1000, past which it drops QoS 1 messages silently). Default here: 0, no limit.
   */
  maxQueuedMessages?: number;
  /** QoS 1 messages in flight to one client at a time (`max_inflight_messages`; Mosquitto's default 20). */
  maxInflightMessages?: number;
  /**
   * Seconds between saves of the in-memory database to disk (`autosave_interval`; Mosquitto's default 1800).
   * Default here: 1. Mosquitto acknowledges a message before any save: a SIGKILL loses what came since.
   */
  autosaveInterval?: number;
  /** Further lines for mosquitto.conf. */
  extraConfig?: string[];
}

export interface Mosquitto {
  readonly port: number;
  /** mqtt://127.0.0.1:<port> */
  readonly url: string;
  readonly dir: string;
  /** Everything Mosquitto logged (its own log goes to stderr), for a failing test's comment. */
  output(): string;
  /** SIGTERM, waits for the exit (Mosquitto saves its persistence file first). */
  stop(): Promise<void>;
  /** SIGKILL, waits for the exit. */
  kill(): Promise<void>;
  /** Starts again on the same port and directory. */
  restart(): Promise<void>;
  /** stop() and remove the directory. */
  dispose(): Promise<void>;
}

function config(dir: string, port: number, options: MosquittoOptions): string {
  return [
    `listener ${port} 127.0.0.1`,
    // Started as root, Mosquitto would switch to the user "mosquitto", who may not write the temp dir.
    `user ${os.userInfo().username}`,
    'allow_anonymous true',
    'persistence true',
    `persistence_location ${dir}/`,
    `autosave_interval ${options.autosaveInterval ?? 1}`,
    `max_queued_messages ${options.maxQueuedMessages ?? 0}`,
    `max_inflight_messages ${options.maxInflightMessages ?? 20}`,
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    'log_type notice',
    'log_type information',
    ...(options.extraConfig ?? []),
    '',
  ].join('\n');
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

class RunningMosquitto implements Mosquitto {
  private readonly server: ServerProcess;

  constructor(
    readonly dir: string,
    readonly port: number,
    configFile: string,
  ) {
    this.server = new ServerProcess({
      name: 'mosquitto',
      command: MOSQUITTO,
      args: ['-c', configFile],
      ready: () => listening(port),
      stopGraceMs: 10_000,
      keepChars: 20_000,
    });
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  output(): string {
    return this.server.output();
  }

  start(): Promise<void> {
    return this.server.start(15_000, 50);
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
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Starts a Mosquitto of its own, in a temp dir. */
export function startMosquitto(options: MosquittoOptions = {}): Promise<Mosquitto> {
  return startOnFreePorts(async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-mosquitto-'));
    const port = await closedPort();
    const configFile = path.join(dir, 'mosquitto.conf');
    fs.writeFileSync(configFile, config(dir, port, options));
    return new RunningMosquitto(dir, port, configFile);
  });
}
