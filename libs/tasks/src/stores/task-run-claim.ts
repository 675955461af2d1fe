import { hostname } from 'node:os';
import type { EntityManager } from 'typeorm';
import { type ClaimedRow, type Db, DUE_BY } from '@hookhub/store';
import type { ConcurrencyPolicy } from '../entities/program.entity';

/** This host's name, recorded on each run it claims. */
const HOSTNAME = hostname();

/** How many times one claim picks again after runs it looked at were parked or canceled instead of started. */
const MAX_ROUNDS = 4;
/** Ruled runs a claim looks at beyond the ones it may start: blocked runs are parked a batch at a time. */
const LOOK_AHEAD = 32;

const DROPPED = 'dropped: a run with the same concurrency key was in progress (policy drop)';
const REPLACED = 'replaced by a newer run with the same concurrency key (policy replace)';

/**
 * Picks due runs of the worker's queues and starts the free ones in the same statement. Two kinds are
 * picked, both with `FOR UPDATE SKIP LOCKED` on an index that holds exactly them: runs whose lease expired
 * (their worker stopped: `recovered`, started again so the worker can record what happened) and due runs that
 * are not parked, oldest first, per queue. A run with a concurrency key or whose program has a concurrency
 * limit is "ruled": it comes back unstarted, for {@link TaskRunClaim.rule}. `$2` runs are looked at (free
 * ones beyond `$6`, the claim's room, are left alone).
 */
const PICK_SQL = `
  WITH expired AS (
    SELECT t.id FROM task_runs t
    WHERE t.status = 'running' AND t.locked_until < now() AND t.queue = ANY($1::text[])
    ORDER BY t.locked_until LIMIT $2
    FOR UPDATE SKIP LOCKED
  ), due AS (
    SELECT c.id, c.run_at FROM unnest($1::text[]) AS q(name)
    CROSS JOIN LATERAL (
      SELECT t.id, t.run_at FROM task_runs t
      WHERE t.queue = q.name AND t.status = 'queued' AND t.parked_on IS NULL AND t.run_at <= ${DUE_BY}
      ORDER BY t.run_at, t.id LIMIT $2
      FOR UPDATE SKIP LOCKED
    ) c
  ), picked AS (
    SELECT id, recovered FROM (
      SELECT id, true AS recovered, 0 AS o, NULL::timestamptz AS run_at FROM expired
      UNION ALL SELECT id, false, 1, run_at FROM due
    ) x ORDER BY o, run_at, id LIMIT $2
  ), info AS (
    SELECT p.id, p.recovered, pr.concurrency_limit, pr.concurrency_policy,
      NOT p.recovered AND (t.concurrency_key IS NOT NULL OR pr.concurrency_limit IS NOT NULL) AS ruled,
      t.run_at
    FROM picked p JOIN task_runs t ON t.id = p.id LEFT JOIN programs pr ON pr.id = t.program_id
  ), ranked AS (
    SELECT i.*, row_number() OVER (PARTITION BY i.ruled ORDER BY NOT i.recovered, i.run_at, i.id) AS n FROM info i
  ), started AS (
    -- clock_timestamp(): now() is when this transaction began.
    UPDATE task_runs t
    SET status = 'running', locked_by = $3, locked_until = now() + ($4::int * interval '1 millisecond'),
        attempts = t.attempts + 1, updated_at = now(), worker_id = $3, worker_hostname = $5,
        started_at = CASE WHEN i.recovered THEN t.started_at ELSE clock_timestamp() END
    FROM ranked i WHERE t.id = i.id AND NOT i.ruled AND i.n <= $6
    RETURNING t.*, i.recovered
  )
  SELECT s.*, false AS ruled, NULL::int AS rule_limit, NULL::text AS rule_policy FROM started s
  UNION ALL
  SELECT t.*, false, true, i.concurrency_limit, i.concurrency_policy
  FROM ranked i JOIN task_runs t ON t.id = i.id WHERE i.ruled
  ORDER BY run_at, id`;

