import path from 'node:path';
import { DEFAULT_AUDIT_RETENTION_DAYS } from '../access/audit-log.ts';
import { DEFAULT_UNLOCK_GRACE_MIN } from '../access/unlock-rules.ts';
import { type AlertSettings, DEFAULT_ALERT_SETTINGS, MINUTE_MS } from '../alerts/alert-rules.ts';
import { trustedOriginsFrom } from '../api/cross-site.ts';
import { DEFAULT_GRACE_MS } from '../bookings/check-in.ts';
import { DEMO_SITE_FILE } from '../simulations/demo-site.ts';
import { DEFAULT_BACKFILL_DAYS, MAX_SPAN_MS } from '../simulations/history/span.ts';
import type { InfluxConnection } from '../storage/open.ts';

/**
 * Process configuration, from environment variables only (12-factor), so the same code runs as one
 * process on a small machine or as separate containers. Every variable is documented in README.md. This is
 * the one place that reads the environment: the parts receive what they need from here.
 */
export interface Settings {
  httpHost: string;
  httpPort: number;
  mqttHost: string;
  mqttPort: number;
  /** True when MQTT_PORT was given explicitly (then a busy port is an error, never a fallback). */
  mqttPortExplicit: boolean;
  mqttWsPort: number;
  /** External broker URL: when set, the built-in broker is not started and the gateway connects here. */
  mqttUrl: string | undefined;
  mqttUsername: string | undefined;
  mqttPassword: string | undefined;
  /**
   * `wesprint gateway` against another broker: the MQTT 5 share group its intake subscribes in
   * (`$share/<group>/<filter>`, MQTT_SHARE_GROUP), so that several gateway workers, each with its own
   * DATA_DIR, share the devices' messages. Unset: one worker, MQTT 3.1.1.
   */
  mqttShareGroup: string | undefined;
  brokerAllowAnonymous: boolean;
  /**
   * REDIS_URL: the built-in broker is a node of a cluster, its sessions, queues and retained messages in this
   * Redis, shared with the other `wesprint broker` nodes of the building (unset: one node, state in DATA_DIR);
   * `wesprint gateway` of such a cluster keeps there what the nodes forwarded of each device
   * (gateway/moved-device-repeats.ts).
   */
  redisUrl: string | undefined;
  /** REDIS_KEY_PREFIX: what every key and channel of this installation starts with (unset: wesprint:<site id>:). */
  redisKeyPrefix: string | undefined;
  dataDir: string;
  /** SITE_FILE: the one site (default: the demo's department store). */
  /**
   * DATABASE_URL: the records (members, sessions, tokens, sign-in waits, bookings, audit log, alerts) in this
   * PostgreSQL database instead of the SQLite file DATA_DIR/wesprint.db.
   */
  databaseUrl: string | undefined;
  siteFile: string;
  /** SITE_FILE was set (not the demo's default). */
  siteFileExplicit: boolean;
  /**
   * SITES_DIR: a folder of site files, a network of sites served by this installation (site/network.ts);
   * unset: the one site of SITE_FILE. `--sites N` (start, simulate) takes its first N files, and without
   * SITES_DIR the demo network's (simulations/network/).
   */
  sitesDir: string | undefined;
  /** `--sites N`: only the first N site files of the folder. */
  sitesLimit?: number;
  influx: InfluxConnection | undefined;
  /** Simulated seconds per real second. */
  simSpeed: number;
  /** Days of history the first `wesprint start` writes (BACKFILL_DAYS; default 430; 0: none). */
  backfillDays: number;
  logLevel: string;
  /** Readable lines for a person (a terminal, LOG_FORMAT=pretty) or JSON lines for a log collector. */
  logFormat: 'pretty' | 'json';
  /** Lab mode: filters anonymous clients may not subscribe to (BROKER_DENY_SUBSCRIBE, comma-separated). */
  brokerDenySubscribe: string[];
  /** The administrator created on the first start (ADMIN_EMAIL; unset: admin@<site id>.local). */
  adminEmail: string | undefined;
  /** Behind a TLS-terminating proxy (TRUST_PROXY: true or the proxy's address), Fastify's trustProxy. */
  trustProxy: boolean | string | undefined;
  /** Origins browsers reach the API by when a proxy rewrites Host (TRUSTED_ORIGINS, comma-separated). */
  trustedOrigins: string[];
  /** The lobby without a token, for anyone (LOBBY_PUBLIC=true). */
  lobbyPublic: boolean;
  /** The built dashboard the API serves (DASHBOARD_DIR; unset: dashboard/dist). */
  dashboardDir: string | undefined;
  /** How long before a booking's start its lock opens (UNLOCK_GRACE_MIN, minutes 0 … 120; default 10). */
  unlockGraceMs: number;
  /** Audit entries kept this many days (AUDIT_RETENTION_DAYS, whole days, at least 1; default 365). */
  auditRetentionDays: number;
  /** A booking nobody is seen in this long after its start is released (CHECKIN_GRACE_MIN; default 15). */
  checkInGraceMs: number;
  /** When the facility manager is told (ALERT_*). */
  alerts: AlertSettings;
  /**
   * The embedded Node-RED of `wesprint start` (NODE_RED=false: none), its editor on NODE_RED_HOST (default
   * HTTP_HOST) and NODE_RED_PORT (default 1880), for administrators only. A busy default port moves on
   * (1881, …) as the demo's MQTT port does; NODE_RED_PORT given explicitly never moves.
   */
  nodeRed: { enabled: boolean; host: string; port: number; portExplicit: boolean };
}

