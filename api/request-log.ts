import type { FastifyRequest } from 'fastify';

/**
 * What the request log keeps of a request. URLs can carry secrets: a lobby screen's token in `?token=` (a
 * kiosk cannot send headers) and a calendar feed's token as its path (a phone subscribes without signing in).
 * Whoever reads the log must not be able to watch the lobby or read someone's bookings with it.
 */

export const REDACTED = '[redacted]';

/** Query parameters whose value is a secret. */
const SECRET_PARAMETER = /^(token|access_token|api_key|key|secret|password)$/i;
/** The calendar feed: its token is its path. */
const CALENDAR_FEED = /^(\/api\/calendar\/)[^/]+(\.ics)$/;

function parameterName(pair: string): string {
  // URLSearchParams decodes the way the server does (%74oken is token) and never throws on bad escapes.
  return new URLSearchParams(pair).keys().next().value ?? '';
}

/** The URL with every secret replaced by [redacted]; everything else as it came. */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const safePath = path.replace(CALENDAR_FEED, `$1${REDACTED}$2`);
  if (q < 0) return safePath;
  const query = url
    .slice(q + 1)
    .split('&')
    .map((pair) => {
      if (!SECRET_PARAMETER.test(parameterName(pair))) return pair;
      const equals = pair.indexOf('=');
      return `${equals < 0 ? pair : pair.slice(0, equals)}=${REDACTED}`;
    })
    .join('&');
  return `${safePath}?${query}`;
}

/** Fastify's request serializer (method, url, host, address), with the URL redacted. */
export function requestForLog(request: FastifyRequest) {
  return {
    method: request.method,
    url: redactUrl(request.url),
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort,
  };
}
