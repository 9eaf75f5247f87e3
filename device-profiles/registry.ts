import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { levelsMatch } from '../building/topic-filter.ts';
import { DecodeError, type DecodeResult, type DeviceProfile, type TopicMatch } from './profile.ts';

/**
 * The registry finds the device families by reading `device-families/`: each folder there is one family,
 * and its `profile.ts` is imported (nothing else in the folder: its tests, its simulator). Adding a family
 * is adding one folder, there is no list to edit.
 */

export const FAMILIES_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'device-families');

/** The file of a family folder that holds its profile. */
export const PROFILE_FILE = 'profile.ts';

const FAMILY_FOLDER = /^[a-z0-9][a-z0-9._-]*$/;

/**
 * The family folders of `dir` (sorted; dot-folders and files beside them skipped), each with the path of its
 * `file` relative to `dir`, or undefined where the folder has none.
 */
export async function familyFolders(
  dir: string,
  file: string,
): Promise<{ folder: string; file: string | undefined }[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const folders = entries
    .filter((e) => e.isDirectory() && FAMILY_FOLDER.test(e.name))
    .map((e) => e.name)
    .sort();
  return Promise.all(
    folders.map(async (folder) => {
      const inside = await readdir(path.join(dir, folder));
      return { folder, file: inside.includes(file) ? `${folder}/${file}` : undefined };
    }),
  );
}

/**
 * Loads the profile of every family folder of `dir` (default: device-families/), keyed by profile id.
 * A folder without `profile.ts` and duplicate ids are errors.
 */
export async function loadProfiles(dir: string = FAMILIES_DIR): Promise<Map<string, DeviceProfile>> {
  const profiles = new Map<string, DeviceProfile>();
  const origin = new Map<string, string>();
  for (const { folder, file } of await familyFolders(dir, PROFILE_FILE)) {
    if (!file) throw new Error(`device family folder ${folder} has no ${PROFILE_FILE}`);
    const mod = (await import(pathToFileURL(path.join(dir, file)).href)) as { default?: unknown };
    const profile = mod.default;
    checkProfile(profile, file);
    const earlier = origin.get(profile.id);
    if (earlier) throw new Error(`device family id "${profile.id}" is defined twice: ${earlier} and ${file}`);
    origin.set(profile.id, file);
    profiles.set(profile.id, profile);
  }
  return profiles;
}

function checkProfile(p: unknown, file: string): asserts p is DeviceProfile {
  const problems: string[] = [];
  const o = p as Record<string, unknown> | undefined;
  if (typeof o !== 'object' || o === null) {
    throw new Error(`device family profile ${file} must export a DeviceProfile as default`);
  }
  if (typeof o.id !== 'string' || !/^[a-z0-9][a-z0-9_-]*$/.test(o.id))
    problems.push('id (lower-case a-z 0-9 _ -)');
  for (const fn of ['match', 'decode', 'acl']) if (typeof o[fn] !== 'function') problems.push(`${fn}()`);
  if (!Array.isArray(o.subscriptions)) problems.push('subscriptions[]');
  if (!Array.isArray(o.quantities)) problems.push('quantities[]');
  if (problems.length)
    throw new Error(`device family profile ${file}: missing or invalid ${problems.join(', ')}`);
}

// --- decoding one message ----------------------------------------------------------------------

/** A device of the site file, by its base topic. `profile` is a profile or its id. */
export interface SiteDevice {
  id: string;
  profile: DeviceProfile | string;
}

export type DecodeOutcome =
  | { ok: true; device: string; profile: DeviceProfile; match: TopicMatch; result: DecodeResult }
  | {
      ok: false;
      /**
       * unknown_device: no family recognises the topic, or (with a site map) no site device lives there.
       * malformed: the topic is a device's, the payload is not what its firmware sends.
       * ignored: a topic inside a family's subscriptions that is not a device report (Zigbee2MQTT's
       * `bridge/…`, commands such as `…/set` or `nuki/<id>/lockAction` seen on the way to the device):
       * expected traffic, drop it without quarantine.
       */
      reason: 'unknown_device' | 'malformed' | 'ignored';
      detail: string;
      device?: string;
    };

interface Compiled {
  /** Anchored families (a fixed first topic level) before free-prefix ones, then by id. */
  ordered: DeviceProfile[];
  filters: { profile: DeviceProfile; levels: string[] }[];
}

const compiledFor = new WeakMap<Map<string, DeviceProfile>, Compiled>();

function compile(profiles: Map<string, DeviceProfile>): Compiled {
  let c = compiledFor.get(profiles);
  if (c && c.ordered.length === profiles.size) return c;
  const anchored = (p: DeviceProfile) =>
    p.subscriptions.every((s) => !s.startsWith('+') && !s.startsWith('#'));
  const ordered = [...profiles.values()].sort(
    (a, b) => Number(anchored(b)) - Number(anchored(a)) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  );
  const filters = ordered.flatMap((profile) =>
    profile.subscriptions.map((s) => ({ profile, levels: s.split('/') })),
  );
  c = { ordered, filters };
  compiledFor.set(profiles, c);
  return c;
}

