import pino, { type Logger } from 'pino';
import type { Settings } from './settings.ts';

/**
 * The log of a running part. JSON lines for a log collector (docker, systemd); on a terminal, or with
 * LOG_FORMAT=pretty, one readable line per event: `[12:04:31] WARN: gateway: lost the broker (…)`.
 * Both are written synchronously, so the lines of a stopping process are all out before it exits.
 */
export async function openLog(settings: Pick<Settings, 'logLevel' | 'logFormat'>): Promise<Logger> {
  const options = { level: settings.logLevel, base: undefined };
  if (settings.logFormat === 'json') return pino(options);
  // Loaded only for people: a log collector never pays for it.
  const { default: pretty } = await import('pino-pretty');
  return pino(
    options,
    pretty({
      sync: true,
      translateTime: 'SYS:HH:MM:ss',
      singleLine: true,
      ignore: 'part',
      messageFormat: '{if part}{part}: {end}{msg}',
    }),
  );
}
