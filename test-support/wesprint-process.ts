import { spawn } from 'node:child_process';
import path from 'node:path';

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
    const child = spawn(process.execPath, [WESPRINT_BIN, ...args], { env: { ...process.env, ...env } });
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