/** Starts one ruled run the rules allow (the caller holds its key's and program's locks). */
const START_ONE_SQL = `
  UPDATE task_runs t
  SET status = 'running', locked_by = $2, locked_until = now() + ($3::int * interval '1 millisecond'),
      attempts = t.attempts + 1, updated_at = now(), worker_id = $2, worker_hostname = $4, parked_on = NULL,
      started_at = clock_timestamp()
  WHERE t.id = $1
  RETURNING t.*, false AS recovered`;

/**
 * Where a ruled run stands, read after its locks were taken (a statement of its own, so it sees every run
 * committed before): whether its key is running, how many runs of its program are, and whether a newer run
 * with its key is queued. Each is an index lookup bounded by the limits, not by the backlog.
 */
const STANDING_SQL = `
  SELECT
    ($1::text IS NOT NULL AND EXISTS (SELECT 1 FROM task_runs r WHERE r.concurrency_key = $1 AND r.status = 'running'
       AND r.locked_until >= now())) AS key_busy,
    CASE WHEN $2::uuid IS NULL THEN 0 ELSE (SELECT count(*) FROM task_runs r WHERE r.program_id = $2
       AND r.status = 'running' AND r.locked_until >= now()) END::int AS program_running,
    ($1::text IS NOT NULL AND EXISTS (SELECT 1 FROM task_runs r WHERE r.concurrency_key = $1 AND r.status = 'queued'
       AND (r.created_at, r.id) > ($3::timestamptz, $4::uuid))) AS newer_queued`;

/** Unparks the oldest run parked on a key (`$1`) or on a program (`$2`). */
const UNPARK_KEY_SQL = `
  UPDATE task_runs SET parked_on = NULL, updated_at = now()
  WHERE id = (SELECT id FROM task_runs WHERE status = 'queued' AND parked_on = 'key' AND concurrency_key = $1
              ORDER BY run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)`;
const UNPARK_PROGRAM_SQL = `
  UPDATE task_runs SET parked_on = NULL, updated_at = now()
  WHERE id = (SELECT id FROM task_runs WHERE status = 'queued' AND parked_on = 'program' AND program_id = $1
              ORDER BY run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)`;

/**
 * The advisory lock of a concurrency key or of a program's limit, for the statement parameter `$n`: only their
 * own claimers and finishers meet on it.
 */
const keyLock = (n: number): string => `hashtextextended('hookhub:task-key:' || $${n}, 0)`;
const programLock = (n: number): string => `hashtextextended('hookhub:task-program:' || $${n}, 0)`;

interface Picked extends ClaimedRow {
  ruled: boolean;
  rule_limit: number | null;
  rule_policy: ConcurrencyPolicy | null;
  concurrency_key: string | null;
  program_id: string | null;
  created_at: Date;
}

/** What one claim did besides starting runs. */
export interface ClaimResult {
  started: ClaimedRow[];
  /** Running runs asked to stop (policy replace): tell the workers. */
  cancelsRequested: number;
}

/**
 * The task queue's claim. Its cost follows the runs it starts, not the backlog, and no claimer waits for
 * another:
 *
 * - Free runs (no concurrency key, no program limit) are picked and started in one statement, from an index
 *   that holds only claimable runs.
 * - A ruled run is checked under its own advisory locks (its key's, its program's), taken with `try`: a
 *   claimer that cannot take them leaves the run for the claimer or finisher that holds them. So two
 *   claimers never start two runs of one key or pass a program's limit, yet claimers of other keys and
 *   programs never wait for each other.
 * - A ruled run that may not start now is parked (`parked_on`): out of the claim index until the run that
 *   holds it back finishes and unparks the next one ({@link unparkAfter}, under the same locks, so no
 *   wake-up is lost). Policies apply when the run is looked at: `drop` cancels it while its key runs,
 *   `replace` cancels it when a newer run with its key is queued, and otherwise asks the running one to stop
 *   and cancels the older queued ones.
 */
