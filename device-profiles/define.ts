import type { Quantity } from '../building/quantities.ts';
import { FIRST_CHANNEL } from '../building/reading.ts';
import { calendarFieldsExist } from '../site/local-time.ts';
import { type Capability, describe, parsePlain, quote } from './capabilities.ts';
import { valueRefusal } from './command-values.ts';
import {
  type ActionValue,
  type CommandDetails,
  DecodeError,
  type DecodeResult,
  type DeviceAction,
  type DeviceProfile,
  type OutgoingMessage,
  type ProfileReading,
  type TopicMatch,
} from './profile.ts';

/**
 * `defineProfile` turns a family's declarative description into a `DeviceProfile`, so a family's profile is
 * mostly data: where its topics live (a layout), which sub-topics the firmware publishes and which
 * capability blocks each carries, which sub-topics it listens on for commands, and how actions are encoded.
 * The sub-topics the firmware publishes are also its ACL: one list serves decoding and least privilege.
 *
 * A sub-topic (`emeter/1/total`) is where a message travels; a channel (`1`) is the measuring point of the
 * device it speaks of (relay or switch output, meter phase), which every reading carries.
 */

/** How a family lays out its topics around the device's base topic. */
export interface TopicLayout {
  /** Split a topic into the device's base topic and a sub-topic, or undefined if it is not this shape. */
  split(topic: string): TopicMatch | undefined;
  /** Inverse of split: the full topic of `subtopic` (may contain `+`) of the device at `deviceTopic`. */
  join(deviceTopic: string, subtopic: string): string;
}

export interface ReportContext {
  match: TopicMatch;
  /** The channel the sub-topic speaks of (the family's `channelOf`); a report naming its own uses that. */
  channel: string;
  receivedAt: number;
  /** "family sub-topic", for error messages. */
  where: string;
}

export type ReportDecoder = (payload: Buffer, ctx: ReportContext) => DecodeResult;

/** Encodes an action for one channel of the device at `deviceTopic` (its value already checked). */
export type CommandEncoder = (
  deviceTopic: string,
  channel: string,
  details: CommandDetails,
) => OutgoingMessage[];

/** An action that carries a value: its encoder and the value's range from the vendor's documentation. */
export interface ValuedCommand {
  encode: CommandEncoder;
  value: ActionValue;
}

export interface FamilyDescription {
  id: string;
  vendor: string;
  description: string;
  sources: string[];
  reportingIntervalS: number;
  /** The device sleeps between reports: its offline announcements are its sleep (see DeviceProfile). */
  sleeping?: boolean;
  layout: TopicLayout;
  subscriptions: string[];
  /**
   * Sub-topics the firmware publishes (exact, or with `+` for one segment), each with its decoder.
   * Exactly these become the device's publish ACL.
   */
  reports: Record<string, ReportDecoder>;
  /**
   * The channel a sub-topic speaks of (`relay/1/power` → `1`). Absent: the family's devices have one
   * measuring point, channel 0.
   */
  channelOf?: (subtopic: string) => string;
  /** Sub-topics the firmware subscribes to for commands: the device's subscribe ACL. */
  listens: string[];
  /** Actions and their encoding into the vendor's command message(s), with the value of those that take one. */
  commands?: Partial<Record<DeviceAction, CommandEncoder | ValuedCommand>>;
}

interface PatternReport {
  segments: string[];
  decode: ReportDecoder;
}

