import type pg from 'pg';
import type { PostgresRecords } from '../database/postgres.ts';

/**
 * Which API process does the background work (the check-in and alert watchers, the booking clock, the audit
 * purge, the report warm-up, the demo's bookings ahead). On the SQLite file there is one API process, and it
 * leads. On PostgreSQL every replica asks for one session-level advisory lock, named after the site it serves;
 * the one that holds it leads, the others ask again every `tryEveryMs`. PostgreSQL gives the lock back when
 * the leader's connection ends, also when the process is killed (kill -9 closes its socket): the next
 * follower to ask takes over. The work a leader starts reads what it needs from the records and the stores,
 * never from what the old leader held in memory; and every change it makes is one a store makes for one
 * caller only (a booking checked in while 'booked', an alert opened where none is open, a moment claimed),
 * so a leader that has not yet noticed losing its connection cannot double anything the new one does.
 */

/** What a leader runs, stopped when it stops leading. */
export interface BackgroundWork {
  stop(): Promise<void>;
}

export interface LeaderOptions {
  /** Names the lock: installations sharing one database lead each their own site's work. */
  name: string;
  /** Starts the work; called each time this process becomes the leader. */
  start(): BackgroundWork | Promise<BackgroundWork>;
  /** How often a follower asks for the lock and the leader checks its connection (default 5 s). */
  tryEveryMs?: number;
  logger?: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

export interface Leader {
  /** True while this process runs the background work. */
  readonly leading: boolean;
  /** How many times this process became the leader. */
  readonly terms: number;
  /** Stops the work (if leading) and gives the lock back; resolves once done. */
  stop(): Promise<void>;
}

const DEFAULT_TRY_EVERY_MS = 5000;

/** The one process on the SQLite file: it leads from the start. */
export async function leadAlone(options: LeaderOptions): Promise<Leader> {
  const work = await options.start();
  let stopped: Promise<void> | undefined;
  return {
    leading: true,
    terms: 1,
    stop: () => {
      stopped ??= work.stop();
      return stopped;
    },
  };
}

/**
 * Asks for the advisory lock at once and then every `tryEveryMs`, on a connection of its own taken from the
 * pool and kept; never rejects (PostgreSQL away: it goes on asking, as a follower).
 */
export function leadOnPostgres(pool: PostgresRecords, options: LeaderOptions): Leader {
  return new PostgresLeader(pool, options);
}

class PostgresLeader implements Leader {
  readonly #pool: PostgresRecords;
  readonly #o: LeaderOptions;
  readonly #key: string;
  #client: pg.PoolClient | undefined;
  #work: BackgroundWork | undefined;
  #terms = 0;
  #timer: NodeJS.Timeout | undefined;
  #turn: Promise<void> = Promise.resolve();
  #stopped: Promise<void> | undefined;

  constructor(pool: PostgresRecords, options: LeaderOptions) {
    this.#pool = pool;
    this.#o = options;
    this.#key = `wesprint:leader:${options.name}`;
    this.#next(0);
  }

  get leading(): boolean {
    return this.#work !== undefined;
  }

  get terms(): number {
    return this.#terms;
  }

  stop(): Promise<void> {
    this.#stopped ??= (async () => {
      clearTimeout(this.#timer);
      await this.#turn;
      await this.#resign();
    })();
    return this.#stopped;
  }

  #next(ms: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#turn = this.#turn
        .then(() => this.#ask())
        .finally(() => this.#next(this.#o.tryEveryMs ?? DEFAULT_TRY_EVERY_MS));
    }, ms);
    this.#timer.unref();
  }

  /** One turn: a follower asks for the lock; the leader checks that its connection (and so its lock) is there. */
  async #ask(): Promise<void> {
    if (this.#stopped) return;
    try {
      if (!this.#client) {
        const client = await this.#pool.connect();
        // The connection dropping ends the lock with it: the work stops at once, not at the next turn.
        client.on('error', (err) => {
          if (this.#client !== client) return;
          this.#turn = this.#turn.then(() => this.#lost(err));
        });
        this.#client = client;
      }
      if (this.#work) {
        await this.#client.query('SELECT 1');
        return;
      }
      const { rows } = await this.#client.query<{ got: boolean }>(
        'SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS got',
        [this.#key],
      );
      if (!rows[0]?.got || this.#stopped) return;
      this.#terms++;
      this.#o.logger?.info(
        { leader: this.#o.name, pid: process.pid, term: this.#terms },
        'leading the background work',
      );
      this.#work = await this.#o.start();
    } catch (err) {
      await this.#lost(err as Error);
    }
  }

  /** The connection failed: whatever it held is gone, so is the lead; the next turn asks again on a new one. */
  async #lost(err: Error): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    const wasLeading = this.#work !== undefined;
    await this.#stopWork();
    client?.release(err);
    if (wasLeading)
      this.#o.logger?.warn(
        { leader: this.#o.name, err: err.message },
        'lost the lead (connection to PostgreSQL ended); asking again',
      );
  }

  async #stopWork(): Promise<void> {
    const work = this.#work;
    this.#work = undefined;
    try {
      await work?.stop();
    } catch (err) {
      this.#o.logger?.warn({ err: (err as Error).message }, 'background work: while stopping');
    }
  }

  /** Stopping: the work first, then the lock given back, so a follower takes over at its next turn. */
  async #resign(): Promise<void> {
    const wasLeading = this.#work !== undefined;
    await this.#stopWork();
    const client = this.#client;
    this.#client = undefined;
    if (!client) return;
    try {
      if (wasLeading) await client.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [this.#key]);
      client.release();
    } catch (err) {
      client.release(err as Error);
    }
  }
}
