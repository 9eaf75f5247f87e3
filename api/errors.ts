import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyInstance } from 'fastify';
import Type from 'typebox';

/** Every error the API answers with, whatever went wrong. */
export const ErrorBody = Type.Object(
  {
    statusCode: Type.Integer(),
    error: Type.String(),
    message: Type.String(),
  },
  { description: 'Error: HTTP status, its name, and what to change' },
);

/** An error whose message is meant for the client (unknown ids, invalid ranges, a store that is down). */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

export function errorBody(statusCode: number, message: string) {
  return { statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message };
}

/**
 * One error shape for the whole API. Messages of client errors are passed on (they say what to fix);
 * unexpected failures are logged and answered without internals.
 */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    const status = typeof err.statusCode === 'number' && err.statusCode >= 400 ? err.statusCode : 500;
    if (status >= 500 && !(err instanceof ApiError)) {
      request.log.error({ err }, 'request failed');
      return reply.code(status).send(errorBody(status, 'internal error; see the API log'));
    }
    // Fastify's own words name no remedy; text/plain and forms are refused on purpose (api/app.ts).
    const message =
      err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
        ? `request bodies are JSON: send Content-Type: application/json, not ${String(request.headers['content-type'] ?? 'none').slice(0, 80)}`
        : err.message;
    return reply.code(status).send(errorBody(status, message));
  });
  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send(errorBody(404, `no route ${request.method} ${request.url.split('?')[0]}`));
  });
}

/** Validation messages that say which parameter is wrong and what it accepts. */
export function describeValidation(
  errors: { instancePath: string; message?: string; params?: Record<string, unknown> }[],
  dataVar: string,
): Error {
  const lines = errors.map((e) => {
    const where = e.instancePath ? `${dataVar}${e.instancePath.replaceAll('/', '.')}` : dataVar;
    const allowed = e.params?.allowedValues;
    const suffix = Array.isArray(allowed) ? `: ${allowed.join(', ')}` : '';
    return `${where} ${e.message ?? 'is invalid'}${suffix}`;
  });
  return new Error(lines.join('; '));
}
