import { type Capability, describe, parsePlain, quote } from './capabilities.ts';
import {
  DecodeError,
  type DecodeResult,
  type DeviceAction,
  type DeviceProfile,
  type OutgoingMessage,
  type ProfileReading,
  type TopicMatch,
} from './profile.ts';
import type { Quantity } from './reading.ts';

/**
 * `defineProfile` turns a family's declarative description into a `DeviceProfile`, so a family file is
 * mostly data: where its topics live (a layout), which channels the firmware publishes and which
 * capability blocks each carries, which channels it listens on for commands, and how actions are encoded.
 * The channels the firmware publishes are also its ACL: one list serves decoding and least privilege.
 */

/** How a family lays out its topics around the device's base topic. */
export interface TopicLayout {
  /** Split a topic into the device's base topic and a channel, or undefined if it is not this shape. */
  split(topic: string): TopicMatch | undefined;
  /** Inverse of split: the full topic of `channel` (may contain `+`) of the device at `deviceTopic`. */
  join(deviceTopic: string, channel: string): string;
}

export interface ChannelContext {
  match: TopicMatch;
  receivedAt: number;
  /** "family topic-channel", for error messages. */
  where: string;
}

export type ChannelDecoder = (payload: Buffer, ctx: ChannelContext) => DecodeResult;

export interface FamilyDescription {
  id: string;
  vendor: string;
  description: string;
  sources: string[];
  reportingIntervalS: number;
  layout: TopicLayout;
  subscriptions: string[];
  /**
   * Channels the firmware publishes (exact, or with `+` for one segment), each with its decoder.
   * Exactly these become the device's publish ACL.
   */
  reports: Record<string, ChannelDecoder>;
  /** Channels the firmware subscribes to for commands: the device's subscribe ACL. */
  listens: string[];
  /** Actions and their encoding into the vendor's command message(s). */
  commands?: Partial<Record<DeviceAction, (deviceTopic: string) => OutgoingMessage[]>>;
}

interface PatternChannel {
  segments: string[];
  decode: ChannelDecoder;
}

export function defineProfile(family: FamilyDescription): DeviceProfile {
  const exact = new Map<string, ChannelDecoder>();
  const patterns: PatternChannel[] = [];
  for (const [channel, decode] of Object.entries(family.reports)) {
    if (channel.includes('+')) patterns.push({ segments: channel.split('/'), decode });
    else exact.set(channel, decode);
  }
  const decoderFor = (channel: string): ChannelDecoder | undefined => {
    const found = exact.get(channel);
    if (found || patterns.length === 0) return found;
    const segments = channel.split('/');
    for (const p of patterns) {
      if (
        p.segments.length === segments.length &&
        p.segments.every((s, i) => s === '+' || s === segments[i])
      ) {
        return p.decode;
      }
    }
    return undefined;
  };

  const quantities = new Set<Quantity>();
  const commands = family.commands ?? {};
  const actions = Object.keys(commands) as DeviceAction[];

  const profile: DeviceProfile = {
    id: family.id,
    vendor: family.vendor,
    description: family.description,
    sources: family.sources,
    quantities: [],
    reportingIntervalS: family.reportingIntervalS,
    subscriptions: family.subscriptions,
    match(topic) {
      const m = family.layout.split(topic);
      // A topic of the right shape but on a channel the firmware never publishes (commands, typos,
      // other software) is not this family's message.
      return m && decoderFor(m.channel) ? m : undefined;
    },
    decode(match, payload, receivedAt) {
      const decode = decoderFor(match.channel);
      if (!decode)
        throw new DecodeError(`${family.id}: channel "${match.channel}" is not one this firmware publishes`);
      return decode(payload, { match, receivedAt, where: `${family.id} ${match.channel}` });
    },
    acl(deviceTopic) {
      return {
        publish: Object.keys(family.reports).map((c) => family.layout.join(deviceTopic, c)),
        subscribe: family.listens.map((c) => family.layout.join(deviceTopic, c)),
      };
    },
  };
  if (actions.length > 0) {
    profile.actions = actions;
    profile.encodeCommand = (deviceTopic, action) => {
      const encode = commands[action];
      if (!encode)
        throw new Error(`${family.id} cannot carry out "${action}" (it can: ${actions.join(', ')})`);
      return encode(deviceTopic);
    };
  }
  // Quantities are collected from the blocks the channel decoders were built with (see `blocksOf`).
  for (const decode of Object.values(family.reports)) for (const q of blocksOf(decode)) quantities.add(q);
  profile.quantities = [...quantities];
  return profile;
}

// --- layouts -------------------------------------------------------------------------------------

/** `<root>/<id>/<channel…>`: Shelly Gen1 (`shellies/<id>/…`), Nuki (`nuki/<id>/…`). */
export function rootedLayout(root: string): TopicLayout {
  const prefix = `${root}/`;
  return {
    split(topic) {
      if (!topic.startsWith(prefix)) return undefined;
      const slash = topic.indexOf('/', prefix.length);
      if (slash <= prefix.length || slash === topic.length - 1) return undefined;
      return { deviceTopic: topic.slice(0, slash), channel: topic.slice(slash + 1) };
    },
    join: (deviceTopic, channel) => `${deviceTopic}/${channel}`,
  };
}

// --- channel decoders ----------------------------------------------------------------------------