export class TaskRunClaim {
  constructor(private readonly db: Db) {}

  async claim(
    workerId: string,
    limit: number,
    leaseMs: number,
    queues: readonly string[],
    m: EntityManager,
  ): Promise<ClaimResult> {
    const result: ClaimResult = { started: [], cancelsRequested: 0 };
    for (let round = 0; round < MAX_ROUNDS && result.started.length < limit; round++) {
      const picked = await this.db.prepared<Picked>(
        'hookhub_task_pick',
        PICK_SQL,
        [
          queues,
          limit - result.started.length + LOOK_AHEAD,
          workerId,
          leaseMs,
          HOSTNAME,
          limit - result.started.length,
        ],
        m,
      );
      let disposed = 0;
      // Every free run the statement returned is started already: all of them go to the worker.
      for (const row of picked) if (!row.ruled) result.started.push(row);
      // Ruled runs: started while there is room; looked at anyway after that, so blocked ones are parked.
      for (const row of picked) {
        if (!row.ruled) continue;
        const outcome = await this.rule(row, workerId, leaseMs, result.started.length < limit, m);
        if (outcome === 'skipped') continue;
        if (typeof outcome === 'object') result.started.push(outcome.started);
        else {
          disposed++;
          result.cancelsRequested += outcome === 'parked-replacing' ? 1 : 0;
        }
      }
      // Picked runs that were parked or canceled made room in the index: look again, the next due runs may start.
      if (disposed === 0) break;
    }
    return result;
  }

  /**
   * Decides one ruled run: starts it (when `mayStart`), parks it, cancels it, or skips it (it stays
   * claimable) when another claimer or finisher holds its locks or the claim has no room left.
   */
  private async rule(
    row: Picked,
    workerId: string,
    leaseMs: number,
    mayStart: boolean,
    m: EntityManager,
  ): Promise<{ started: ClaimedRow } | 'parked' | 'parked-replacing' | 'canceled' | 'skipped'> {
    const key = row.concurrency_key;
    const program = row.rule_limit !== null ? row.program_id : null;
    const [lock] = await this.db.rows<{ ok: boolean }>(
      `SELECT CASE WHEN $1::text IS NULL OR pg_try_advisory_xact_lock(${keyLock(1)})
                   THEN $2::uuid IS NULL OR pg_try_advisory_xact_lock(${programLock(2)}) ELSE false END AS ok`,
      [key, program],
      m,
    );
    if (!lock.ok) return 'skipped';
    const [standing] = await this.db.rows<{ key_busy: boolean; program_running: number; newer_queued: boolean }>(
      STANDING_SQL,
      [key, program, row.created_at, row.id],
      m,
    );
    const programFull = row.rule_limit !== null && standing.program_running >= row.rule_limit;
    if (key && row.rule_policy === 'drop' && standing.key_busy) {
      await this.cancel(row.id, DROPPED, m);
      return 'canceled';
    }
    if (key && row.rule_policy === 'replace') {
      if (standing.newer_queued) {
        await this.cancel(row.id, REPLACED, m);
        return 'canceled';
      }
      // The newest run of its key: the older queued ones give way to it.
      await this.db.exec(
        `UPDATE task_runs SET status = 'canceled', finished_at = now(), updated_at = now(), last_error = $3
         WHERE id IN (SELECT id FROM task_runs WHERE concurrency_key = $1 AND status = 'queued' AND id <> $2
                        AND created_at <= $4 FOR UPDATE SKIP LOCKED)`,
        [key, row.id, REPLACED, row.created_at],
        m,
      );
    }
    if (key && standing.key_busy) {
      let asked = 0;
      if (row.rule_policy === 'replace') {
        // A run being finished right now holds its row: it is stopping anyway, so it is skipped, not waited for.
        asked = await this.db.exec(
          `UPDATE task_runs SET cancel_requested_at = now(), updated_at = now(), last_error = $2
           WHERE id IN (SELECT id FROM task_runs WHERE concurrency_key = $1 AND status = 'running'
                          AND cancel_requested_at IS NULL FOR UPDATE SKIP LOCKED)`,
          [key, REPLACED],
          m,
        );
      }
      await this.park(row.id, 'key', m);
      // It may have been unparked by its program's slot, which it does not use now: pass that slot on.
      if (program && !programFull) await this.db.exec(UNPARK_PROGRAM_SQL, [program], m);
      return asked > 0 ? 'parked-replacing' : 'parked';
    }
    if (programFull) {
      await this.park(row.id, 'program', m);
      if (key) await this.db.exec(UNPARK_KEY_SQL, [key], m);
      return 'parked';
    }
    if (!mayStart) return 'skipped';
    const [started] = await this.db.rows<ClaimedRow>(START_ONE_SQL, [row.id, workerId, leaseMs, HOSTNAME], m);
    return { started };
  }

