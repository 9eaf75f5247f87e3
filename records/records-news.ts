import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import type { AlertChange, AlertNews } from '../alerts/alert-watch.ts';
import { reconnectDelayMs } from '../building/broker-connection.ts';
import type { PostgresRecords } from '../database/postgres.ts';
import { SESSION_ENDED_CHANNEL } from '../members/sessions.ts';

/**
 * What one API process tells the others about the records, so that their live sockets follow at once: a
 * session ended (its sockets close on every replica, not only on the one that signed out) and an alert
 * opened, updated, cleared or acknowledged (every replica's /api/alerts/live shows it, while only the leader
 * runs the alert watcher). On PostgreSQL by LISTEN/NOTIFY: every replica already shares the database, so no
 * other component is needed (Redis is there only for a broker cluster), and a session's notice is sent by
 * the statement that deletes it, so it is heard only once the sign-out is committed. A notice missed while a
 * replica's listening connection was away is made up for by the sockets' own check every 10 s.
 * On the SQLite file there is one API process: nobody else to tell.
 */
export interface RecordsNews {
  /** Sessions signed out in any process, this one's too (by their stored id, `tokenId`). */
  onSessionEnded(listener: (sessionId: string) => void): () => void;
  /** Alert changes told by other processes. */
  readonly alerts: AlertNews;
  /** Resolves once this process listens (notices sent before are not heard). */
  listening(): Promise<void>;
  close(): Promise<void>;
}

const ALERT_CHANNEL = 'wesprint_alert_changed';

const CHANGES: readonly AlertChange[] = ['opened', 'updated', 'cleared', 'acknowledged'];

/** The SQLite file's: one process, nothing to hear. */
export function quietNews(): RecordsNews {
  return {
    onSessionEnded: () => () => undefined,
    alerts: { tell: () => undefined, listen: () => () => undefined },
    listening: async () => undefined,
    close: async () => undefined,
  };
}

export function postgresNews(
  pool: PostgresRecords,
  logger?: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void },
): RecordsNews {
  // Which process told an alert change: its own are told to its listeners already, by its watcher.
  const origin = randomBytes(6).toString('hex');
  const sessionListeners = new Set<(sessionId: string) => void>();
  const alertListeners = new Set<(id: number, change: AlertChange) => void>();
  let client: pg.PoolClient | undefined;
  let closed = false;
  let failures = 0;
  let timer: NodeJS.Timeout | undefined;
  let listened: () => void = () => undefined;
  const listening = new Promise<void>((resolve) => {
    listened = resolve;
  });

  const hear = (message: pg.Notification) => {
    if (message.channel === SESSION_ENDED_CHANNEL && message.payload) {
      for (const listener of sessionListeners) listener(message.payload);
      return;
    }
    if (message.channel !== ALERT_CHANNEL || !message.payload) return;
    const [from, id, change] = message.payload.split(' ');
    if (from === origin || !CHANGES.includes(change as AlertChange) || !Number.isInteger(Number(id))) return;
    for (const listener of alertListeners) listener(Number(id), change as AlertChange);
  };

  const listen = async () => {
    timer = undefined;
    if (closed) return;
    let taken: pg.PoolClient | undefined;
    try {
      taken = await pool.connect();
      const mine = taken;
      mine.on('notification', hear);
      mine.on('error', (err) => {
        if (client !== mine) return;
        client = undefined;
        mine.release(err);
        logger?.warn({ err: err.message }, 'records news: listening connection lost; listening again');
        again();
      });
      await mine.query(`LISTEN ${SESSION_ENDED_CHANNEL}`);
      await mine.query(`LISTEN ${ALERT_CHANNEL}`);
      if (closed) {
        mine.release();
        return;
      }
      client = mine;
      listened();
      if (failures > 0) logger?.info({}, 'records news: listening again');
      failures = 0;
    } catch (err) {
      taken?.release(err as Error);
      if (failures === 0)
        logger?.warn({ err: (err as Error).message }, 'records news: cannot listen yet; trying again');
      failures++;
      again();
    }
  };
  const again = () => {
    if (closed || timer) return;
    timer = setTimeout(() => void listen(), reconnectDelayMs(failures));
    timer.unref();
  };
  void listen();

  return {
    onSessionEnded(listener) {
      sessionListeners.add(listener);
      return () => void sessionListeners.delete(listener);
    },
    alerts: {
      tell(id, change) {
        pool
          .query('SELECT pg_notify($1, $2)', [ALERT_CHANNEL, `${origin} ${id} ${change}`])
          .catch((err: Error) => logger?.warn({ err: err.message }, 'records news: alert change not told'));
      },
      listen(listener) {
        alertListeners.add(listener);
        return () => void alertListeners.delete(listener);
      },
    },
    listening: () => listening,
    async close() {
      closed = true;
      clearTimeout(timer);
      const mine = client;
      client = undefined;
      if (!mine) return;
      try {
        await mine.query('UNLISTEN *');
        mine.release();
      } catch (err) {
        mine.release(err as Error);
      }
    },
  };
}
