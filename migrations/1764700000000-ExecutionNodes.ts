import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Execution nodes: a program names the queue its runs go to (only workers that take that queue claim them),
 * and every process that runs workers registers itself in `workers` and beats there, so the API can say
 * which workers are alive, what they take and what they are doing, and which queues nobody takes.
 *
 * - `programs.queue`: copied into each run's `task_runs.queue` when the run is made.
 * - `workers`: one row per process (`id` is the process's worker id, the one its runs' `worker_id` holds);
 *   `last_seen` is the last heartbeat, `stopped_at` set on a clean shutdown.
 */
export class ExecutionNodes1764700000000 implements MigrationInterface {
  name = 'ExecutionNodes1764700000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE programs ADD COLUMN queue text NOT NULL DEFAULT 'default'`);
    await q.query(`CREATE TABLE workers (
      id text PRIMARY KEY,
      hostname text NOT NULL,
      pid int NOT NULL,
      version text NOT NULL,
      queues text[] NOT NULL DEFAULT '{}',
      started_at timestamptz(3) NOT NULL,
      last_seen timestamptz(3) NOT NULL DEFAULT now(),
      running_tasks int NOT NULL DEFAULT 0,
      running_deliveries int NOT NULL DEFAULT 0,
      stopped_at timestamptz(3)
    )`);
    await q.query(`CREATE INDEX idx_workers_last_seen ON workers (last_seen)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS workers`);
    await q.query(`ALTER TABLE programs DROP COLUMN queue`);
  }
}
