import { Logger } from '@nestjs/common';
import { readFileSync } from 'node:fs';
import type { TlsOptions } from 'node:tls';
import { DataSource, type DataSourceOptions, type MixedList, type EntitySchema } from 'typeorm';
import type { AppConfig } from '@hookhub/core';
import { runMigrationsLocked } from './migrate';
import { SafeTypeOrmLogger } from './typeorm-logger';

// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
export type EntityList = MixedList<Function | string | EntitySchema>;
// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
export type MigrationList = MixedList<Function | string>;

export interface StoreOptions {
  /**
   * Entities for a data source opened outside Nest (none for the migration CLI and the tests: migrations are
   * SQL). In the apps each lib's module names its own with `TypeOrmModule.forFeature`, loaded automatically.
   */
  entities?: EntityList;
  migrations: MigrationList;
}

function sslOptions(config: AppConfig): boolean | TlsOptions {
  const { ssl, sslCaFile } = config.database;
  if (ssl === 'disable') return false;
  const ca = sslCaFile ? readFileSync(sslCaFile, 'utf8') : undefined;
  return ssl === 'require' ? { rejectUnauthorized: false, ca } : { rejectUnauthorized: true, ca };
}

/**
 * The one set of data source options, shared by the apps, the migration CLI and the tests. `url` is the real
 * Postgres (DATABASE_URL) or the embedded store's loopback URL. Migrations never run at initialization:
 * {@link openDataSource} runs them under the advisory lock.
 */
export function buildDataSourceOptions(
  config: AppConfig,
  url: string,
  options: StoreOptions,
  embedded: boolean,
): DataSourceOptions {
  const poolSize = embedded ? config.database.embeddedPoolSize : config.database.poolSize;
  return {
    type: 'postgres',
    url,
    entities: options.entities ?? [],
    migrations: options.migrations,
    migrationsTableName: 'migrations',
    migrationsTransactionMode: 'each',
    migrationsRun: false,
    synchronize: false,
    uuidExtension: 'pgcrypto',
    installExtensions: false,
    applicationName: 'hookhub',
    poolSize,
    connectTimeoutMS: 10_000,
    ssl: embedded ? false : sslOptions(config),
    extra: {
      max: poolSize,
      // PGlite runs statements one at a time in this process: a server-side timeout would only fire late.
      ...(embedded || config.database.statementTimeoutMs === 0
        ? {}
        : { statement_timeout: config.database.statementTimeoutMs }),
      idleTimeoutMillis: 30_000,
    },
    logger: new SafeTypeOrmLogger(),
    logging: ['error', 'warn', 'migration'],
    maxQueryExecutionTime: 2000,
  };
}

/**
 * The one data source factory (the TypeORM module's `dataSourceFactory`, and the migration CLI's and tests'
 * through `StoreRuntime.open`): initializes the data source and, when `migrationsRun` is set, applies the
 * pending migrations under the advisory lock instead of TypeORM's unlocked run. A data source that fails to
 * migrate is closed again.
 */
export async function openDataSource(options: DataSourceOptions): Promise<DataSource> {
  const dataSource = new DataSource({ ...options, migrationsRun: false });
  await dataSource.initialize();
  try {
    if (options.migrationsRun) {
      const ran = await runMigrationsLocked(dataSource);
      if (ran.length) new Logger('Store').log(`applied migrations: ${ran.map((m) => m.name).join(', ')}`);
    }
    return dataSource;
  } catch (err) {
    await dataSource.destroy().catch(() => undefined);
    throw err;
  }
}
