import type { DataSource } from 'typeorm';

interface PgPool {
  query(config: { name: string; text: string; values: unknown[] }): Promise<{ rows: unknown[] }>;
}

/**
 * Runs a hot statement. On a real Postgres server it is a named prepared statement, parsed and planned once
 * per pooled connection instead of on every call (for the receiver's batch insert that is most of the
 * database's work at small batch sizes). The embedded store serves every connection from one session, where
 * the same name prepared by two connections would collide, so there it is a plain query.
 */
export async function queryPrepared<T>(dataSource: DataSource, embedded: boolean, name: string, text: string, values: unknown[]): Promise<T[]> {
  const pool = (dataSource.driver as unknown as { master?: PgPool }).master;
  if (!embedded && pool && typeof pool.query === 'function') {
    return (await pool.query({ name, text, values })).rows as T[];
  }
  return (await dataSource.query(text, values)) as T[];
}