export class SettingsError extends Error {
  override name = 'SettingsError';
}

function port(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new SettingsError(`${name}=${raw} is not a port number`);
  return n;
}

function flag(env: NodeJS.ProcessEnv, name: string): boolean {
  const raw = (env[name] ?? '').toLowerCase();
  if (raw === '' || raw === 'false' || raw === '0' || raw === 'no') return false;
  if (raw === 'true' || raw === '1' || raw === 'yes') return true;
  throw new SettingsError(`${name}=${env[name]} must be true or false`);
}

/** A URL with one of the given schemes, or undefined when the variable is unset. */
function url(
  env: NodeJS.ProcessEnv,
  name: string,
  schemes: string[],
  example: string,
  /** The URL may carry a password: the message names the variable only. */
  secret = false,
): string | undefined {
  const raw = env[name];
  if (!raw) return undefined;
  const shown = secret ? name : `${name}=${raw}`;
  let scheme: string;
  try {
    scheme = new URL(raw).protocol.slice(0, -1);
  } catch {
    throw new SettingsError(`${shown} is not a URL (for example ${example})`);
  }
  if (!schemes.includes(scheme))
    throw new SettingsError(`${shown} must start with ${schemes.map((s) => `${s}://`).join(' or ')}`);
  return raw;
}

function required(env: NodeJS.ProcessEnv, name: string, because: string): string {
  const v = env[name];
  if (!v) throw new SettingsError(`${name} is required ${because}`);
  return v;
}

/** A number within [min, max], or the fallback when the variable is unset or blank. */
function number(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max)
    throw new SettingsError(`${name} must be a number between ${min} and ${max}, not "${raw}"`);
  return value;
}

/**
 * ALERT_CO2_PPM, ALERT_CO2_MINUTES, ALERT_UNLOCKED_MINUTES, ALERT_NIGHT_LOAD_PERCENT, ALERT_NIGHT_LOAD_MIN_W.
 * Minutes may be fractions and 0 (tests and demos do not wait a quarter of an hour).
 */
function alertSettings(env: NodeJS.ProcessEnv): AlertSettings {
  const d = DEFAULT_ALERT_SETTINGS;
  return {
    co2Ppm: number(env, 'ALERT_CO2_PPM', d.co2Ppm, 400, 10_000),
    co2Ms: number(env, 'ALERT_CO2_MINUTES', d.co2Ms / MINUTE_MS, 0, 24 * 60) * MINUTE_MS,
    unlockedMs: number(env, 'ALERT_UNLOCKED_MINUTES', d.unlockedMs / MINUTE_MS, 0, 7 * 24 * 60) * MINUTE_MS,
    nightShare: number(env, 'ALERT_NIGHT_LOAD_PERCENT', d.nightShare * 100, 0, 1000) / 100,
    nightMinW: number(env, 'ALERT_NIGHT_LOAD_MIN_W', d.nightMinW, 0, 10_000_000),
    nightBaselineNights: d.nightBaselineNights,
  };
}

/** UNLOCK_GRACE_MIN (minutes, 0 … 120); default 10. */
function unlockGraceMs(env: NodeJS.ProcessEnv): number {
  const raw = env.UNLOCK_GRACE_MIN;
  if (raw === undefined || raw === '') return DEFAULT_UNLOCK_GRACE_MIN * MINUTE_MS;
  const minutes = Number(raw);
  if (!Number.isFinite(minutes) || minutes < 0 || minutes > 120)
    throw new SettingsError(`UNLOCK_GRACE_MIN=${raw} must be a number of minutes from 0 to 120`);
  return minutes * MINUTE_MS;
}

