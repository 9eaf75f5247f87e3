import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type RunningParts, type StartOptions, startParts } from '../cli/parts.ts';
import { readSettings } from '../cli/settings.ts';
import { adminCredentialsFile, type DemoMember, demoMembersFile } from '../members/first-start.ts';

/**
 * The whole system as `wesprint start` runs it (broker, gateway, API with the dashboard, simulated
 * building), in this process, on ephemeral loopback ports and a throwaway DATA_DIR, with the people
 * `wesprint start` generates. For browser tests and end-to-end checks.
 */
export interface RunningSystem extends RunningParts {
  httpUrl: string;
  dataDir: string;
  admin: { email: string; password: string };
  /** The generated demo people (three members, a facility manager, a board member). */
  demo: DemoMember[];
  /** A demo person by role (the first of that role). */
  person(role: DemoMember['role']): DemoMember;
}

export interface RunningSystemOptions {
  /** Run the simulated building (default true). */
  simulation?: boolean;
  /** Run the embedded Node-RED (default false: most tests bring their own or none). */
  automations?: boolean;
  /** Fills the empty DATA_DIR before any part starts (history in the store for reports, …). */
  prepare?: (dataDir: string) => Promise<void>;
  /** More environment for the system (SIM_SPEED, CHECKIN_GRACE_MIN, DASHBOARD_DIR, …). */
  env?: Record<string, string>;
  /** What the start takes beside the settings (the journal's group-write step: a disk held or refused). */
  start?: Pick<StartOptions, 'journal'>;
}

export async function startRunningSystem(options: RunningSystemOptions = {}): Promise<RunningSystem> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-system-'));
  await options.prepare?.(dataDir);
  const env: NodeJS.ProcessEnv = {
    DATA_DIR: dataDir,
    HTTP_HOST: '127.0.0.1',
    HTTP_PORT: '0',
    NODE_RED_PORT: '0',
    MQTT_HOST: '127.0.0.1',
    MQTT_PORT: '0',
    MQTT_WS_PORT: '0',
    LOG_LEVEL: process.env.WESPRINT_TEST_LOG_LEVEL ?? 'silent',
    SIM_SPEED: '1',
    ...(process.env.DASHBOARD_DIR ? { DASHBOARD_DIR: process.env.DASHBOARD_DIR } : {}),
    BACKFILL_DAYS: '0',
    ...options.env,
  };
  // The first start's history runs `wesprint simulate --backfill` in a child process, which reads its settings
  // from the environment (cli/simulated-history.ts).
  const saved = new Map(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  let parts: RunningParts;
  try {
    parts = await startParts(
      readSettings(env),
      {
        broker: true,
        gateway: true,
        watchers: true,
        api: true,
        simulation: options.simulation ?? true,
        automations: options.automations ?? false,
      },
      options.start,
    );
  } catch (err) {
    fs.rmSync(dataDir, { recursive: true, force: true });
    throw err;
  } finally {
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
  if (!parts.httpUrl) throw new Error('the API did not start');
  const adminText = fs.readFileSync(adminCredentialsFile(dataDir), 'utf8');
  const admin = {
    email: /^email: (.+)$/m.exec(adminText)?.[1] ?? '',
    password: /^password: (.+)$/m.exec(adminText)?.[1] ?? '',
  };
  const demo: DemoMember[] = fs.existsSync(demoMembersFile(dataDir))
    ? (JSON.parse(fs.readFileSync(demoMembersFile(dataDir), 'utf8')) as { members: DemoMember[] }).members
    : [];
  return {
    ...parts,
    httpUrl: parts.httpUrl,
    dataDir,
    admin,
    demo,
    person(role) {
      const found = demo.find((d) => d.role === role);
      if (!found) throw new Error(`no demo person with role ${role} (simulation off?)`);
      return found;
    },
    async stop() {
      try {
        await parts.stop();
      } finally {
        fs.rmSync(dataDir, { recursive: true, force: true });
      }
    },
  };
}
