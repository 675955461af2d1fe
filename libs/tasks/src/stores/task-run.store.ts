import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { EntityManager, Repository } from 'typeorm';
import { type Page, type QueueDepth, createdBetween, paginate } from '@hookhub/core';
import { type ClaimedRow, Db, QueueNotifier, WorkQueue } from '@hookhub/store';
import type { ListTasksQueryDto } from '../dto/tasks.dto';
import { TaskRun, type TaskStatus, type TaskTrigger } from '../entities/task-run.entity';
import { TaskRunClaim } from './task-run-claim';

export const TASK_QUEUE = 'tasks';
/** The queue of a program that names none, and the one workers take when HOOKHUB_WORKER_QUEUES is unset. */
export const DEFAULT_QUEUE = 'default';
/** Wake-up name when runs finish (sync receivers wait on it). */
export const TASKS_DONE = 'tasks:done';
/** Wake-up name when a cancel was requested. */
export const TASKS_CANCEL = 'tasks:cancel';
/** A run ready to insert, rendered from a program, optional rule templates and the trigger context. */
export interface PreparedRun {
  id: string;
  program_id: string;
  program_name: string;
  trigger: TaskTrigger;
  receipt_id: string | null;
  source_id: string | null;
  rule_id: string | null;
  retry_of: string | null;
  triggered_by: string | null;
  attempt: number;
  max_attempts: number;
  argv: string[];
  env: Record<string, string>;
  concurrency_key: string | null;
  /** The program's queue (`default` when absent): only workers that take it claim the run. */
  queue?: string;
  /** Start this many seconds from now (retries with backoff); now when absent. */
  delay_seconds?: number;
}

/** A queue's queued runs, and how long its oldest due run has waited (0 when none is due). */
export interface QueueBacklog {
  queue: string;
  queued: number;
  oldest_due_age_seconds: number;
}

/** The output tails of a running process, as the heartbeat flushes them. */
export interface OutputSnapshot {
  stdout: string;
  stderr: string;
  stdoutBytes: number;
  stderrBytes: number;
}

/** A run's final state; null output fields keep what the heartbeats stored. */
export interface RunOutcome {
  status: TaskStatus;
  exitCode: number | null;
  signal: string | null;
  durationMs: number | null;
  stdout: string | null;
  stderr: string | null;
  stdoutBytes: number | null;
  stderrBytes: number | null;
  error: string | null;
}

/** What a heartbeat read back: a cancel request (and its reason, in `lastError`). */
export interface BeatAnswer {
  cancelRequestedAt: Date | null;
  lastError: string | null;
}

const RUN_RECORD = `id uuid, program_id uuid, program_name text, trigger text, receipt_id uuid, source_id uuid, rule_id uuid,
  retry_of uuid, triggered_by text, attempt int, max_attempts int, argv jsonb, env jsonb, concurrency_key text, queue text, delay_seconds int`;

/** Inserts the task runs held in `$1`, a jsonb array of {@link PreparedRun}s. */
const INSERT_RUNS_SQL = `INSERT INTO task_runs (id, program_id, program_name, trigger, receipt_id, source_id, rule_id, retry_of, triggered_by,
      attempt, max_attempts, argv, env, concurrency_key, queue, run_at)
    SELECT x.id, x.program_id, x.program_name, x.trigger, x.receipt_id, x.source_id, x.rule_id, x.retry_of,
      x.triggered_by, x.attempt, x.max_attempts, x.argv, x.env, x.concurrency_key, coalesce(x.queue, 'default'),
      now() + (coalesce(x.delay_seconds, 0) * interval '1 second')
    FROM jsonb_to_recordset($1::jsonb) AS x(${RUN_RECORD})`;

/**
 * The generic work queue over `task_runs`, for the task workers: its claim is {@link TaskRunStore.claimDue},
 * which applies the concurrency rules. Only {@link TaskRunStore} makes one.
 */
class TaskRunQueue extends WorkQueue {
  constructor(
    db: Db,
    notifier: QueueNotifier,
    private readonly claimDue: (workerId: string, limit: number, leaseMs: number) => Promise<ClaimedRow[]>,
  ) {
    super(db, notifier, { name: TASK_QUEUE, table: 'task_runs' });
  }

  override claim(workerId: string, limit: number, leaseMs: number): Promise<ClaimedRow[]> {
    return this.claimDue(workerId, limit, leaseMs);
  }
}

/**
 * `task_runs`: inserting prepared runs, the task queue's claim with its concurrency rules and the parking
 * of runs they hold back ({@link TaskRunClaim}: per-key and per-program locks, never one for the cluster),
 * the worker's statements under
 * its lease (heartbeats, cancel requests, the outcome), cancels, lookups and the list. It owns the task queue
 * and its wake-ups (`tasks`, `tasks:done`, `tasks:cancel`).
 */
@Injectable()
export class TaskRunStore {
  /** The work queue of the `default` queue's runs (see {@link queueFor}). */
  readonly queue: WorkQueue;