/** AUDIT_RETENTION_DAYS (whole days, at least 1); default 365. */
function auditRetentionDays(env: NodeJS.ProcessEnv): number {
  const raw = env.AUDIT_RETENTION_DAYS;
  if (raw === undefined || raw === '') return DEFAULT_AUDIT_RETENTION_DAYS;
  const days = Number(raw);
  if (!Number.isInteger(days) || days < 1)
    throw new SettingsError(`AUDIT_RETENTION_DAYS=${raw} must be a whole number of days, at least 1`);
  return days;
}

/** CHECKIN_GRACE_MIN (whole minutes, 1 … 1440); default 15. */
function checkInGraceMs(env: NodeJS.ProcessEnv): number {
  const raw = env.CHECKIN_GRACE_MIN;
  if (raw === undefined || raw.trim() === '') return DEFAULT_GRACE_MS;
  const minutes = Number(raw);
  if (!Number.isInteger(minutes) || minutes < 1 || minutes > 24 * 60)
    throw new SettingsError(`CHECKIN_GRACE_MIN must be whole minutes between 1 and 1440, not "${raw}"`);
  return minutes * MINUTE_MS;
}

function backfillDays(env: NodeJS.ProcessEnv): number {
  const raw = env.BACKFILL_DAYS;
  if (raw === undefined || raw.trim() === '') return DEFAULT_BACKFILL_DAYS;
  const days = Number(raw);
  const most = MAX_SPAN_MS / 86_400_000;
  if (!Number.isInteger(days) || days < 0 || days > most)
    throw new SettingsError(`BACKFILL_DAYS=${raw} must be whole days from 0 (none) to ${most}`);
  return days;
}

/**
 * REDIS_KEY_PREFIX: letters, digits and `. _ : -` only, as it also starts the nodes' pub/sub channel patterns,
 * where `* ? [ ]` would be wildcards and `/ + #` MQTT topic syntax.
 */
function redisKeyPrefix(env: NodeJS.ProcessEnv): string | undefined {
  const raw = env.REDIS_KEY_PREFIX;
  if (!raw) return undefined;
  if (!/^[A-Za-z0-9._:-]+$/.test(raw))
    throw new SettingsError(`REDIS_KEY_PREFIX=${raw} may hold letters, digits and . _ : - only`);
  return raw;
}

