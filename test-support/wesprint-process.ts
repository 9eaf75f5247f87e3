import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { YOUNG_GENERATION_FLAG } from '../cli/heap.ts';

/** The `wesprint` command as a user runs it: a real process with its own environment. */
export const WESPRINT_BIN = path.resolve(import.meta.dirname, '../bin/wesprint.js');

export interface WesprintRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `wesprint <args>` to its end; `stdin`, when given, is written and closed (a piped password). */
export function runWesprint(
  args: string[],
  env: Record<string, string> = {},
  stdin?: string,
): Promise<WesprintRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [YOUNG_GENERATION_FLAG, WESPRINT_BIN, ...args], {
      env: { ...process.env, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    if (stdin !== undefined) child.stdin.end(stdin);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A `wesprint` part running as a service would: a child process the test signals, kills and reads. */
export interface WesprintService {
  readonly child: ChildProcess;
  /** Everything written so far, stdout and stderr interleaved as they arrived. */
  output(): string;
  /** Resolves with the match once the output matches; rejects on exit or after timeoutMs. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Sends the signal and resolves when the process has ended, with how long that took. */
  stop(signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts `wesprint <args>` and leaves it running; the test's teardown kills whatever still runs, and shows
 * what the process wrote when the test failed.
 */
export function startWesprint(
  t: { teardown(fn: () => void | Promise<void>): void; passing(): boolean; comment(...m: unknown[]): void },
  args: string[],
  env: Record<string, string>,
): WesprintService {
  const service = spawnWesprint(args, env);
  t.teardown(async () => {
    await killWesprint(service);
    if (!t.passing()) t.comment(`wesprint ${args.join(' ')} wrote:\n${service.output()}`);
  });
  return service;
}

/** True while the process has not ended. */
export function wesprintRunning(service: WesprintService): boolean {
  return service.child.exitCode === null && service.child.signalCode === null;
}

/** SIGKILL unless it has ended already; resolves once it has. */
export async function killWesprint(service: WesprintService): Promise<void> {
  if (wesprintRunning(service)) {
    service.child.kill('SIGKILL');
    await service.exited;
  }
}

/**
 * Starts `wesprint <args>` with no test around it (a benchmark's parts): whoever starts it ends it
 * (`killWesprint`, `stop`).
 */
export function spawnWesprint(args: string[], env: Record<string, string>): WesprintService {
  return spawnNode([YOUNG_GENERATION_FLAG, WESPRINT_BIN, ...args], env);
}

/** `node <args>` as a service (`spawnWesprint` for another script: test-support/journaled-broker-process.ts). */
export function spawnNode(args: string[], env: Record<string, string>): WesprintService {
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env } });
  let output = '';
  const watchers = new Set<() => void>();
  const take = (d: Buffer) => {
    output += d.toString();
    for (const w of watchers) w();
  };
  child.stdout.on('data', take);
  child.stderr.on('data', take);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => {
      for (const w of watchers) w();
      resolve({ code, signal });
    }),
  );
  return {
    child,
    output: () => output,
    exited,
    waitFor(pattern, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = pattern.exec(output);
          if (match) done(() => resolve(match));
          else if (child.exitCode !== null || child.signalCode !== null)
            done(() => reject(new Error(`exited before ${pattern}:\n${output}`)));
        };
        const timer = setTimeout(
          () => done(() => reject(new Error(`no ${pattern} within ${timeoutMs} ms:\n${output}`))),
          timeoutMs,
        );
        const done = (settle: () => void) => {
          clearTimeout(timer);
          watchers.delete(check);
          settle();
        };
        watchers.add(check);
        check();
      });
    },
    async stop(signal) {
      const started = performance.now();
      child.kill(signal);
      const end = await exited;
      return { ...end, ms: performance.now() - started };
    },
  };
}
