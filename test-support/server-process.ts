import { type ChildProcess, spawn } from 'node:child_process';

export interface ServerProcessSpec {
  /** What the errors call it: "influxd", "mosquitto". */
  name: string;
  command: string;
  args: string[];
  /** Whether it serves yet (a ping, a connect); asked until it does or the start times out. */
  ready(): Promise<boolean>;
  /** How long a SIGTERM may take before SIGKILL (a clean stop writes its data first). */
  stopGraceMs: number;
  /** How much of its last output is kept for a failing test's message. */
  keepChars: number;
}

/**
 * A server the tests start themselves (influxd, Mosquitto) as a child process: start() waits until it serves,
 * stop() is a clean SIGTERM, kill() a SIGKILL (the crash the parts must survive), and start() again runs it on
 * the same data and port. Its output is kept, since the test that fails needs to say why the server did.
 */
export class ServerProcess {
  private child: ChildProcess | undefined;
  private log = '';

  constructor(private readonly spec: ServerProcessSpec) {}

  output(): string {
    return this.log;
  }

  async start(timeoutMs: number, pollMs: number): Promise<void> {
    const { name, command, args, keepChars } = this.spec;
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    const keep = (chunk: Buffer) => {
      this.log = (this.log + chunk.toString()).slice(-keepChars);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    let exited = false;
    child.once('exit', () => {
      exited = true;
    });
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (exited) throw new Error(`${name} exited while starting:\n${this.log}`);
      if (await this.spec.ready()) return;
      await new Promise((r) => setTimeout(r, pollMs));
    }
    child.kill('SIGKILL');
    throw new Error(`${name} did not serve within ${timeoutMs} ms:\n${this.log}`);
  }

  /** SIGTERM, waits for the exit (SIGKILL after the grace). */
  stop(): Promise<void> {
    return this.signal('SIGTERM');
  }

  /** SIGKILL, waits for the exit. */
  kill(): Promise<void> {
    return this.signal('SIGKILL');
  }

  private async signal(sig: NodeJS.Signals): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(sig);
    const timer = setTimeout(() => child.kill('SIGKILL'), this.spec.stopGraceMs);
    await exited;
    clearTimeout(timer);
  }
}

/**
 * Makes and starts a server on ports probed free; a port another process takes between the probe and the bind
 * fails the start, so it is tried again with new ports, three times in all.
 */
export async function startOnFreePorts<T extends { start(): Promise<void>; dispose(): Promise<void> }>(
  make: () => Promise<T>,
): Promise<T> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const server = await make();
    try {
      await server.start();
      return server;
    } catch (error) {
      lastError = error;
      await server.dispose();
    }
  }
  throw lastError;
}
