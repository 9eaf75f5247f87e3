import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import mqtt from 'mqtt';
import { JOURNAL_FEED_TOPIC } from '../journal/forwarded-entry.ts';
import { loadOrCreateSecrets, SERVICE_USERNAMES, type Secrets } from '../site/credentials.ts';
import { spawnWesprint, type WesprintService, wesprintRunning } from '../test-support/wesprint-process.ts';
import {
  type BrokerSample,
  type IngestEnvironment,
  type IngestOptions,
  ingestEnvironment,
  measurePassThrough,
  median,
} from './ingest.ts';

/**
 * Pass-through of `wesprint broker` nodes sharing one building through Redis (broker/cluster.ts), against one
 * node alone, measured the same way in the same run: real `wesprint broker` processes (lab mode: the forked
 * publisher speaks for every device), the publisher on one node, the gateway's account on the journal feed
 * (each node journals the devices' messages and forwards them to it) with its persistent session (clean=0) on
 * the other, every message counted (bench/ingest.ts,
 * measurePassThrough). Each measurement starts fresh processes and data dirs; the Redis keys of a run carry a
 * prefix of their own and are deleted afterwards.
 *
 * - `oneNode`: one node as it ships without REDIS_URL (LevelDB in DATA_DIR);
 * - `oneNodeRedis`: one node with REDIS_URL (what Redis costs, without a second node);
 * - `twoNodes`: publisher on node A, subscriber on node B (what the hop between nodes costs on top).
 */

export type Layout = 'oneNode' | 'oneNodeRedis' | 'twoNodes';
export const LAYOUTS: readonly Layout[] = ['oneNode', 'oneNodeRedis', 'twoNodes'];

export interface TwoNodeOptions extends IngestOptions {
  /** The Redis the nodes share (default redis://127.0.0.1:6379). */
  redisUrl?: string;
}

export type TwoNodeSamples = Record<Layout, BrokerSample>;

const STARTUP_MS = 120_000;

async function deleteKeys(redisUrl: string, prefix: string): Promise<void> {
  const conn = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  conn.on('error', () => undefined);
  try {
    await conn.connect();
    const keys: string[] = [];
    for await (const batch of conn.scanStream({ match: `${prefix}*`, count: 1000 }))
      keys.push(...(batch as string[]));
    for (let i = 0; i < keys.length; i += 1000) await conn.del(...keys.slice(i, i + 1000));
  } finally {
    conn.disconnect();
  }
}

/** One measurement of `layout` with fresh `wesprint broker` processes. */
export async function measureLayout(
  env: IngestEnvironment,
  options: TwoNodeOptions,
  layout: Layout,
): Promise<BrokerSample> {
  const redisUrl = options.redisUrl ?? 'redis://127.0.0.1:6379';
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `wesprint-bench-${layout}-`));
  const prefix = `wesprint-bench:${randomBytes(6).toString('hex')}:`;
  const siteFile = path.join(dir, 'site.json');
  fs.writeFileSync(siteFile, JSON.stringify(env.site));
  const secrets: Secrets = loadOrCreateSecrets(path.join(dir, 'a'), env.site);
  const nodes: WesprintService[] = [];
  const start = async (name: string, redis: boolean): Promise<string> => {
    const dataDir = path.join(dir, name);
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    fs.writeFileSync(path.join(dataDir, 'secrets.json'), JSON.stringify(secrets), { mode: 0o600 });
    const node = spawnWesprint(['broker'], {
      DATA_DIR: dataDir,
      SITE_FILE: siteFile,
      MQTT_HOST: '127.0.0.1',
      MQTT_PORT: '0',
      MQTT_WS_PORT: '0',
      BROKER_ALLOW_ANONYMOUS: 'true',
      LOG_LEVEL: 'warn',
      LOG_FORMAT: 'json',
      BACKFILL_DAYS: '0',
      ...(redis ? { REDIS_URL: redisUrl, REDIS_KEY_PREFIX: prefix } : { REDIS_URL: '' }),
    });
    nodes.push(node);
    const [, port] = await node.waitFor(/MQTT broker\s+mqtt:\/\/127\.0\.0\.1:(\d+)/, STARTUP_MS);
    return `mqtt://127.0.0.1:${port}`;
  };
  try {
    const urls =
      layout === 'twoNodes'
        ? await Promise.all([start('a', true), start('b', true)])
        : [await start('a', layout === 'oneNodeRedis')];
    const publisherUrl = urls[0] as string;
    const subscriberUrl = urls[urls.length - 1] as string;
    const subscriber = await mqtt.connectAsync(subscriberUrl, {
      clientId: 'bench-subscriber',
      protocolVersion: 4,
      clean: false,
      username: SERVICE_USERNAMES.gateway,
      password: secrets.services.gateway,
      reconnectPeriod: 0,
    });
    // The gateway's account reads the devices' messages on the nodes' journal feed (one forwarded entry per
    // message, broker/journal-feed.ts), as `wesprint gateway` does.
    return await measurePassThrough(publisherUrl, subscriber, [JOURNAL_FEED_TOPIC], options, layout);
  } finally {
    await Promise.all(nodes.map(async (node) => wesprintRunning(node) && (await node.stop('SIGTERM'))));
    if (layout !== 'oneNode') await deleteKeys(redisUrl, prefix).catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * `rounds` rounds, each measuring the three layouts one after the other (alternating, so a busy minute of
 * the machine falls on all of them); returns every sample and the medians.
 */
export async function measureTwoNodes(
  env: IngestEnvironment,
  options: TwoNodeOptions,
  rounds = 3,
  onSample?: (layout: Layout, sample: BrokerSample) => void,
): Promise<{ samples: TwoNodeSamples[]; median: Record<Layout, number> }> {
  const samples: TwoNodeSamples[] = [];
  for (let round = 0; round < rounds; round++) {
    const one = {} as TwoNodeSamples;
    for (const layout of LAYOUTS) {
      one[layout] = await measureLayout(env, options, layout);
      onSample?.(layout, one[layout]);
    }
    samples.push(one);
  }
  const med = (layout: Layout) => median(samples.filter((s) => s[layout].ok).map((s) => s[layout].rate));
  return {
    samples,
    median: { oneNode: med('oneNode'), oneNodeRedis: med('oneNodeRedis'), twoNodes: med('twoNodes') },
  };
}

// `node --import tsx bench/two-nodes.ts [rounds]`: the figures on this machine.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const options: TwoNodeOptions = {
    messages: 20_000,
    window: 1000,
    buildings: 5,
    devicesPerBuilding: 100,
    timeoutMs: 60_000,
    settleMs: 300,
  };
  const env = await ingestEnvironment(options);
  const rounds = Number(process.argv[2] ?? 3);
  console.log(
    `two nodes: ${options.messages} QoS 1 messages per run, window ${options.window}, gateway session (clean=0), ${rounds} rounds`,
  );
  const result = await measureTwoNodes(env, options, rounds, (layout, s) =>
    console.log(
      `  ${layout.padEnd(13)} ${Math.round(s.rate).toString().padStart(6)} msg/s${s.ok ? '' : `  FAILED: ${s.problems.join('; ')}`}`,
    ),
  );
  const m = result.median;
  console.log(
    `medians: one node ${Math.round(m.oneNode)}, one node on Redis ${Math.round(m.oneNodeRedis)}, two nodes ${Math.round(m.twoNodes)} msg/s (two nodes / one node ${(m.twoNodes / m.oneNode).toFixed(2)})`,
  );
  process.exit(0);
}