export function defineProfile(family: FamilyDescription): DeviceProfile {
  const exact = new Map<string, ReportDecoder>();
  const patterns: PatternReport[] = [];
  for (const [subtopic, decode] of Object.entries(family.reports)) {
    if (subtopic.includes('+')) patterns.push({ segments: subtopic.split('/'), decode });
    else exact.set(subtopic, decode);
  }
  const channelOf = family.channelOf ?? (() => FIRST_CHANNEL);
  const decoderFor = (subtopic: string): ReportDecoder | undefined => {
    const found = exact.get(subtopic);
    if (found || patterns.length === 0) return found;
    const segments = subtopic.split('/');
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
    ...(family.sleeping ? { sleeping: true } : {}),
    subscriptions: family.subscriptions,
    match(topic) {
      const m = family.layout.split(topic);
      // A topic of the right shape but on a sub-topic the firmware never publishes (commands, typos,
      // other software) is not this family's message.
      return m && decoderFor(m.subtopic) ? m : undefined;
    },
    decode(match, payload, receivedAt) {
      const decode = decoderFor(match.subtopic);
      if (!decode)
        throw new DecodeError(
          `${family.id}: sub-topic "${match.subtopic}" is not one this firmware publishes`,
        );
      return decode(payload, {
        match,
        channel: channelOf(match.subtopic),
        receivedAt,
        where: `${family.id} ${match.subtopic}`,
      });
    },
    acl(deviceTopic) {
      return {
        publish: Object.keys(family.reports).map((c) => family.layout.join(deviceTopic, c)),
        subscribe: family.listens.map((c) => family.layout.join(deviceTopic, c)),
      };
    },
  };
  if (actions.length > 0) {
    const actionValues: Partial<Record<DeviceAction, ActionValue>> = {};
    for (const action of actions) {
      const command = commands[action];
      if (command && typeof command !== 'function') actionValues[action] = command.value;
    }
    profile.actions = actions;
    if (Object.keys(actionValues).length > 0) profile.actionValues = actionValues;
    profile.encodeCommand = (deviceTopic, action, channel = FIRST_CHANNEL, details = {}) => {
      const command = commands[action];
      if (!command)
        throw new Error(`${family.id} cannot carry out "${action}" (it can: ${actions.join(', ')})`);
      // The gateway refuses such a command before it gets here; this keeps a wrong value off the wire anyway.
      const refusal = valueRefusal(action, details.value, actionValues[action]);
      if (refusal) throw new Error(`${family.id}: ${refusal}`);
      return typeof command === 'function'
        ? command(deviceTopic, channel, details)
        : command.encode(deviceTopic, channel, details);
    };
  }
  // Quantities are collected from the blocks the report decoders were built with (see `blocksOf`).
  for (const decode of Object.values(family.reports)) for (const q of blocksOf(decode)) quantities.add(q);
  profile.quantities = [...quantities];
  return profile;
}

// --- layouts -------------------------------------------------------------------------------------

/** `<root>/<id>/<sub-topic…>`: Shelly Gen1 (`shellies/<id>/…`), Nuki (`nuki/<id>/…`). */
export function rootedLayout(root: string): TopicLayout {
  const prefix = `${root}/`;
  return {
    split(topic) {
      if (!topic.startsWith(prefix)) return undefined;
      const slash = topic.indexOf('/', prefix.length);
      if (slash <= prefix.length || slash === topic.length - 1) return undefined;
      return { deviceTopic: topic.slice(0, slash), subtopic: topic.slice(slash + 1) };
    },
    join: (deviceTopic, subtopic) => `${deviceTopic}/${subtopic}`,
  };
}

/**
 * The channel of sub-topics that number it: `relay/1/power`, `emeter/2/total` (Shelly Gen1),
 * `status/switch:3` (Shelly Gen2, `<component>:<id>`). A sub-topic without a number is the device's own
 * (`temperature`, `online`): channel 0.
 */
export function numberedChannel(subtopic: string): string {
  const m = /(?:^|\/)[a-z0-9_]+(?:\/|:)(\d+)(?:\/|$)/.exec(subtopic);
  return m?.[1] === undefined ? FIRST_CHANNEL : String(Number(m[1]));
}

// --- report decoders ------------------------------------------------------------------------------

