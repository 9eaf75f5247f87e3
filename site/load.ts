import fs from 'node:fs';
import path from 'node:path';
import Value from 'typebox/value';
import YAML from 'yaml';
import { networkOf, networkProblems, type SiteNetwork } from './network.ts';
import { Site, type SiteConfig } from './site.ts';

export class SiteFileError extends Error {
  override name = 'SiteFileError';
}

/** Parses and validates a site file (YAML or JSON), including the references between its parts. */
export function parseSite(text: string, origin = 'site file'): SiteConfig {
  let raw: unknown;
  try {
    raw = YAML.parse(text);
  } catch (err) {
    throw new SiteFileError(`${origin}: not valid YAML/JSON: ${(err as Error).message}`);
  }
  const withDefaults = Value.Default(Site, raw);
  const errors = [...Value.Errors(Site, withDefaults)].slice(0, 5);
  if (errors.length > 0) {
    const lines = errors.map((e) => `  ${e.instancePath || '/'}: ${e.message}`);
    throw new SiteFileError(`${origin} is invalid:\n${lines.join('\n')}`);
  }
  const site = withDefaults as SiteConfig;
  checkReferences(site, origin);
  return site;
}

export function loadSite(file: string): SiteConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new SiteFileError(`cannot read site file ${file}: ${(err as Error).message}`);
  }
  return parseSite(text, file);
}

/** The site files a SITES_DIR holds: `*.yaml`, `*.yml`, `*.json`, by name (the first is the home site). */
export function siteFilesIn(dir: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (err) {
    throw new SiteFileError(`cannot read the sites folder ${dir}: ${(err as Error).message}`);
  }
  const files = names
    .filter((n) => /\.(ya?ml|json)$/i.test(n) && !n.startsWith('.'))
    .sort()
    .map((n) => path.join(dir, n));
  if (files.length === 0)
    throw new SiteFileError(`the sites folder ${dir} holds no site file (*.yaml, *.json)`);
  return files;
}

/** Several site files as one network (SITES_DIR): each valid on its own, and together (site/network.ts). */
export function loadNetwork(files: readonly string[], origin = 'the sites'): SiteNetwork {
  const network = networkOf(files.map((f) => loadSite(f)));
  const problems = networkProblems(network);
  if (problems.length > 0) throw new SiteFileError(`${origin}:\n  ${problems.slice(0, 10).join('\n  ')}`);
  return network;
}

function checkReferences(site: SiteConfig, origin: string): void {
  const problems: string[] = [];
  const unique = (what: string, ids: string[]) => {
    const seen = new Set<string>();
    for (const id of ids) {
      if (seen.has(id)) problems.push(`${what} id "${id}" is used twice`);
      seen.add(id);
    }
    return seen;
  };
  const floors = unique(
    'floor',
    site.floors.map((f) => f.id),
  );
  const spaces = unique(
    'space',
    site.spaces.map((s) => s.id),
  );
  const devices = unique(
    'device',
    site.devices.map((d) => d.id),
  );
  unique(
    'device topic',
    site.devices.map((d) => d.topic),
  );
  unique(
    'device username',
    site.devices.map((d) => d.username ?? d.id),
  );
  for (const s of site.spaces) {
    if (!floors.has(s.floor)) problems.push(`space "${s.id}" is on unknown floor "${s.floor}"`);
    if (s.lock && !devices.has(s.lock))
      problems.push(`space "${s.id}" names unknown lock device "${s.lock}"`);
    if (s.parent && !spaces.has(s.parent))
      problems.push(`space "${s.id}" names unknown parent "${s.parent}"`);
  }
  for (const d of site.devices) {
    if (!spaces.has(d.space)) problems.push(`device "${d.id}" is in unknown space "${d.space}"`);
    const channels = new Set<number>();
    for (const c of d.channels ?? []) {
      if (channels.has(c.channel)) problems.push(`device "${d.id}" lists channel ${c.channel} twice`);
      channels.add(c.channel);
      if (!spaces.has(c.space))
        problems.push(`device "${d.id}" channel ${c.channel} is in unknown space "${c.space}"`);
    }
    if (d.topic.startsWith('wesprint/') || d.topic.startsWith('$'))
      problems.push(`device "${d.id}" topic "${d.topic}" is reserved for the building's own topics`);
  }
  if (problems.length > 0) throw new SiteFileError(`${origin}:\n  ${problems.slice(0, 10).join('\n  ')}`);
}