  /**
   * After a run that held a key or a program slot stopped (in the transaction that records it): unparks the
   * next run parked on each, under the same locks the claim takes, so a claim that saw the run still going
   * and parked one cannot commit in between. Blocking locks, always key then program: finishers wait for
   * each other briefly, claimers never wait. Returns how many runs were unparked.
   */
  async unparkAfter(key: string | null, programId: string | null, m: EntityManager): Promise<number> {
    let unparked = 0;
    if (key) {
      await this.db.rows(`SELECT pg_advisory_xact_lock(${keyLock(1)})`, [key], m);
      unparked += await this.db.exec(UNPARK_KEY_SQL, [key], m);
    }
    if (programId) {
      await this.db.rows(`SELECT pg_advisory_xact_lock(${programLock(1)})`, [programId], m);
      unparked += await this.db.exec(UNPARK_PROGRAM_SQL, [programId], m);
    }
    return unparked;
  }

  /**
   * The safety net, run now and then (and the way a raised limit takes effect): unparks one run per key that
   * no longer runs and, per program, as many runs as it has free slots (all when it has no limit any more).
   * Unparking too many is harmless (the claim parks them again); this reads only parked runs.
   */
  async unparkStale(): Promise<number> {
    return this.db.exec(
      `UPDATE task_runs SET parked_on = NULL, updated_at = now()
       WHERE id IN (
         SELECT DISTINCT ON (r.concurrency_key) r.id FROM task_runs r
         WHERE r.status = 'queued' AND r.parked_on = 'key'
           AND NOT EXISTS (SELECT 1 FROM task_runs x WHERE x.concurrency_key = r.concurrency_key
                           AND x.status = 'running' AND x.locked_until >= now())
         ORDER BY r.concurrency_key, r.run_at, r.id)
       OR id IN (
         SELECT w.id FROM (
           SELECT r.id, r.program_id, row_number() OVER (PARTITION BY r.program_id ORDER BY r.run_at, r.id) AS n
           FROM task_runs r WHERE r.status = 'queued' AND r.parked_on = 'program') w
         LEFT JOIN programs p ON p.id = w.program_id
         WHERE p.concurrency_limit IS NULL OR w.n <= p.concurrency_limit - (SELECT count(*) FROM task_runs x
           WHERE x.program_id = w.program_id AND x.status = 'running' AND x.locked_until >= now()))`,
    );
  }

  private async park(id: string, on: 'key' | 'program', m: EntityManager): Promise<void> {
    await this.db.exec(`UPDATE task_runs SET parked_on = $2, updated_at = now() WHERE id = $1`, [id, on], m);
  }

  private async cancel(id: string, reason: string, m: EntityManager): Promise<void> {
    await this.db.exec(
      `UPDATE task_runs SET status = 'canceled', parked_on = NULL, finished_at = now(), updated_at = now(),
         last_error = $2 WHERE id = $1`,
      [id, reason],
      m,
    );
  }
}