/** MQTT_SHARE_GROUP: a topic level of its own, so no '/', '+' or '#' [MQTT-4.8.2-1]. */
function shareGroup(env: NodeJS.ProcessEnv): string | undefined {
  const raw = env.MQTT_SHARE_GROUP;
  if (raw === undefined || raw.trim() === '') return undefined;
  if (/[/+#\s]/.test(raw))
    throw new SettingsError(`MQTT_SHARE_GROUP=${raw} must be one word without '/', '+', '#' or spaces`);
  return raw;
}

function sitesDir(env: NodeJS.ProcessEnv): string | undefined {
  if (!env.SITES_DIR) return undefined;
  if (env.SITE_FILE)
    throw new SettingsError(
      'SITE_FILE and SITES_DIR are both set: SITE_FILE is one site, SITES_DIR a network of them',
    );
  return path.resolve(env.SITES_DIR);
}

/** DATABASE_URL: postgres:// or postgresql://, with a host and a database name. */
function databaseUrl(env: NodeJS.ProcessEnv): string | undefined {
  const example = 'postgres://wesprint@db:5432/wesprint';
  const raw = url(env, 'DATABASE_URL', ['postgres', 'postgresql'], example, true);
  if (raw === undefined) return undefined;
  const parsed = new URL(raw);
  // The message never repeats the URL: it may hold a password.
  if (!parsed.hostname || parsed.pathname.length <= 1)
    throw new SettingsError(`DATABASE_URL needs a host and a database name, for example ${example}`);
  return raw;
}

/** A comma-separated list, blanks dropped. */
function list(env: NodeJS.ProcessEnv, name: string): string[] {
  return (env[name] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function logFormat(env: NodeJS.ProcessEnv, terminal: boolean): Settings['logFormat'] {
  const raw = (env.LOG_FORMAT ?? '').toLowerCase();
  if (raw === '') return terminal ? 'pretty' : 'json';
  if (raw === 'pretty' || raw === 'json') return raw;
  throw new SettingsError(`LOG_FORMAT=${env.LOG_FORMAT} must be pretty or json`);
}

/** `terminal`: whether stdout is a terminal (then the log is readable lines unless LOG_FORMAT says json). */
export function readSettings(
  env: NodeJS.ProcessEnv = process.env,
  terminal: boolean = process.stdout.isTTY === true,
): Settings {
  const influxUrl = url(env, 'INFLUX_URL', ['http', 'https'], 'http://influxdb:8086');
  let influx: Settings['influx'];
  if (influxUrl) {
    const api = (env.INFLUX_API ?? 'v1').toLowerCase();
    if (api === 'v1') {
      influx = {
        api: 'v1',
        url: influxUrl,
        database: env.INFLUX_DATABASE || 'wesprint',
        ...(env.INFLUX_USERNAME ? { username: env.INFLUX_USERNAME } : {}),
        ...(env.INFLUX_PASSWORD ? { password: env.INFLUX_PASSWORD } : {}),
      };
    } else if (api === 'v2') {
      const because = 'when INFLUX_API=v2';
      influx = {
        api: 'v2',
        url: influxUrl,
        org: required(env, 'INFLUX_ORG', because),
        bucket: required(env, 'INFLUX_BUCKET', because),
        token: required(env, 'INFLUX_TOKEN', because),
      };
    } else {
      throw new SettingsError(`INFLUX_API=${env.INFLUX_API} must be v1 or v2`);
    }
  }
  // Real time by default: live readings, bookings, the lobby and the backfilled history share one clock.
  const logLevel = (env.LOG_LEVEL || 'info').toLowerCase();
  if (!LOG_LEVELS.includes(logLevel))
    throw new SettingsError(`LOG_LEVEL=${env.LOG_LEVEL} must be one of ${LOG_LEVELS.join(', ')}`);
  const simSpeed = Number(env.SIM_SPEED ?? '1');
  if (!(simSpeed > 0)) throw new SettingsError(`SIM_SPEED=${env.SIM_SPEED} must be a positive number`);
  return {
    httpHost: env.HTTP_HOST || '127.0.0.1',
    httpPort: port(env, 'HTTP_PORT', 8080),
    mqttHost: env.MQTT_HOST || '0.0.0.0',
    mqttPort: port(env, 'MQTT_PORT', 1883),
    mqttPortExplicit: Boolean(env.MQTT_PORT),
    mqttWsPort: port(env, 'MQTT_WS_PORT', 8083),
    mqttUrl: url(env, 'MQTT_URL', ['mqtt', 'mqtts', 'ws', 'wss'], 'mqtt://broker:1883'),
    mqttUsername: env.MQTT_USERNAME || undefined,
    mqttPassword: env.MQTT_PASSWORD || undefined,
    mqttShareGroup: shareGroup(env),
    brokerAllowAnonymous: flag(env, 'BROKER_ALLOW_ANONYMOUS'),
    redisUrl: url(env, 'REDIS_URL', ['redis', 'rediss'], 'redis://redis:6379'),
    redisKeyPrefix: redisKeyPrefix(env),
    dataDir: path.resolve(env.DATA_DIR || 'data'),
    databaseUrl: databaseUrl(env),
    siteFile: path.resolve(env.SITE_FILE || DEMO_SITE_FILE),
    siteFileExplicit: Boolean(env.SITE_FILE),
    sitesDir: sitesDir(env),
    influx,
    simSpeed,
    backfillDays: backfillDays(env),
    logLevel,
    logFormat: logFormat(env, terminal),
    brokerDenySubscribe: list(env, 'BROKER_DENY_SUBSCRIBE'),
    adminEmail: env.ADMIN_EMAIL,
    trustProxy: env.TRUST_PROXY ? (env.TRUST_PROXY === 'true' ? true : env.TRUST_PROXY) : undefined,
    trustedOrigins: trustedOriginsFrom(env.TRUSTED_ORIGINS),
    lobbyPublic: env.LOBBY_PUBLIC === 'true',
    dashboardDir: env.DASHBOARD_DIR || undefined,
    unlockGraceMs: unlockGraceMs(env),
    auditRetentionDays: auditRetentionDays(env),
    checkInGraceMs: checkInGraceMs(env),
    alerts: alertSettings(env),
    nodeRed: {
      enabled: env.NODE_RED === undefined || env.NODE_RED === '' ? true : flag(env, 'NODE_RED'),
      host: env.NODE_RED_HOST || env.HTTP_HOST || '127.0.0.1',
      port: port(env, 'NODE_RED_PORT', 1880),
      portExplicit: Boolean(env.NODE_RED_PORT),
    },
  };
}
