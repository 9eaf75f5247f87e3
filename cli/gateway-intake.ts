import path from 'node:path';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { defaultKeyPrefix, redactedRedisUrl } from '../broker/cluster-options.ts';
import type { DeviceProfile } from '../device-profiles/profile.ts';
import { MovedDeviceRepeatsInRedis } from '../gateway/moved-device-repeats.ts';
import {
  gatewayWorkerClientId,
  intakeClientId,
  type MqttIntake,
  startMqttIntake,
} from '../gateway/mqtt-intake.ts';
import { JOURNAL_FEED_TOPIC } from '../journal/forwarded-entry.ts';
import type { MessageJournal } from '../journal/journal.ts';
import { journalWarnings, openJournal } from '../journal/segment-journal.ts';
import type { SiteConfig } from '../site/site.ts';
import type { Settings } from './settings.ts';

/**
 * `wesprint gateway` against a broker in another process (`wesprint broker`, Mosquitto, EMQX, broker nodes):
 * the gateway's own journal in DATA_DIR/journal, fed by its MQTT intake (gateway/mqtt-intake.ts), which
 * acknowledges each device message to the broker once it is in that journal. The gateway reads the journal
 * as it reads the broker's in `wesprint start`.
 *
 * The intake's persistent session has a client id kept in DATA_DIR (one per worker: several workers sharing
 * MQTT_SHARE_GROUP each need a DATA_DIR of their own). It waits for its broker as long as it takes, with the
 * backoff every part uses (building/broker-connection.ts).
 *
 * With REDIS_URL (the gateway of a cluster of `wesprint broker` nodes) the intake keeps what the nodes forwarded
 * of each device in that Redis (gateway/moved-device-repeats.ts `MovedDeviceRepeatsInRedis`), so that a
 * device's message resent through another node after its node died is recognised even when the gateway was
 * killed in between.
 */
export interface GatewayIntake {
  journal: MessageJournal;
  intake: MqttIntake;
  /**
   * For the worker's gateway (gateway/gateway.ts) when MQTT_SHARE_GROUP is set: its share group and a client
   * id of its own, `wesprint-gateway-<site>-<the intake's suffix>` (kept in DATA_DIR with the intake's), since
   * two workers' gateway clients under the one id `wesprint-gateway-<site>` take each other's connection
   * over. Absent without a share group: the gateway keeps `wesprint-gateway-<site>`, whose clean connect
   * wipes the persistent session of a gateway from before the journal.
   */
  worker?: { clientId: string; shareGroup: string };
  /** Stops the intake (what it is appending gets acknowledged), then closes the journal. */
  close(): Promise<void>;
}

export async function openGatewayIntake(
  settings: Settings,
  site: SiteConfig,
  profiles: Map<string, DeviceProfile>,
  mqttUrl: string,
  account: { username: string; password?: string },
  logger: Logger,
): Promise<GatewayIntake> {
  const journal = await openJournal(path.join(settings.dataDir, 'journal'), journalWarnings(logger));
  const filters = [...profiles.values()].flatMap((p) => p.subscriptions);
  const clientId = intakeClientId(settings.dataDir, site.site.id);
  const redis = settings.redisUrl ? movedRepeatsRedis(settings, site, logger) : undefined;
  let intake: MqttIntake;
  try {
    intake = await startMqttIntake({
      url: mqttUrl,
      ...account,
      clientId,
      filters,
      // A `wesprint broker` forwards its journal there (Mosquitto and EMQX never publish on it).
      journalFeed: JOURNAL_FEED_TOPIC,
      ...(settings.mqttShareGroup ? { shareGroup: settings.mqttShareGroup } : {}),
      ...(redis ? { movedRepeats: new MovedDeviceRepeatsInRedis(redis) } : {}),
      journal,
      logger: logger.child({ part: 'intake' }),
      // Started before its broker (compose start order, a broker restarting): it waits, and says so.
      connectInBackground: true,
    });
  } catch (err) {
    redis?.disconnect();
    await journal.close();
    throw err;
  }
  let closed: Promise<void> | undefined;
  return {
    journal,
    intake,
    ...(settings.mqttShareGroup
      ? { worker: { clientId: gatewayWorkerClientId(clientId), shareGroup: settings.mqttShareGroup } }
      : {}),
    close: () => {
      closed ??= (async () => {
        try {
          await intake.stop();
        } finally {
          redis?.disconnect();
          await journal.close();
        }
      })();
      return closed;
    },
  };
}

/**
 * The intake's Redis client, on REDIS_URL with the installation's key prefix. Commands wait while Redis is away
 * (the offline queue, a few retries), then fail: the intake then acknowledges nothing and the broker resends.
 * One log line when Redis goes away and one when it is back, not one per attempt.
 */
function movedRepeatsRedis(settings: Settings, site: SiteConfig, logger: Logger): Redis {
  const redis = new Redis(settings.redisUrl as string, {
    keyPrefix: settings.redisKeyPrefix ?? defaultKeyPrefix(site.site.id),
  });
  const where = redactedRedisUrl(settings.redisUrl as string);
  let away = false;
  redis.on('error', (err: Error) => {
    if (away) return;
    away = true;
    logger.warn({ err: err.message, redis: where }, "Redis (the intake's moved devices) away; retrying");
  });
  redis.on('ready', () => {
    if (!away) return;
    away = false;
    logger.info({ redis: where }, "Redis (the intake's moved devices) back");
  });
  return redis;
}
