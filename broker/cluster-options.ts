/**
 * What a broker node of a cluster is told (REDIS_URL, REDIS_KEY_PREFIX), apart from the code that connects
 * (cluster.ts): that code, and the Redis client it brings, is loaded only by a node that uses it.
 */

export interface ClusterOptions {
  /** REDIS_URL: redis://[user:password@]host:port[/db]. */
  redisUrl: string;
  /** Every key and pub/sub channel of this installation starts with it (REDIS_KEY_PREFIX). */
  keyPrefix: string;
}

/** The default prefix of an installation: its site id, so two buildings can share one Redis. */
export function defaultKeyPrefix(siteId: string): string {
  return `wesprint:${siteId}:`;
}

/** The URL as a log line may show it: without a password. */
export function redactedRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'redis://(unparseable URL)';
  }
}
