import type { DataSource, EntityManager } from 'typeorm';
import type { QueueNotifier } from './notifier';

/**
 * A table the queue works on. It must have the queue columns: `id uuid`, `status text`, `run_at`,
 * `attempts int`, `locked_by text`, `locked_until`, `last_error text`, `updated_at`, `finished_at`
 * (all timestamps `timestamptz`). `where` narrows the rows of a shared table (e.g. one named queue).
 */
export interface QueueTableSpec {
  /** Name used for wake-ups. */
  name: string;
  table: string;
  where?: { column: string; value: string };
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
 * The work-queue primitive: claim due rows with `FOR UPDATE SKIP LOCKED` under a lease, then complete,
 * reschedule or extend them. A row whose lease expires is claimable again, so a crashed claimer loses
 * nothing (at-least-once). Every state change checks that the caller still holds the lease.
 */
export class WorkQueue {
  readonly name: string;
  private readonly table: string;
  private readonly filter?: { column: string; value: string };
  private readonly queued: string;
  private readonly running: string;

  constructor(
    protected readonly dataSource: DataSource,
    protected readonly notifier: QueueNotifier,
    spec: QueueTableSpec,
  ) {
    for (const ident of [spec.table, spec.where?.column].filter((x): x is string => !!x)) {
      if (!IDENT.test(ident)) throw new Error(`Invalid queue identifier: ${ident}`);
    }
    this.name = spec.name;
    this.table = spec.table;
    this.queued = spec.queuedStatus ?? 'queued';
    this.running = spec.runningStatus ?? 'running';
    this.filter = spec.where;
  }

  /**
   * Claims up to `limit` due rows for `workerId`, leasing them for `leaseMs`. Rows whose lease expired are
   * included and flagged `recovered`. Concurrent claimers never get the same row.
   */
  async claim(workerId: string, limit: number, leaseMs: number, manager?: EntityManager): Promise<ClaimedRow[]> {
    if (limit <= 0) return [];
    const filter = this.filter ? ` AND ${this.filter.column} = $6` : '';
    const sql = `
      WITH due AS (
        SELECT id, status = $4 AS recovered FROM ${this.table}
        WHERE ((status = $5 AND run_at <= now()) OR (status = $4 AND locked_until < now()))${filter}
        ORDER BY run_at, id
        LIMIT $1
        FOR UPDATE SKIP LOCKED
      )
      UPDATE ${this.table} AS t
      SET status = $4, locked_by = $2, locked_until = now() + ($3::int * interval '1 millisecond'),
          attempts = t.attempts + 1, updated_at = now()
      FROM due WHERE t.id = due.id
      RETURNING t.*, due.recovered`;
    const params: unknown[] = [limit, workerId, leaseMs, this.running, this.queued];
    if (this.filter) params.push(this.filter.value);
    const result = (await (manager ?? this.dataSource).query(sql, params)) as unknown;
    return rowsOf(result);
  }

  /** Marks a claimed row finished with `status`; false when the lease was lost to another claimer. */
  async complete(id: string, workerId: string, status = 'done', manager?: EntityManager): Promise<boolean> {
    const sql = `UPDATE ${this.table} SET status = $3, locked_by = NULL, locked_until = NULL, updated_at = now(),
      finished_at = now() WHERE id = $1 AND locked_by = $2 AND status = $4`;
    return this.affected(await (manager ?? this.dataSource).query(sql, [id, workerId, status, this.running]));
  }

  /** Puts a claimed row back in the queue to run at `runAt` (a retry), recording the error. */
  async reschedule(id: string, workerId: string, runAt: Date, error: string | null, manager?: EntityManager): Promise<boolean> {
    const sql = `UPDATE ${this.table} SET status = $3, run_at = $4, last_error = $5, locked_by = NULL, locked_until = NULL,
      updated_at = now() WHERE id = $1 AND locked_by = $2 AND status = $6`;
    return this.affected(await (manager ?? this.dataSource).query(sql, [id, workerId, this.queued, runAt, error, this.running]));
  }

  /** Gives up on a claimed row: final `status` (e.g. 'dead') with the error. */
  async fail(id: string, workerId: string, error: string, status = 'dead', manager?: EntityManager): Promise<boolean> {
    const sql = `UPDATE ${this.table} SET status = $3, last_error = $4, locked_by = NULL, locked_until = NULL,
      updated_at = now(), finished_at = now() WHERE id = $1 AND locked_by = $2 AND status = $5`;
    return this.affected(await (manager ?? this.dataSource).query(sql, [id, workerId, status, error, this.running]));
  }

  /** Extends the lease of a row still being worked on; false when it was lost. */
  async extendLease(id: string, workerId: string, leaseMs: number): Promise<boolean> {
    const sql = `UPDATE ${this.table} SET locked_until = now() + ($3::int * interval '1 millisecond'), updated_at = now()
      WHERE id = $1 AND locked_by = $2 AND status = $4`;
    return this.affected(await this.dataSource.query(sql, [id, workerId, leaseMs, this.running]));
  }

  /** Wakes idle workers of this queue. Call after the enqueueing transaction committed. */
  async wake(): Promise<void> {
    await this.notifier.notify(this.name);
  }

  subscribe(listener: () => void): () => void {
    return this.notifier.subscribe(this.name, listener);
  }

  private affected(result: unknown): boolean {
    return affectedRows(result) > 0;
  }
}

/** TypeORM's postgres driver returns `[rows, affectedCount]` for UPDATE/DELETE; the rows of either shape. */
export function rowsOf<T = ClaimedRow>(result: unknown): T[] {
  if (Array.isArray(result) && result.length === 2 && Array.isArray(result[0]) && typeof result[1] === 'number') {
    return result[0] as T[];
  }
  return result as T[];
}

/** The affected-row count of an UPDATE/DELETE run through `query()`. */
export function affectedRows(result: unknown): number {
  return Array.isArray(result) && typeof result[1] === 'number' ? result[1] : 0;
}
