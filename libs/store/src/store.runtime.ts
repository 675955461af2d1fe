import { Logger } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import type { AppConfig } from '@hookhub/core';
import { createDataSource, type StoreOptions } from './data-source.factory';
import { EmbeddedPostgres } from './embedded';
import { runMigrationsLocked } from './migrate';
import { InProcessNotifier, PostgresNotifier, type QueueNotifier } from './queue/notifier';

/**
 * Everything that owns a database resource: the embedded server (when no DATABASE_URL), the TypeORM data
 * source and the queue notifier. Opened once at boot, closed in reverse order at shutdown.
 */
export class StoreRuntime {
  private readonly logger = new Logger('Store');

  private constructor(
    readonly dataSource: DataSource,
    readonly notifier: QueueNotifier,
    readonly embedded?: EmbeddedPostgres,
  ) {}

  get isEmbedded(): boolean {
    return this.embedded !== undefined;
  }

  static async open(config: AppConfig, options: StoreOptions, runMigrations = config.database.migrationsRun): Promise<StoreRuntime> {
    const logger = new Logger('Store');
    let embedded: EmbeddedPostgres | undefined;
    let url = config.database.url;
    if (!url) {
      embedded = await EmbeddedPostgres.start({
        dataDir: config.dataDir,
        port: config.database.embeddedPort,
      });
      url = embedded.url;
      logger.log(`embedded Postgres (PGlite) serving ${config.dataDir} on ${url.replace(/^postgres:\/\/postgres@/, '').replace(/\/.*$/, '')}`);
    }
    const dataSource = createDataSource(config, url, options, embedded !== undefined);
    try {
      await dataSource.initialize();
      if (runMigrations) {
        const ran = await runMigrationsLocked(dataSource);
        if (ran.length) logger.log(`applied migrations: ${ran.map((m) => m.name).join(', ')}`);
      }
      const notifier: QueueNotifier = embedded
        ? new InProcessNotifier()
        : new PostgresNotifier(dataSource, url, dataSource.options.type === 'postgres' ? (dataSource.options.ssl ?? false) : false, logger);
      await notifier.start();
      return new StoreRuntime(dataSource, notifier, embedded);
    } catch (err) {
      if (dataSource.isInitialized) await dataSource.destroy().catch(() => undefined);
      await embedded?.stop().catch(() => undefined);
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.notifier.stop().catch((err: Error) => this.logger.warn(`notifier stop: ${err.message}`));
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
    await this.embedded?.stop();
  }
}
