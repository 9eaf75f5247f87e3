import fs from 'node:fs';
import { Session } from 'node:inspector/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Where the gateway's time goes: a V8 CPU profile of this process (broker + gateway + store run in it;
 * the publisher has a process of its own) taken during one timed run, summarised by package or project
 * file (self time) and by project function (inclusive time). The raw profile opens in Chrome DevTools.
 */

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface ProfileShare {
  name: string;
  ms: number;
  /** Share of the profiled time, 0..1. */
  share: number;
}

export interface ProfileSummary {
  totalMs: number;
  /** Self time by package (node_modules), project file, or V8 bucket (GC, idle, program). */
  byPlace: ProfileShare[];
  /** Inclusive time of project functions (a function's callees count towards it). */
  projectFunctions: ProfileShare[];
  /** Self time of the single hottest functions anywhere. */
  hottest: ProfileShare[];
}

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export class CpuProfiler {
  private readonly session = new Session();

  async start(samplingIntervalUs = 200): Promise<void> {
    this.session.connect();
    await this.session.post('Profiler.enable');
    await this.session.post('Profiler.setSamplingInterval', { interval: samplingIntervalUs });
    await this.session.post('Profiler.start');
  }

  async stop(): Promise<CpuProfile> {
    const { profile } = (await this.session.post('Profiler.stop')) as { profile: CpuProfile };
    await this.session.post('Profiler.disable');
    this.session.disconnect();
    return profile;
  }
}

export function writeProfile(file: string, profile: CpuProfile): void {
  fs.writeFileSync(file, JSON.stringify(profile));
}

function place(frame: CallFrame): string | undefined {
  const { url, functionName } = frame;
  if (url === '') {
    if (functionName === '(garbage collector)') return 'V8: garbage collector';
    if (functionName === '(idle)') return 'V8: idle';
    if (functionName === '(program)') return 'V8: program';
    return undefined; // native code: charged to its caller
  }
  const modules = url.lastIndexOf('/node_modules/');
  if (modules >= 0) {
    const rest = url.slice(modules + '/node_modules/'.length).split('/');
    return `npm: ${rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  if (url.startsWith('node:')) return `node: ${url.slice(5).split('/').slice(0, 2).join('/')}`;
  if (url.startsWith('file://')) {
    const file = fileURLToPath(url);
    return file.startsWith(projectRoot) ? path.relative(projectRoot, file) : file;
  }
  return url;
}

function isProject(frame: CallFrame): boolean {
  return (
    frame.url.startsWith('file://') &&
    !frame.url.includes('/node_modules/') &&
    fileURLToPath(frame.url).startsWith(projectRoot)
  );
}

function ranked(map: Map<string, number>, totalMs: number, limit: number): ProfileShare[] {
  return [...map]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([name, ms]) => ({ name, ms: Math.round(ms), share: totalMs > 0 ? ms / totalMs : 0 }));
}

export function summariseProfile(profile: CpuProfile, limit = 15): ProfileSummary {
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const selfMs = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) {
    const id = samples[i] as number;
    // A sample's delta is the time since the previous one: it belongs to the previous sample's node.
    const ms = (deltas[i + 1] ?? 0) / 1000;
    selfMs.set(id, (selfMs.get(id) ?? 0) + ms);
  }
  let totalMs = 0;
  const byPlace = new Map<string, number>();
  const hottest = new Map<string, number>();
  const projectFunctions = new Map<string, number>();
  for (const [id, ms] of selfMs) {
    totalMs += ms;
    let node = byId.get(id);
    let where: string | undefined;
    let native = '';
    while (node) {
      where = place(node.callFrame);
      if (where !== undefined) break;
      native ||= node.callFrame.functionName || '(anonymous)';
      const up = parent.get(node.id);
      node = up === undefined ? undefined : byId.get(up);
    }
    const key = `${where ?? '(root)'}${native ? ' [native]' : ''}`;
    byPlace.set(key, (byPlace.get(key) ?? 0) + ms);
    const self = byId.get(id)?.callFrame;
    if (self) {
      const name = `${self.functionName || '(anonymous)'} ${place(self) ?? `[native, in ${where ?? '?'}]`}${self.url ? `:${self.lineNumber + 1}` : ''}`;
      hottest.set(name, (hottest.get(name) ?? 0) + ms);
    }
    // Inclusive time: each project function on the stack once.
    const seen = new Set<string>();
    for (let n = byId.get(id); n; ) {
      if (isProject(n.callFrame)) {
        const name = `${n.callFrame.functionName || '(anonymous)'} ${place(n.callFrame)}:${n.callFrame.lineNumber + 1}`;
        if (!seen.has(name)) {
          seen.add(name);
          projectFunctions.set(name, (projectFunctions.get(name) ?? 0) + ms);
        }
      }
      const up = parent.get(n.id);
      n = up === undefined ? undefined : byId.get(up);
    }
  }
  return {
    totalMs: Math.round(totalMs),
    byPlace: ranked(byPlace, totalMs, limit),
    projectFunctions: ranked(projectFunctions, totalMs, limit),
    hottest: ranked(hottest, totalMs, limit),
  };
}

export function formatSummary(summary: ProfileSummary): string {
  const table = (title: string, rows: ProfileShare[]) =>
    [
      `  ${title}`,
      ...rows.map(
        (r) => `    ${(r.share * 100).toFixed(1).padStart(5)}%  ${String(r.ms).padStart(6)} ms  ${r.name}`,
      ),
    ].join('\n');
  return [
    `CPU profile of the broker+gateway process over ${summary.totalMs} ms:`,
    table('self time by place', summary.byPlace),
    table('inclusive time of project functions', summary.projectFunctions),
    table('hottest functions (self)', summary.hottest),
  ].join('\n');
}
