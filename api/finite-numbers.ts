import type { FastifyRequest } from 'fastify';
import { ApiError } from './errors.ts';

/**
 * Every number the API takes is finite. ajv coerces the strings of a path or query with `+text` and never
 * checks the result again: `?days=Infinity`, `-Infinity` and `1e309` become ±Infinity, pass `type: integer`
 * (Infinity % 1 is NaN) and skip `minimum`/`maximum`, which ajv applies to finite numbers only
 * (ajv-validator/ajv#2212, fastify/fastify#6718; unfixed in ajv 8.20). Rather than each route checking, one
 * hook refuses, after validation and before any handler, a request whose validated parts hold such a number.
 */

/** Where in `data` the first number that is not finite sits, as a JSON pointer (`/days`), or undefined. */
export function nonFiniteAt(data: unknown, at = ''): string | undefined {
  if (typeof data === 'number') return Number.isFinite(data) ? undefined : at || '/';
  if (data === null || typeof data !== 'object') return undefined;
  for (const [key, value] of Object.entries(data)) {
    const found = nonFiniteAt(value, `${at}/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** The request parts as validation errors name them (`querystring.days must be …`). */
const PARTS = { params: 'params', query: 'querystring', body: 'body' } as const;

/** A preHandler hook for the whole API: 400 naming the parameter, as a schema violation would be. */
export async function refuseNonFiniteNumbers(request: FastifyRequest): Promise<void> {
  for (const [part, name] of Object.entries(PARTS) as [keyof typeof PARTS, string][]) {
    const at = nonFiniteAt(request[part]);
    if (at !== undefined)
      throw new ApiError(400, `${name}${at === '/' ? '' : at.replaceAll('/', '.')} must be a finite number`);
  }
}
