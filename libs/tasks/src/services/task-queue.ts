import type { DataSource, EntityManager } from 'typeorm';
import { type ClaimedRow, type QueueNotifier, WorkQueue, rowsOf } from '@hookhub/store';

export const TASK_QUEUE = 'tasks';
/** Wake-up name when runs finish (sync receivers wait on it). */
export const TASKS_DONE = 'tasks:done';
/** Wake-up name when a cancel was requested. */
export const TASKS_CANCEL = 'tasks:cancel';
/** Serializes task claims over all workers, so concurrency keys and limits are checked against committed state. */
const CLAIM_LOCK = 727_001;

/**
 * The task queue: the work queue over `task_runs`, plus concurrency rules at claim time. Claims are
 * serialized with a transaction advisory lock, so two workers never start two runs with the same
 * concurrency key or exceed a program's limit. Before claiming, `drop` and `replace` policies are applied.
 */
export class TaskQueue extends WorkQueue {
  constructor(dataSource: DataSource, notifier: QueueNotifier) {
    super(dataSource, notifier, { name: TASK_QUEUE, table: 'task_runs' });
  }

  override async claim(workerId: string, limit: number, leaseMs: number): Promise<ClaimedRow[]> {
    if (limit <= 0) return [];
    const claimed: ClaimedRow[] = [];
    let cancels = 0;
    await this.dataSource.transaction(async (m) => {
      await m.query(`SELECT pg_advisory_xact_lock($1)`, [CLAIM_LOCK]);
      cancels = await this.applyPolicies(m);
      // One at a time, so each claim sees the previous one's concurrency key.
      for (let i = 0; i < limit; i++) {
        const rows = rowsOf(
          await m.query(
            `WITH due AS (
               SELECT t.id, t.status = 'running' AS recovered FROM task_runs t
               LEFT JOIN programs p ON p.id = t.program_id
               WHERE (t.status = 'running' AND t.locked_until < now())
                  OR (t.status = 'queued' AND t.run_at <= now()
                      AND (t.concurrency_key IS NULL OR NOT EXISTS (
                        SELECT 1 FROM task_runs r WHERE r.concurrency_key = t.concurrency_key AND r.status = 'running'
                          AND r.locked_until >= now()))
                      AND (p.concurrency_limit IS NULL OR (
                        SELECT count(*) FROM task_runs r WHERE r.program_id = t.program_id AND r.status = 'running'
                          AND r.locked_until >= now()) < p.concurrency_limit))
               ORDER BY t.run_at, t.created_at, t.id
               LIMIT 1
               FOR UPDATE OF t SKIP LOCKED)
             -- clock_timestamp(): this transaction may have waited for the claim lock, and now() is when it began.
             UPDATE task_runs AS t
             SET status = 'running', locked_by = $1, locked_until = now() + ($2::int * interval '1 millisecond'),
                 attempts = t.attempts + 1, updated_at = now(),
                 started_at = CASE WHEN due.recovered THEN t.started_at ELSE clock_timestamp() END
             FROM due WHERE t.id = due.id
             RETURNING t.*, due.recovered`,
            [workerId, leaseMs],
          ),
        );
        if (!rows.length) break;
        claimed.push(...rows);
      }
    });
    if (cancels > 0) await this.notifyCancel();
    return claimed;
  }

  /** Puts a claimed run that never started back in the queue, as if it had not been claimed. */
  async release(id: string, workerId: string): Promise<boolean> {
    const result = (await this.dataSource.query(
      `UPDATE task_runs SET status = 'queued', locked_by = NULL, locked_until = NULL, started_at = NULL,
         attempts = greatest(attempts - 1, 0), updated_at = now()
       WHERE id = $1 AND locked_by = $2 AND status = 'running'
       RETURNING id`,
      [id, workerId],
    )) as unknown;
    return rowsOf(result).length > 0;
  }

  async notifyCancel(): Promise<void> {
    await this.notifier.notify(TASKS_CANCEL);
  }

  async notifyDone(): Promise<void> {
    await this.notifier.notify(TASKS_DONE);
  }

  subscribeTo(name: string, listener: () => void): () => void {
    return this.notifier.subscribe(name, listener);
  }

  /** `drop`: queued runs whose key is running are canceled. `replace`: older runs give way to the newest. */
  private async applyPolicies(m: EntityManager): Promise<number> {
    await m.query(
      `UPDATE task_runs t SET status = 'canceled', finished_at = now(), updated_at = now(),
         last_error = 'dropped: a run with the same concurrency key was in progress (policy drop)'
       FROM programs p
       WHERE p.id = t.program_id AND p.concurrency_policy = 'drop' AND t.status = 'queued' AND t.concurrency_key IS NOT NULL
         AND EXISTS (SELECT 1 FROM task_runs r WHERE r.concurrency_key = t.concurrency_key AND r.status = 'running'
                     AND r.locked_until >= now() AND r.id <> t.id)`,
    );
    await m.query(
      `UPDATE task_runs t SET status = 'canceled', finished_at = now(), updated_at = now(),
         last_error = 'replaced by a newer run with the same concurrency key (policy replace)'
       FROM programs p
       WHERE p.id = t.program_id AND p.concurrency_policy = 'replace' AND t.status = 'queued' AND t.concurrency_key IS NOT NULL
         AND EXISTS (SELECT 1 FROM task_runs r WHERE r.concurrency_key = t.concurrency_key AND r.status = 'queued'
                     AND (r.created_at, r.id) > (t.created_at, t.id))`,
    );
    const result = (await m.query(
      `UPDATE task_runs t SET cancel_requested_at = now(), updated_at = now(),
         last_error = 'replaced by a newer run with the same concurrency key (policy replace)'
       FROM programs p
       WHERE p.id = t.program_id AND p.concurrency_policy = 'replace' AND t.status = 'running' AND t.cancel_requested_at IS NULL
         AND t.concurrency_key IS NOT NULL
         AND EXISTS (SELECT 1 FROM task_runs r WHERE r.concurrency_key = t.concurrency_key AND r.status = 'queued'
                     AND r.created_at > t.created_at)
       RETURNING t.id`,
    )) as unknown;
    return rowsOf(result).length;
  }
}
