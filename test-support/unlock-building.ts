import path from 'node:path';
import pino from 'pino';
import type { Test } from 'tap';
import { type ApiOptions, buildApi } from '../api/app.ts';
import { LockCommands } from '../api/lock-commands.ts';
import { BuildingFeed } from '../building/live-feed.ts';
import { openRecords } from '../database/database.ts';
import { SERVICE_USERNAMES } from '../site/credentials.ts';
import type { SiteConfig } from '../site/site.ts';
import { startRunningGateway } from './running-gateway.ts';
import { eventually } from './small-building.ts';

/**
 * Doors on real parts: the project's broker with its ACL, the gateway with the real Nuki profile, simulated
 * Nuki locks answering over MQTT, the API with its command channel and the records file, all on `site`.
 * Resolves once the API has heard the locks are online.
 */
export async function unlockBuilding(
  t: Test,
  site: SiteConfig,
  locks: readonly string[],
  apiExtra: Partial<Pick<ApiOptions, 'now' | 'publicRateLimit' | 'unlockGraceMs'>> = {},
) {
  const logger = pino({ level: 'silent' });
  const running = await startRunningGateway({
    site,
    dataDirPrefix: 'wesprint-unlock-',
    commandTimeoutMs: 1500,
    simulate: { devices: (d) => locks.includes(d.id), lock: { motorMs: 50, relockAfterMs: 0 } },
    logger,
  });
  const { url, secrets, store, quarantine, profiles, dataDir } = running;
  const api = { username: SERVICE_USERNAMES.api, password: secrets.services.api };
  const feed = new BuildingFeed({ url, ...api, site, logger });
  feed.start();
  const commands = new LockCommands({ url, ...api, site, status: feed, answerTimeoutMs: 5000 });
  commands.start();
  const records = openRecords(path.join(dataDir, 'wesprint.db'));
  const app = await buildApi({
    site,
    store,
    feed,
    quarantine,
    profiles,
    records,
    lockCommands: commands,
    logger,
    ...apiExtra,
  });
  t.teardown(async () => {
    await app.close();
    await commands.close();
    await feed.close();
    records.close();
    await running.stop();
  });
  await feed.waitUntilConnected();
  await commands.waitUntilReady();
  await eventually('locks online', () => locks.every((id) => feed.device(id)?.online === true));
  return { url, app, records, secrets, feed, lock: running.lock, api };
}
