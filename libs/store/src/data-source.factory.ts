import { readFileSync } from 'node:fs';
import type { TlsOptions } from 'node:tls';
import { DataSource, type DataSourceOptions, type MixedList, type EntitySchema } from 'typeorm';
import type { AppConfig } from '@hookhub/core';
import { SafeTypeOrmLogger } from './typeorm-logger';

// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
export type EntityList = MixedList<Function | string | EntitySchema>;
// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
export type MigrationList = MixedList<Function | string>;

export interface StoreOptions {
  entities: EntityList;
  migrations: MigrationList;
}

function sslOptions(config: AppConfig): boolean | TlsOptions {
  const { ssl, sslCaFile } = config.database;
  if (ssl === 'disable') return false;
  const ca = sslCaFile ? readFileSync(sslCaFile, 'utf8') : undefined;
  return ssl === 'require' ? { rejectUnauthorized: false, ca } : { rejectUnauthorized: true, ca };
}

/**
 * The one data source factory, shared by the apps, the migration CLI and the tests. `url` is the real
 * Postgres (DATABASE_URL) or the embedded store's loopback URL.
 */
export function buildDataSourceOptions(config: AppConfig, url: string, options: StoreOptions, embedded: boolean): DataSourceOptions {
  const poolSize = embedded ? config.database.embeddedPoolSize : config.database.poolSize;
  return {
    type: 'postgres',
    url,
    entities: options.entities,
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
      ...(embedded || config.database.statementTimeoutMs === 0 ? {} : { statement_timeout: config.database.statementTimeoutMs }),
      idleTimeoutMillis: 30_000,
    },
    logger: new SafeTypeOrmLogger(),
    logging: ['error', 'warn', 'migration'],
    maxQueryExecutionTime: 2000,
  };
}

export function createDataSource(config: AppConfig, url: string, options: StoreOptions, embedded: boolean): DataSource {
  return new DataSource(buildDataSourceOptions(config, url, options, embedded));
}
