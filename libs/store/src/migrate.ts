import type { DataSource, Migration } from 'typeorm';

/** Advisory-lock key for schema migrations (any constant shared by every Hookhub process). */
export const MIGRATION_LOCK_KEY = 727_003_121;

/**
 * Runs pending migrations while holding a session-level Postgres advisory lock, so two processes that
 * boot together never race: the second waits, then finds nothing left to run.
 */
export async function runMigrationsLocked(dataSource: DataSource): Promise<Migration[]> {
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      return await dataSource.runMigrations({ transaction: 'each' });
    } finally {
      await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    await runner.release();
  }
}
