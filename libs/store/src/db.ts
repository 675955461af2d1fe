import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager, type QueryRunner } from 'typeorm';
import { StoreServer } from './store.runtime';

/** A raw driver connection that can run a named (prepared) statement: `pg`'s client. */
interface NamedStatementClient {
  query(config: { name: string; text: string; values: unknown[] }): Promise<{ rows: unknown[] }>;
}

function canRunNamed(connection: unknown): connection is NamedStatementClient {
  return typeof (connection as { query?: unknown } | null)?.query === 'function';
}

/**
 * The stores' one way to run SQL. It hides TypeORM's answer shapes (a SELECT answers rows, an UPDATE
 * `[rows, count]`) behind `rows`, `one` and `exec`, runs hot statements as named prepared statements on a
 * Postgres server, and is the one place that says whether the store is the embedded one. Every method takes
 * an optional entity manager, so a store's statement can join the caller's transaction.
 */
@Injectable()
export class Db {
  constructor(
    readonly dataSource: DataSource,
    private readonly server: StoreServer,
  ) {}

  /** Whether this process runs on the embedded store (PGlite) rather than a Postgres server. */
  get embedded(): boolean {
    return this.server.isEmbedded;
  }

  /** The rows a statement returns (SELECT, or INSERT/UPDATE/DELETE ... RETURNING). */
  async rows<T>(sql: string, params: unknown[] = [], manager?: EntityManager): Promise<T[]> {
    return (await this.run(sql, params, manager)).records as T[];
  }

  /** The first row a statement returns, if any. */
  async one<T>(sql: string, params: unknown[] = [], manager?: EntityManager): Promise<T | undefined> {
    return (await this.rows<T>(sql, params, manager))[0];
  }

  /** How many rows a statement changed (INSERT/UPDATE/DELETE). */
  async exec(sql: string, params: unknown[] = [], manager?: EntityManager): Promise<number> {
    return (await this.run(sql, params, manager)).affected ?? 0;
  }

  /**
   * Runs a hot statement. On a Postgres server it is a named prepared statement, parsed and planned once per
   * pooled connection instead of on every call. The embedded store serves every connection from one session,
   * where the same name prepared by two connections would collide, so there it is a plain statement. With a
   * manager it runs in that manager's transaction.
   */
  async prepared<T>(name: string, sql: string, params: unknown[], manager?: EntityManager): Promise<T[]> {
    if (this.embedded) return this.rows<T>(sql, params, manager);
    const inherited: QueryRunner | undefined = manager?.queryRunner;
    const runner = inherited ?? this.dataSource.createQueryRunner();
    try {
      // The query runner's own connection (the transaction's, when inherited): a public way to the driver.
      const connection: unknown = await runner.connect();
      if (!canRunNamed(connection)) return (await runner.query(sql, params, true)).records as T[];
      return (await connection.query({ name, text: sql, values: params })).rows as T[];
    } finally {
      if (!inherited) await runner.release();
    }
  }

  /** Runs `work` in one transaction. */
  transaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.dataSource.transaction(work);
  }

  private async run(
    sql: string,
    params: unknown[],
    manager?: EntityManager,
  ): Promise<{ records: unknown[]; affected?: number }> {
    const inherited: QueryRunner | undefined = manager?.queryRunner;
    const runner = inherited ?? this.dataSource.createQueryRunner();
    try {
      const result = await runner.query(sql, params, true);
      return { records: result.records ?? [], affected: result.affected };
    } finally {
      if (!inherited) await runner.release();
    }
  }
}
