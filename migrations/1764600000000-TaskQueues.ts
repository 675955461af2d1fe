import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Task runs get a named queue (execution nodes claim only theirs), the worker that ran them, and a parking
 * place for runs a concurrency rule holds back, so a claim reads only runs it may start:
 *
 * - `queue`: the program's queue when the run was made (`default`).
 * - `parked_on`: `key` (another run with the same concurrency key is running) or `program` (the program is
 *   at its concurrency limit); null when claimable. A parked run is unparked when the run holding it back
 *   finishes, so the claim index holds no blocked rows and a claim's cost does not grow with them.
 * - `worker_id`, `worker_hostname`: who claimed the run last.
 *
 * The indexes match the claim's statements exactly: due unparked runs per queue in order; expired leases;
 * running runs per program and per key (the counts a claim checks, bounded by the limits); parked runs
 * per key and per program in order (the next one to unpark).
 */
export class TaskQueues1764600000000 implements MigrationInterface {
  name = 'TaskQueues1764600000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE task_runs ADD COLUMN queue text NOT NULL DEFAULT 'default',
      ADD COLUMN parked_on text CHECK (parked_on IN ('key', 'program')),
      ADD COLUMN worker_id text, ADD COLUMN worker_hostname text`);
    await q.query(`DROP INDEX IF EXISTS idx_task_runs_due`);
    await q.query(
      `CREATE INDEX idx_task_runs_claim ON task_runs (queue, run_at, id) WHERE status = 'queued' AND parked_on IS NULL`,
    );
    await q.query(`CREATE INDEX idx_task_runs_lease ON task_runs (locked_until) WHERE status = 'running'`);
    await q.query(`CREATE INDEX idx_task_runs_running_program ON task_runs (program_id) WHERE status = 'running'`);
    await q.query(
      `CREATE INDEX idx_task_runs_running_key ON task_runs (concurrency_key) WHERE status = 'running' AND concurrency_key IS NOT NULL`,
    );
    await q.query(
      `CREATE INDEX idx_task_runs_parked_key ON task_runs (concurrency_key, run_at, id) WHERE status = 'queued' AND parked_on = 'key'`,
    );
    await q.query(
      `CREATE INDEX idx_task_runs_parked_program ON task_runs (program_id, run_at, id) WHERE status = 'queued' AND parked_on = 'program'`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    for (const index of ['claim', 'lease', 'running_program', 'running_key', 'parked_key', 'parked_program'])
      await q.query(`DROP INDEX IF EXISTS idx_task_runs_${index}`);
    await q.query(`CREATE INDEX idx_task_runs_due ON task_runs (run_at, id) WHERE status IN ('queued', 'running')`);
    await q.query(`ALTER TABLE task_runs DROP COLUMN queue, DROP COLUMN parked_on, DROP COLUMN worker_id,
      DROP COLUMN worker_hostname`);
  }
}
