import t from 'tap';
import { testApi } from '../test-support/api.ts';
import { signedInMember } from '../test-support/members.ts';
import { nonFiniteAt } from './finite-numbers.ts';

/**
 * Every number a route takes in its path or query, found in the schemas the routes registered (so a route
 * added later is probed too): values that are not finite, or outside the schema, are a 400 that names the
 * parameter, never a 500 and never accepted.
 */

interface NumberSchema {
  type?: string | string[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  anyOf?: NumberSchema[];
  oneOf?: NumberSchema[];
}

function numeric(schema: NumberSchema): NumberSchema | undefined {
  const types = [schema.type ?? []].flat();
  if (types.includes('integer') || types.includes('number')) return schema;
  for (const branch of [...(schema.anyOf ?? []), ...(schema.oneOf ?? [])]) {
    const found = numeric(branch);
    if (found) return found;
  }
  return undefined;
}

interface NumericParameter {
  method: string;
  url: string;
  part: 'params' | 'querystring';
  name: string;
  schema: NumberSchema;
}

/** A value the schema accepts, for the request that shows the route itself answers without a 400. */
function validValue(schema: NumberSchema & { default?: number }): number {
  if (typeof schema.default === 'number') return schema.default;
  if (schema.minimum !== undefined) return schema.minimum;
  if (schema.exclusiveMinimum !== undefined) return Math.floor(schema.exclusiveMinimum) + 1;
  return 1;
}

function badValues(schema: NumberSchema): string[] {
  const values = ['Infinity', '-Infinity', '1e309', '1e400', '-1e400', 'NaN', '', 'ten'];
  if ([schema.type].flat().includes('integer')) values.push('1.5');
  if (schema.maximum !== undefined) values.push(String(schema.maximum + 1));
  if (schema.exclusiveMaximum !== undefined) values.push(String(schema.exclusiveMaximum));
  if (schema.minimum !== undefined) values.push(String(schema.minimum - 1));
  if (schema.exclusiveMinimum !== undefined) values.push(String(schema.exclusiveMinimum));
  return values;
}

function requestUrl(route: NumericParameter, value: string): string {
  const encoded = encodeURIComponent(value);
  let url = route.url;
  if (route.part === 'params') url = url.replace(`:${route.name}`, encoded);
  url = url.replace(/:[A-Za-z_]+/g, 'protel-1');
  return route.part === 'querystring' ? `${url}?${route.name}=${encoded}` : url;
}

t.test('nonFiniteAt finds what is not finite, wherever it is', async (t) => {
  t.equal(nonFiniteAt({ days: 3, name: 'x' }), undefined);
  t.equal(nonFiniteAt({ days: Number.POSITIVE_INFINITY }), '/days');
  t.equal(nonFiniteAt({ a: [1, { 'b/c': Number.NaN }] }), '/a/1/b~1c');
  t.equal(nonFiniteAt(Number.NEGATIVE_INFINITY), '/');
  t.equal(nonFiniteAt(null), undefined);
});

t.test(
  'every numeric path and query parameter of every route refuses what is not a finite number in range',
  async (t) => {
    const { app, records } = await testApi(t);
    await app.ready();
    const parameters: NumericParameter[] = [];
    // HEAD follows its GET (and answers without a body to read).
    for (const route of app.accessTable.filter((r) => r.method !== 'HEAD')) {
      const schema = (route.schema ?? {}) as Record<string, { properties?: Record<string, NumberSchema> }>;
      for (const part of ['params', 'querystring'] as const) {
        for (const [name, property] of Object.entries(schema[part]?.properties ?? {})) {
          const number = numeric(property);
          if (number) parameters.push({ method: route.method, url: route.url, part, name, schema: number });
        }
      }
    }
    const found = parameters.map((p) => `${p.method} ${p.url} ${p.name}`);
    // The ones the security probe named must be among those found, or the search itself is broken.
    for (const expected of [
      'GET /api/facility/occupancy-hours hours',
      'GET /api/facility/energy-days days',
      'GET /api/audit limit',
      'GET /api/quarantine limit',
      'GET /api/alerts limit',
      'POST /api/alerts/:id/acknowledge id',
    ])
      t.ok(found.includes(expected), `${expected} is found in the registered schemas`);

    const { cookie } = await signedInMember(app, records, 'admin');
    const problems: string[] = [];
    let refused = 0;
    for (const p of parameters) {
      const method = p.method as 'GET';
      const baseline = await app.inject({
        method,
        url: requestUrl(p, String(validValue(p.schema))),
        headers: { cookie },
      });
      if (baseline.statusCode === 400 || baseline.statusCode >= 500)
        problems.push(
          `${p.method} ${p.url} ${p.name}: a valid value answered ${baseline.statusCode} ${baseline.body}`,
        );
      for (const value of badValues(p.schema)) {
        const res = await app.inject({ method, url: requestUrl(p, value), headers: { cookie } });
        const what = `${p.method} ${requestUrl(p, value)} -> ${res.statusCode}`;
        if (res.statusCode !== 400) problems.push(`${what} (expected 400) ${res.body.slice(0, 120)}`);
        else if (!res.body.includes(`${p.part}.${p.name}`))
          problems.push(`${what} does not name ${p.part}.${p.name}: ${res.body}`);
        else refused++;
      }
    }
    t.same(problems, [], 'every bad number is a 400 naming its parameter');
    t.ok(
      refused >= parameters.length * 8,
      `${refused} bad values refused over ${parameters.length} parameters`,
    );
  },
);
