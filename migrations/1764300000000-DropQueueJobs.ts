import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Drops `queue_jobs`, the generic job table of the Foundation migration: no part of the hub ever enqueued
 * into it (task runs and deliveries are queues of their own tables). Reverting recreates it empty, exactly as
 * Foundation made it.
 */
export class DropQueueJobs1764300000000 implements MigrationInterface {
  name = 'DropQueueJobs1764300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE queue_jobs`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE queue_jobs (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        queue text NOT NULL,
        payload jsonb NOT NULL DEFAULT '{}',
        status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'dead')),
        run_at timestamptz(3) NOT NULL DEFAULT now(),
        attempts integer NOT NULL DEFAULT 0,
        max_attempts integer NOT NULL DEFAULT 10,
        locked_by text,
        locked_until timestamptz(3),
        last_error text,
        created_at timestamptz(3) NOT NULL DEFAULT now(),
        updated_at timestamptz(3) NOT NULL DEFAULT now(),
        finished_at timestamptz(3)
      )`);
    await q.query(`CREATE INDEX idx_queue_jobs_due ON queue_jobs (queue, run_at, id) WHERE status = 'queued'`);
    await q.query(`CREATE INDEX idx_queue_jobs_lease ON queue_jobs (queue, locked_until) WHERE status = 'running'`);
    await q.query(`CREATE INDEX idx_queue_jobs_finished ON queue_jobs (finished_at) WHERE finished_at IS NOT NULL`);
  }
}
