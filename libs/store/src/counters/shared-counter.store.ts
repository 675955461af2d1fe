import { Logger } from '@nestjs/common';
import {
  type AppConfig,
  type CounterHit,
  MemorySharedCounter,
  RedisSharedCounter,
  type SharedCounter,
  SharedStoreCounter,
} from '@hookhub/core';
import type { Db } from '../db';

/**
 * One hit, in one statement: the key's row is locked by the upsert, so concurrent hits from any process take
 * turns. Under the lock, the times still in the window are kept ($2 ms, on the server's clock, read after the
 * lock so a hit that waited for it is timed when it is taken) and the hit is appended when fewer than $3 are
 * left. `checked_at` is the time of this hit, taken or not: the hit was taken when it is the last time kept.
 * `expires_at` is when the last kept time leaves the window, after which the row can be swept.
 */
const HIT_SQL = `
  INSERT INTO shared_counters AS c (key, hits, checked_at, expires_at)
  SELECT $1, ARRAY[n.now], n.now, to_timestamp((n.now + $2) / 1000)
  FROM (SELECT extract(epoch FROM clock_timestamp())::float8 * 1000 AS now) n
  ON CONFLICT (key) DO UPDATE SET (hits, checked_at, expires_at) = (
    SELECT k.hits, k.now, to_timestamp((coalesce(k.hits[cardinality(k.hits)], k.now) + $2) / 1000)
    FROM (
      SELECT r.now, CASE WHEN cardinality(r.kept) < $3::int THEN r.kept || r.now ELSE r.kept END AS hits
      FROM (
        SELECT n.now, ARRAY(SELECT h FROM unnest(c.hits) AS h WHERE h > n.now - $2 ORDER BY h) AS kept
        FROM (SELECT extract(epoch FROM clock_timestamp())::float8 * 1000 AS now) n
      ) r
    ) k
  )
  RETURNING c.hits, c.checked_at`;

/** Rows whose every hit has left its window. */
const SWEEP_SQL = `DELETE FROM shared_counters WHERE expires_at < now()`;

const SWEEP_EVERY_MS = 60_000;

/**
 * Counters in the `shared_counters` table, for processes that share a Postgres server but no Redis. A row per
 * key holds the times of the hits in its window (at most the limit), so every hit rewrites that row: fine for
 * the limits people set on webhooks and sources, but Redis is the better store for high rates. Rows are swept
 * once a minute by whichever process counts (any process may; the statement is idempotent).
 */
export class PgSharedCounter extends SharedStoreCounter {
  protected readonly logger = new Logger('SharedCounter');
  private lastSweep = Date.now();

  constructor(private readonly db: Db) {
    super();
  }

  protected async hitShared(key: string, windowMs: number, limit: number): Promise<CounterHit> {
    this.sweepNowAndThen();
    const row = await this.db.one<{ hits: number[]; checked_at: number }>(HIT_SQL, [key, windowMs, limit]);
    if (!row) throw new Error('the counter statement returned no row');
    const hits = row.hits.map(Number);
    const now = Number(row.checked_at);
    const allowed = hits[hits.length - 1] === now;
    return {
      allowed,
      count: hits.length,
      oldestMs: hits[0] ?? now,
      retryAfterMs: allowed ? 0 : Math.max(hits[0] + windowMs - now, 0),
    };
  }

  /** Deletes the expired rows now and then; never holds up a hit, and a failure waits for the next round. */
  private sweepNowAndThen(): void {
    const now = Date.now();
    if (now - this.lastSweep < SWEEP_EVERY_MS) return;
    this.lastSweep = now;
    this.db.exec(SWEEP_SQL).catch((err: unknown) => this.logger.warn(`sweep: ${(err as Error).message}`));
  }
}

/**
 * The process's counter, chosen at boot: Redis when REDIS_URL is set; else the Postgres server every process
 * shares; else (the embedded store, which is one process) this process's memory.
 */
export function createSharedCounter(config: Pick<AppConfig, 'redisUrl'>, db: Db): SharedCounter {
  if (config.redisUrl) return new RedisSharedCounter(config.redisUrl);
  return db.embedded ? new MemorySharedCounter() : new PgSharedCounter(db);
}
