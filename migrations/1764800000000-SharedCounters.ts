import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The counters every process shares when there is no Redis (webhook `max_per_second`, refusal bursts): one
 * row per key with the times (ms since the epoch) of the hits in its window, oldest first, at most the limit.
 * `checked_at` is the time of the latest hit, taken or not; `expires_at` when the newest kept hit leaves the
 * window (the sweep deletes rows past it). No index besides the key: each hit rewrites its row, and an
 * index on the changing columns would stop those rewrites from being HOT updates.
 */
export class SharedCounters1764800000000 implements MigrationInterface {
  name = 'SharedCounters1764800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE shared_counters (
      key text PRIMARY KEY,
      hits double precision[] NOT NULL,
      checked_at double precision NOT NULL,
      expires_at timestamptz NOT NULL
    )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS shared_counters`);
  }
}