/** A device id for a topic no site file names (`wesprint decode` without a site): a slug of the base topic. */
export function deviceIdFromTopic(deviceTopic: string): string {
  const slug = deviceTopic
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/^[-_]+|-+$/g, '')
    .slice(0, 64);
  return slug || 'device';
}

function attempt(
  profile: DeviceProfile,
  match: TopicMatch,
  payload: Buffer,
  receivedAt: number,
): { result: DecodeResult } | { error: string } {
  try {
    return { result: profile.decode(match, payload, receivedAt) };
  } catch (err) {
    if (err instanceof DecodeError) return { error: err.message };
    // A bug in a decoder must not take the gateway down; the message is kept aside with the reason.
    return { error: `${profile.id}: decoder failed: ${(err as Error)?.message ?? String(err)}` };
  }
}

/**
 * Decodes one MQTT message.
 *
 * With `devicesByTopic` (the site file's devices by base topic) the message is decoded only by the
 * profile of the device that lives at the topic's base topic; anything else is `unknown_device`.
 *
 * Without it (`wesprint decode` on a bare message), every family whose `match` accepts the topic tries
 * it, and the winner is, in order: a family that decodes without error; the one yielding the most
 * readings; a family anchored at a fixed first topic level (`shellies/…`, `nuki/…`) before one that
 * recognises a free topic prefix (Shelly Gen2); then the lower profile id. A family that decodes the
 * message into nothing at all does not win over one that refused it: that is `malformed`. So `zigbee2mqtt/x` with
 * `{"co2":…}` goes to the air-quality family and with `{"occupancy":…}` to the occupancy family.
 * The device id is then derived from the base topic (`deviceIdFromTopic`).
 */
export function decodeMessage(
  profiles: Map<string, DeviceProfile>,
  topic: string,
  payload: Buffer,
  receivedAt: number,
  devicesByTopic?: ReadonlyMap<string, SiteDevice>,
): DecodeOutcome {
  const { ordered } = compile(profiles);

  if (devicesByTopic) {
    let known: TopicMatch | undefined;
    for (const p of ordered) {
      const m = p.match(topic);
      if (!m) continue;
      const site = devicesByTopic.get(m.deviceTopic);
      if (!site) {
        known ??= m;
        continue;
      }
      const profile = typeof site.profile === 'string' ? profiles.get(site.profile) : site.profile;
      if (!profile) {
        return {
          ok: false,
          reason: 'unknown_device',
          detail: `device "${site.id}" names profile "${String(site.profile)}", which no device family defines`,
          device: site.id,
        };
      }
      const own = profile === p ? m : profile.match(topic);
      if (!own || own.deviceTopic !== m.deviceTopic) {
        known ??= m;
        continue;
      }
      const r = attempt(profile, own, payload, receivedAt);
      if ('error' in r) return { ok: false, reason: 'malformed', detail: r.error, device: site.id };
      return { ok: true, device: site.id, profile, match: own, result: r.result };
    }
    if (known) {
      return {
        ok: false,
        reason: 'unknown_device',
        detail: `no device in the site file has base topic "${known.deviceTopic}"`,
      };
    }
    return notRecognised(profiles, topic);
  }

  let best: { profile: DeviceProfile; match: TopicMatch; result: DecodeResult } | undefined;
  const failures: string[] = [];
  let firstMatch: TopicMatch | undefined;
  for (const p of ordered) {
    const m = p.match(topic);
    if (!m) continue;
    firstMatch ??= m;
    const r = attempt(p, m, payload, receivedAt);
    if ('error' in r) {
      failures.push(r.error);
      continue;
    }
    // `ordered` already ranks anchored families and ids; only more readings can displace a winner.
    if (!best || r.result.readings.length > best.result.readings.length)
      best = { profile: p, match: m, result: r.result };
  }
  // A family that found nothing in the message does not outvote one that found it malformed
  // (`{"co2":-5}` is a broken CO2 report, not an empty occupancy report).
  if (best && (says(best.result) || failures.length === 0)) {
    return { ok: true, device: deviceIdFromTopic(best.match.deviceTopic), ...best };
  }
  if (firstMatch) {
    return {
      ok: false,
      reason: 'malformed',
      detail: failures.join('; '),
      device: deviceIdFromTopic(firstMatch.deviceTopic),
    };
  }
  return notRecognised(profiles, topic);
}

function says(r: DecodeResult): boolean {
  return r.readings.length > 0 || r.availability !== undefined || r.commandResult !== undefined;
}

function notRecognised(profiles: Map<string, DeviceProfile>, topic: string): DecodeOutcome {
  const levels = topic.split('/');
  const inside = compile(profiles).filters.find((f) => levelsMatch(f.levels, levels));
  if (inside) {
    return {
      ok: false,
      reason: 'ignored',
      detail: `"${topic}" is ${inside.profile.id} traffic but not a device report (bridge or command topic)`,
    };
  }
  return { ok: false, reason: 'unknown_device', detail: `no device family recognises topic "${topic}"` };
}