const BLOCKS = new WeakMap<ChannelDecoder, Quantity[]>();
/** Declares which blocks a hand-written channel decoder reads, so the profile lists their quantities. */
export function carrying(blocks: readonly Capability[], decode: ChannelDecoder): ChannelDecoder {
  BLOCKS.set(
    decode,
    blocks.map((b) => b.quantity),
  );
  return decode;
}
function blocksOf(decode: ChannelDecoder): Quantity[] {
  return BLOCKS.get(decode) ?? [];
}

export function parseJson(payload: Buffer, where: string): unknown {
  const text = payload.toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    throw new DecodeError(`${where}: payload is not valid JSON: ${quote(text)}`);
  }
}

export function parseJsonObject(payload: Buffer, where: string): Record<string, unknown> {
  const value = parseJson(payload, where);
  if (!isObject(value)) throw new DecodeError(`${where}: expected a JSON object, got ${describe(value)}`);
  return value;
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function lookup(obj: Record<string, unknown>, path: readonly string[]): unknown {
  let v: unknown = obj;
  for (const key of path) {
    if (!isObject(v)) return undefined;
    v = v[key];
  }
  return v;
}

/**
 * Reads every block present in a JSON object. Absent (or null: Shelly Gen2 nulls vanished keys) fields
 * are skipped: reports are often partial.
 */
export function readBlocks(
  obj: Record<string, unknown>,
  blocks: readonly Capability[],
  ts: number,
  where: string,
): ProfileReading[] {
  const readings: ProfileReading[] = [];
  for (const block of blocks) {
    for (const path of block.paths) {
      const raw = lookup(obj, path);
      if (raw === undefined || raw === null) continue;
      readings.push({
        quantity: block.quantity,
        value: block.normalise(raw, `${where}: ${path.join('.')}`),
        unit: block.unit,
        ts,
      });
      break;
    }
  }
  return readings;
}

export interface JsonReportOptions {
  /** Candidate device time (epoch ms) from the report, judged by `trustedTime`. */
  time?: (obj: Record<string, unknown>, where: string) => number | undefined;
  /** Reshape the report before the blocks read it (must not mutate `obj`). */
  prepare?: (obj: Record<string, unknown>, where: string) => Record<string, unknown>;
}

/** A JSON object report carrying some of `blocks`. */
export function jsonReport(blocks: readonly Capability[], opts: JsonReportOptions = {}): ChannelDecoder {
  return carrying(blocks, (payload, { receivedAt, where }) => {
    const parsed = parseJsonObject(payload, where);
    const obj = opts.prepare ? opts.prepare(parsed, where) : parsed;
    const ts = trustedTime(opts.time?.(obj, where), receivedAt);
    return { readings: readBlocks(obj, blocks, ts, where) };
  });
}

/** A plain-text topic carrying one value (Shelly Gen1 `relay/0/power`, Nuki `batteryChargeState`). */
export function plainValue(block: Capability): ChannelDecoder {
  return carrying([block], (payload, { receivedAt, where }) => {
    const raw = parsePlain(payload.toString('utf8'), block.kind, where);
    return {
      readings: [
        { quantity: block.quantity, value: block.normalise(raw, where), unit: block.unit, ts: receivedAt },
      ],
    };
  });
}

/** A plain-text availability / last-will topic with the vendor's exact words. */
export function plainAvailability(words: { online: string; offline: string }): ChannelDecoder {
  return (payload, { where }) => {
    const text = payload.toString('utf8').trim();
    if (text === words.online) return { readings: [], availability: 'online' };
    if (text === words.offline) return { readings: [], availability: 'offline' };
    throw new DecodeError(`${where}: expected "${words.online}" or "${words.offline}", got ${quote(text)}`);
  };
}

/** A plain-text topic whose value is one of a few words and carries no quantity (relay state, …). */
export function plainWord(words: readonly string[]): ChannelDecoder {
  return (payload, { where }) => {
    const text = payload.toString('utf8').trim();
    if (!words.includes(text))
      throw new DecodeError(`${where}: expected one of ${words.join('/')}, got ${quote(text)}`);
    return { readings: [] };
  };
}

/** A plain-text number the building does not store (further channels, reactive power, …); still checked. */
export function unusedNumber(): ChannelDecoder {
  return (payload, { where }) => {
    parsePlain(payload.toString('utf8'), 'number', where);
    return { readings: [] };
  };
}

/** A channel the firmware publishes that carries nothing the building measures (info, announce, …). */
export function informational(check?: (payload: Buffer, where: string) => void): ChannelDecoder {
  return (payload, { where }) => {
    check?.(payload, where);
    return { readings: [] };
  };
}

// --- device time ---------------------------------------------------------------------------------

/** A device clock more than this ahead of ours is wrong (not yet NTP-synced, bad RTC). */
const MAX_AHEAD_MS = 5 * 60_000;
/** Retained reports can be old, but a year-old stamp on a live message is a clock that never synced. */
const MAX_BEHIND_MS = 30 * 24 * 3600_000;

/** The device's own time when it is plausible, else the time of receipt. */
export function trustedTime(deviceMs: number | undefined, receivedAt: number): number {
  if (deviceMs === undefined || !Number.isFinite(deviceMs)) return receivedAt;
  if (deviceMs > receivedAt + MAX_AHEAD_MS || deviceMs < receivedAt - MAX_BEHIND_MS) return receivedAt;
  return Math.round(deviceMs);
}

const ZONED_ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:?\d\d)$/;

/**
 * Epoch ms of an ISO 8601 time that names its zone. A local time without zone (Tasmota's default `Time`)
 * cannot be placed on the time line without knowing the device's zone setting, so it is not trusted.
 */
export function zonedIsoTime(text: string): number | undefined {
  if (!ZONED_ISO.test(text)) return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms;
}