const BLOCKS = new WeakMap<ReportDecoder, Quantity[]>();
/** Declares which blocks a hand-written report decoder reads, so the profile lists their quantities. */
export function carrying(blocks: readonly Capability[], decode: ReportDecoder): ReportDecoder {
  BLOCKS.set(
    decode,
    blocks.map((b) => b.quantity),
  );
  return decode;
}
function blocksOf(decode: ReportDecoder): Quantity[] {
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
  channel: string,
): ProfileReading[] {
  const readings: ProfileReading[] = [];
  for (const block of blocks) {
    for (const path of block.paths) {
      const raw = lookup(obj, path);
      if (raw === undefined || raw === null) continue;
      readings.push({
        channel,
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
export function jsonReport(blocks: readonly Capability[], opts: JsonReportOptions = {}): ReportDecoder {
  return carrying(blocks, (payload, { channel, receivedAt, where }) => {
    const parsed = parseJsonObject(payload, where);
    const obj = opts.prepare ? opts.prepare(parsed, where) : parsed;
    const ts = trustedTime(opts.time?.(obj, where), receivedAt);
    return { readings: readBlocks(obj, blocks, ts, where, channel) };
  });
}

/** A plain-text topic carrying one value (Shelly Gen1 `relay/0/power`, Nuki `batteryChargeState`). */
export function plainValue(block: Capability): ReportDecoder {
  return carrying([block], (payload, { channel, receivedAt, where }) => {
    const raw = parsePlain(payload.toString('utf8'), block.kind, where);
    return {
      readings: [
        {
          channel,
          quantity: block.quantity,
          value: block.normalise(raw, where),
          unit: block.unit,
          ts: receivedAt,
        },
      ],
    };
  });
}

/** A plain-text availability / last-will topic with the vendor's exact words. */
export function plainAvailability(words: { online: string; offline: string }): ReportDecoder {
  return (payload, { where }) => {
    const text = payload.toString('utf8').trim();
    if (text === words.online) return { readings: [], availability: 'online' };
    if (text === words.offline) return { readings: [], availability: 'offline' };
    throw new DecodeError(`${where}: expected "${words.online}" or "${words.offline}", got ${quote(text)}`);
  };
}

/**
 * A plain-text topic whose value is one of the vendor's words for a state (Shelly Gen1 `relay/0` `on`,
 * Tasmota `stat/<topic>/POWER` `ON`), read as the building's word of `block`'s quantity.
 */
export function plainState(
  block: Capability,
  words: Readonly<Record<string, string | boolean>>,
): ReportDecoder {
  return carrying([block], (payload, { channel, receivedAt, where }) => {
    const text = payload.toString('utf8').trim();
    const raw = Object.hasOwn(words, text) ? words[text] : undefined;
    if (raw === undefined)
      throw new DecodeError(`${where}: expected one of ${Object.keys(words).join('/')}, got ${quote(text)}`);
    return {
      readings: [
        {
          channel,
          quantity: block.quantity,
          value: block.normalise(raw, where),
          unit: block.unit,
          ts: receivedAt,
        },
      ],
    };
  });
}

/** A plain-text topic whose value is one of a few words and carries no quantity (an input, a status, …). */
export function plainWord(words: readonly string[]): ReportDecoder {
  return (payload, { where }) => {
    const text = payload.toString('utf8').trim();
    if (!words.includes(text))
      throw new DecodeError(`${where}: expected one of ${words.join('/')}, got ${quote(text)}`);
    return { readings: [] };
  };
}

/** A plain-text number the building does not store (reactive power, power factor, …); still checked. */
export function unusedNumber(): ReportDecoder {
  return (payload, { where }) => {
    parsePlain(payload.toString('utf8'), 'number', where);
    return { readings: [] };
  };
}

/** A sub-topic the firmware publishes that carries nothing the building measures (info, announce, …). */
export function informational(check?: (payload: Buffer, where: string) => void): ReportDecoder {
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
  // 30 February would be read as 2 March: a clock that says so is not one to trust.
  return Number.isNaN(ms) || !calendarFieldsExist(text) ? undefined : ms;
}