  private readonly claimer: TaskRunClaim;

  constructor(
    @InjectRepository(TaskRun) private readonly runs: Repository<TaskRun>,
    private readonly db: Db,
    private readonly notifier: QueueNotifier,
  ) {
    this.claimer = new TaskRunClaim(db);
    this.queue = this.queueFor([DEFAULT_QUEUE]);
  }

  /** The work queue a worker that takes `queues` claims from (HOOKHUB_WORKER_QUEUES). */
  queueFor(queues: readonly string[]): WorkQueue {
    return new TaskRunQueue(this.db, this.notifier, (workerId, limit, leaseMs) =>
      this.claimDue(workerId, limit, leaseMs, queues),
    );
  }

  /** Inserts prepared runs, in the caller's transaction when given one; wake the queue after it commits. */
  async insert(runs: readonly PreparedRun[], manager?: EntityManager): Promise<void> {
    if (!runs.length) return;
    // Prepared: the receiver inserts runs with every batch of triggers that matched a rule.
    await this.db.prepared('hookhub_insert_runs', INSERT_RUNS_SQL, [JSON.stringify(runs)], manager);
  }

  /**
   * Claims up to `limit` due runs of `queues` for `workerId`, leased for `leaseMs`, applying the concurrency
   * rules (see {@link TaskRunClaim}). Runs whose lease expired come back `recovered`.
   */
  async claimDue(
    workerId: string,
    limit: number,
    leaseMs: number,
    queues: readonly string[] = [DEFAULT_QUEUE],
  ): Promise<ClaimedRow[]> {
    if (limit <= 0) return [];
    const result = await this.db.transaction((m) => this.claimer.claim(workerId, limit, leaseMs, queues, m));
    if (result.cancelsRequested > 0) await this.notifyCancel();
    return result.started;
  }

  /**
   * Unparks runs held back by a rule that no longer holds them (a safety net the task worker runs now and
   * then, and after a program's concurrency settings changed); wakes the workers when it did.
   */
  async unparkStale(): Promise<number> {
    const unparked = await this.claimer.unparkStale();
    if (unparked > 0) await this.wake();
    return unparked;
  }

  /** Puts a claimed run that never started back in the queue, as if it had not been claimed. */
  async release(id: string, workerId: string): Promise<boolean> {
    const rows = await this.db.rows(
      `UPDATE task_runs SET status = 'queued', locked_by = NULL, locked_until = NULL, started_at = NULL,
         attempts = greatest(attempts - 1, 0), updated_at = now()
       WHERE id = $1 AND locked_by = $2 AND status = 'running'
       RETURNING id`,
      [id, workerId],
    );
    return rows.length > 0;
  }

  /** Renews the lease and stores the output so far; null when the run is no longer this worker's. */
  async heartbeat(id: string, workerId: string, leaseMs: number, snap: OutputSnapshot): Promise<BeatAnswer | null> {
    const list = await this.db.rows<{ cancel_requested_at: Date | null; last_error: string | null }>(
      `UPDATE task_runs SET locked_until = now() + ($3::int * interval '1 millisecond'), updated_at = now(),
         stdout = $4, stderr = $5, stdout_bytes = $6, stderr_bytes = $7
       WHERE id = $1 AND locked_by = $2 AND status = 'running'
       RETURNING cancel_requested_at, last_error`,
      [id, workerId, leaseMs, snap.stdout, snap.stderr, snap.stdoutBytes, snap.stderrBytes],
    );
    return list.length ? { cancelRequestedAt: list[0].cancel_requested_at, lastError: list[0].last_error } : null;
  }

  /** Which of `ids` have a cancel request, with its reason. */
  async cancelRequests(ids: readonly string[]): Promise<Array<{ id: string; lastError: string | null }>> {
    const rows = await this.db.rows<{ id: string; last_error: string | null }>(
      `SELECT id, last_error FROM task_runs WHERE id = ANY($1::uuid[]) AND cancel_requested_at IS NOT NULL`,
      [ids],
    );
    return rows.map((r) => ({ id: r.id, lastError: r.last_error }));
  }

