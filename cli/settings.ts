import path from 'node:path';
import { DEMO_SITE_FILE } from '../simulations/demo-site.ts';
import type { InfluxConnection } from '../storage/open.ts';

/**
 * Process configuration, from environment variables only (12-factor), so the same code runs as one
 * process on a small machine or as separate containers. Every variable is documented in README.md.
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
  brokerAllowAnonymous: boolean;
  dataDir: string;
  siteFile: string;
  influx: InfluxConnection | undefined;
  /** Simulated seconds per real second. */
  simSpeed: number;
  logLevel: string;
  /** Readable lines for a person (a terminal, LOG_FORMAT=pretty) or JSON lines for a log collector. */
  logFormat: 'pretty' | 'json';
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
function url(env: NodeJS.ProcessEnv, name: string, schemes: string[], example: string): string | undefined {
  const raw = env[name];
  if (!raw) return undefined;
  let scheme: string;
  try {
    scheme = new URL(raw).protocol.slice(0, -1);
  } catch {
    throw new SettingsError(`${name}=${raw} is not a URL (for example ${example})`);
  }
  if (!schemes.includes(scheme))
    throw new SettingsError(`${name}=${raw} must start with ${schemes.map((s) => `${s}://`).join(' or ')}`);
  return raw;
}

function required(env: NodeJS.ProcessEnv, name: string, because: string): string {
  const v = env[name];
  if (!v) throw new SettingsError(`${name} is required ${because}`);
  return v;
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
    brokerAllowAnonymous: flag(env, 'BROKER_ALLOW_ANONYMOUS'),
    dataDir: path.resolve(env.DATA_DIR || 'data'),
    siteFile: path.resolve(env.SITE_FILE || DEMO_SITE_FILE),
    influx,
    simSpeed,
    logLevel,
    logFormat: logFormat(env, terminal),
  };
}
