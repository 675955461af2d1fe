import type { EntityManager } from 'typeorm';
import type { QueueDepth } from '@hookhub/core';
import type { Db } from '../db';
import type { QueueNotifier } from './notifier';

/**
 * A table the queue works on. It must have the queue columns: `id uuid`, `status text`, `run_at`,
 * `attempts int`, `locked_by text`, `locked_until`, `last_error text`, `updated_at`, `finished_at`
 * (all timestamps `timestamptz`).
 */
export interface QueueTableSpec {
  /** Name used for wake-ups. */
  name: string;
  table: string;
  queuedStatus?: string;
  runningStatus?: string;
}

export interface ClaimedRow {
  id: string;
  attempts: number;
  /** True when the row was taken over from a claimer whose lease expired (it crashed or hung). */
  recovered: boolean;
  [column: string]: unknown;
}

const IDENT = /^[a-z_][a-z0-9_]*$/;

/**
 * The SQL a due row's `run_at` is compared with: `run_at <= ${DUE_BY}`. `run_at` is stored to the millisecond,
 * rounded to the nearest one, so a row written with `run_at = now()` can read up to half a millisecond later
 * than its writer's clock. A claim made within that half millisecond (a worker woken by the commit) would
 * pass it over and leave it to the next poll; allowing the rounding makes a row due as soon as it is written.
 */
export const DUE_BY = `now() + interval '500 microseconds'`;

/**
 * The work-queue primitive: a table's claim (due rows taken with `FOR UPDATE SKIP LOCKED` under a lease,
 * written by each queue) and what follows it, shared: complete, reschedule, fail or extend the lease. A row
 * whose lease expires is claimable again, so a crashed claimer loses nothing (at-least-once). Every state
 * change checks that the caller still holds the lease.
 */
export abstract class WorkQueue {
  readonly name: string;
  private readonly table: string;
  private readonly queued: string;
  private readonly running: string;

  constructor(
    protected readonly db: Db,
    protected readonly notifier: QueueNotifier,
    spec: QueueTableSpec,
  ) {
    if (!IDENT.test(spec.table)) throw new Error(`Invalid queue identifier: ${spec.table}`);
    this.name = spec.name;
    this.table = spec.table;
    this.queued = spec.queuedStatus ?? 'queued';
    this.running = spec.runningStatus ?? 'running';
  }

  /**
   * Claims up to `limit` due rows for `workerId`, leasing them for `leaseMs`: rows whose lease expired are
   * included and flagged `recovered`, and concurrent claimers never get the same row. Each table claims its
   * own way (its limits decide which due rows may start): see TaskRunStore and DeliveryStore.
   */
  abstract claim(workerId: string, limit: number, leaseMs: number): Promise<ClaimedRow[]>;

  /** Marks a claimed row finished with `status`; false when the lease was lost to another claimer. */
  async complete(id: string, workerId: string, status = 'done', manager?: EntityManager): Promise<boolean> {
    const sql = `UPDATE ${this.table} SET status = $3, locked_by = NULL, locked_until = NULL, updated_at = now(),
      finished_at = now() WHERE id = $1 AND locked_by = $2 AND status = $4`;
    return (await this.db.exec(sql, [id, workerId, status, this.running], manager)) > 0;
  }

  /** Puts a claimed row back in the queue to run at `runAt` (a retry), recording the error. */
  async reschedule(
    id: string,
    workerId: string,
    runAt: Date,
    error: string | null,
    manager?: EntityManager,
  ): Promise<boolean> {
    const sql = `UPDATE ${this.table} SET status = $3, run_at = $4, last_error = $5, locked_by = NULL, locked_until = NULL,
      updated_at = now() WHERE id = $1 AND locked_by = $2 AND status = $6`;
    return (await this.db.exec(sql, [id, workerId, this.queued, runAt, error, this.running], manager)) > 0;
  }

  /** Gives up on a claimed row: final `status` (e.g. 'dead') with the error. */
  async fail(id: string, workerId: string, error: string, status = 'dead', manager?: EntityManager): Promise<boolean> {
    const sql = `UPDATE ${this.table} SET status = $3, last_error = $4, locked_by = NULL, locked_until = NULL,
      updated_at = now(), finished_at = now() WHERE id = $1 AND locked_by = $2 AND status = $5`;
    return (await this.db.exec(sql, [id, workerId, status, error, this.running], manager)) > 0;
  }

  /** Extends the lease of a row still being worked on; false when it was lost. */
  async extendLease(id: string, workerId: string, leaseMs: number): Promise<boolean> {
    const sql = `UPDATE ${this.table} SET locked_until = now() + ($3::int * interval '1 millisecond'), updated_at = now()
      WHERE id = $1 AND locked_by = $2 AND status = $4`;
    return (await this.db.exec(sql, [id, workerId, leaseMs, this.running])) > 0;
  }

  /** The backlog, for /metrics: queued rows due now, and how long the oldest has been due (0 without). */
  async depth(): Promise<QueueDepth> {
    const [row] = await this.db.rows<QueueDepth>(
      `SELECT count(*)::int AS depth,
         coalesce(extract(epoch FROM now() - min(run_at)), 0)::float8 AS "oldestDueAgeSeconds"
       FROM ${this.table} WHERE status = $1 AND run_at <= now()`,
      [this.queued],
    );
    return row;
  }

  /** Wakes idle workers of this queue. Call after the enqueueing transaction committed. */
  async wake(): Promise<void> {
    await this.notifier.notify(this.name);
  }

  subscribe(listener: () => void): () => void {
    return this.notifier.subscribe(this.name, listener);
  }
}