  /**
   * Records the outcome under the lease and, in the same transaction and only when it did, runs `then`
   * (enqueue a retry, publish the event). False when the lease was lost: nothing was written.
   */
  async finish(
    id: string,
    workerId: string,
    outcome: RunOutcome,
    then: (m: EntityManager) => Promise<void>,
  ): Promise<boolean> {
    let unparked = false;
    const done = await this.db.transaction(async (m) => {
      const updated = await this.db.rows<{ concurrency_key: string | null; limited_program_id: string | null }>(
        `UPDATE task_runs SET status = $3, exit_code = $4, signal = $5, duration_ms = $6, stdout = coalesce($7, stdout),
           stderr = coalesce($8, stderr), stdout_bytes = coalesce($9, stdout_bytes), stderr_bytes = coalesce($10, stderr_bytes),
           last_error = $11, finished_at = now(), updated_at = now(), locked_by = NULL, locked_until = NULL
         WHERE id = $1 AND locked_by = $2 AND status = 'running'
         RETURNING concurrency_key,
           CASE WHEN (SELECT p.concurrency_limit FROM programs p WHERE p.id = task_runs.program_id) IS NOT NULL
             THEN program_id END AS limited_program_id`,
        [
          id,
          workerId,
          outcome.status,
          outcome.exitCode,
          outcome.signal,
          outcome.durationMs,
          outcome.stdout,
          outcome.stderr,
          outcome.stdoutBytes,
          outcome.stderrBytes,
          outcome.error,
        ],
        m,
      );
      if (!updated.length) return false;
      // The slot it held (its key, its program's limit) is free: the next run parked on it may go.
      const { concurrency_key: key, limited_program_id: programId } = updated[0];
      if ((key || programId) && (await this.claimer.unparkAfter(key, programId, m)) > 0) unparked = true;
      await then(m);
      return true;
    });
    if (done && unparked) await this.wake();
    return done;
  }

  /** Cancels a run that is still queued, with the reason; a running one is left to {@link requestCancel}. */
  async cancelQueued(id: string, reason: string): Promise<void> {
    await this.db.exec(
      `UPDATE task_runs SET status = 'canceled', finished_at = now(), updated_at = now(), last_error = $2
       WHERE id = $1 AND status = 'queued'`,
      [id, reason],
    );
  }

  /** Asks the worker of a running run to stop it (once), with the reason. */
  async requestCancel(id: string, reason: string): Promise<void> {
    await this.db.exec(
      `UPDATE task_runs SET cancel_requested_at = now(), updated_at = now(), last_error = $2
       WHERE id = $1 AND status = 'running' AND cancel_requested_at IS NULL`,
      [id, reason],
    );
  }

  findById(id: string): Promise<TaskRun | null> {
    return this.runs.findOneBy({ id });
  }

  findByIds(ids: readonly string[]): Promise<TaskRun[]> {
    return this.runs.createQueryBuilder('t').where('t.id IN (:...ids)', { ids }).getMany();
  }

  /** A page of runs, newest first, filtered by status, program, source, receipt and creation time. */
  list<R>(query: ListTasksQueryDto, map: (run: TaskRun) => R): Promise<Page<R>> {
    const qb = this.runs.createQueryBuilder('t');
    if (query.status) qb.andWhere('t.status = :status', { status: query.status });
    if (query.program_id) qb.andWhere('t.program_id = :programId', { programId: query.program_id });
    if (query.source_id) qb.andWhere('t.source_id = :sourceId', { sourceId: query.source_id });
    if (query.receipt_id) qb.andWhere('t.receipt_id = :receiptId', { receiptId: query.receipt_id });
    if (query.queue) qb.andWhere('t.queue = :queue', { queue: query.queue });
    return paginate(createdBetween(qb, 't', query), 't', query, map);
  }

  /** Queued runs per queue other than `except`, with how long the oldest due one has waited (GET /api/workers). */
  queuedPerQueue(except: readonly string[]): Promise<QueueBacklog[]> {
    return this.db.rows<QueueBacklog>(
      `SELECT t.queue, count(*)::int AS queued,
         coalesce(extract(epoch FROM now() - min(t.run_at) FILTER (WHERE t.run_at <= now())), 0)::float8
           AS oldest_due_age_seconds
       FROM task_runs t
       WHERE t.status = 'queued' AND t.queue <> ALL($1::text[])
       GROUP BY t.queue
       ORDER BY t.queue`,
      [except],
    );
  }

  /** Runs created since `from`, counted per status (the console's overview). */
  statusCounts(from: Date): Promise<Array<{ status: string; count: number }>> {
    return this.db.rows(
      `SELECT status, count(*)::int AS count FROM task_runs WHERE created_at >= $1 GROUP BY status ORDER BY status`,
      [from],
    );
  }

  /** The queue's backlog for /metrics (the work queue's own count over this table). */
  depth(): Promise<QueueDepth> {
    return this.queue.depth();
  }

  /** Wakes idle task workers; call after the transaction that inserted runs committed. */
  async wake(): Promise<void> {
    await this.queue.wake();
  }

  /** Tells every process that a cancel was requested. */
  async notifyCancel(): Promise<void> {
    await this.notifier.notify(TASKS_CANCEL);
  }

  /** Tells every process that runs finished. */
  async notifyDone(): Promise<void> {
    await this.notifier.notify(TASKS_DONE);
  }

  /** Calls `listener` on each cancel request; returns the unsubscribe. */
  onCancel(listener: () => void): () => void {
    return this.notifier.subscribe(TASKS_CANCEL, listener);
  }

  /** Calls `listener` when runs finished; returns the unsubscribe. */
  onDone(listener: () => void): () => void {
    return this.notifier.subscribe(TASKS_DONE, listener);
  }
}
