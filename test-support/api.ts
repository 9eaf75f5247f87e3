import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Test } from 'tap';
import { type ApiOptions, buildApi } from '../api/app.ts';
import { BuildingFeed } from '../building/live-feed.ts';
import type { RecordsDb } from '../database/database.ts';
import { Quarantine } from '../gateway/quarantine.ts';
import { SqliteStore } from '../storage/sqlite-store.ts';
import { testRecords } from './members.ts';
import { smallBuilding, testProfiles } from './small-building.ts';

/**
 * The whole API on the small test building, with real stores in a temp dir and a feed whose broker is not
 * there (routes that need readings answer from the empty store). Everything is closed on teardown.
 */
export async function testApi(
  t: Test,
  extra: Partial<Omit<ApiOptions, 'records'>> & { records?: RecordsDb } = {},
) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-api-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const site = extra.site ?? smallBuilding();
  const store = new SqliteStore({ file: path.join(dir, 'readings.db') });
  t.teardown(() => store.close());
  const quarantine = new Quarantine(path.join(dir, 'gateway.db'));
  t.teardown(() => quarantine.close());
  const feed = extra.feed ?? new BuildingFeed({ url: 'mqtt://127.0.0.1:1', site });
  t.teardown(() => feed.close());
  const records = extra.records ?? testRecords(t);
  const app = await buildApi({
    site,
    store,
    feed,
    quarantine,
    profiles: testProfiles(),
    records,
    loginRateLimit: { max: 10_000, timeWindowMs: 60_000 },
    ...extra,
  });
  t.teardown(() => app.close());
  return { app, records, site };
}

/** One request through the API's inject: status, the JSON body (or {}), the text. */
export async function callApi(
  app: FastifyInstance,
  method: string,
  url: string,
  cookie?: string,
  payload?: unknown,
) {
  const response = await app.inject({
    method: method as 'GET',
    url,
    headers: cookie ? { cookie } : {},
    ...(payload !== undefined ? { payload: payload as Record<string, unknown> } : {}),
  });
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(response.body);
  } catch {}
  return { status: response.statusCode, json, text: response.body, headers: response.headers };
}
