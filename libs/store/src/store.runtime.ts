import { Logger } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import type { AppConfig } from '@hookhub/core';
import { buildDataSourceOptions, openDataSource, type StoreOptions } from './data-source.factory';
import { EmbeddedPostgres } from './embedded';
import { InProcessNotifier, PostgresNotifier, type QueueNotifier } from './queue/notifier';

/** The database server this process uses: the Postgres of DATABASE_URL, or the embedded store it started. */
export class StoreServer {
  private constructor(
    readonly url: string,
    readonly embedded?: EmbeddedPostgres,
  ) {}

  get isEmbedded(): boolean {
    return this.embedded !== undefined;
  }

  /** DATABASE_URL when set; otherwise starts the embedded store (PGlite) on loopback. */
  static async start(config: AppConfig): Promise<StoreServer> {
    if (config.database.url) return new StoreServer(config.database.url);
    const embedded = await EmbeddedPostgres.start({
      dataDir: config.dataDir,
      port: config.database.embeddedPort,
      sharedBuffersMb: config.database.embeddedSharedBuffersMb,
    });
    new Logger('Store').log(
      `embedded Postgres (PGlite) serving ${config.dataDir} on ${embedded.url.replace(/^postgres:\/\/postgres@/, '').replace(/\/.*$/, '')}`,
    );
    return new StoreServer(embedded.url, embedded);
  }

  /** Stops the embedded store (nothing to do for a real Postgres). Call after the data source closed. */
  async stop(): Promise<void> {
    await this.embedded?.stop();
  }
}

/** Starts the queue notifier: LISTEN/NOTIFY on a real Postgres, in-process on the embedded store. */
export async function startNotifier(dataSource: DataSource, server: StoreServer): Promise<QueueNotifier> {
  const ssl = dataSource.options.type === 'postgres' ? (dataSource.options.ssl ?? false) : false;
  const notifier: QueueNotifier = server.isEmbedded
    ? new InProcessNotifier()
    : new PostgresNotifier(dataSource, server.url, ssl, new Logger('Store'));
  await notifier.start();
  return notifier;
}

/**
 * Everything that owns a database resource: the server (the embedded one, when no DATABASE_URL), the
 * TypeORM data source and the queue notifier. Opened once at boot (in the apps by the store module, piece by
 * piece; by {@link StoreRuntime.open} for the migration CLI and tests), closed in reverse order at shutdown.
 */
export class StoreRuntime {
  private readonly logger = new Logger('Store');

  constructor(
    readonly dataSource: DataSource,
    readonly notifier: QueueNotifier,
    readonly server: StoreServer,
  ) {}

  get isEmbedded(): boolean {
    return this.server.isEmbedded;
  }

  /** Opens the store outside Nest, the same way the store module does. */
  static async open(
    config: AppConfig,
    options: StoreOptions,
    runMigrations = config.database.migrationsRun,
  ): Promise<StoreRuntime> {
    const server = await StoreServer.start(config);
    let dataSource: DataSource | undefined;
    try {
      dataSource = await openDataSource({
        ...buildDataSourceOptions(config, server.url, options, server.isEmbedded),
        migrationsRun: runMigrations,
      });
      return new StoreRuntime(dataSource, await startNotifier(dataSource, server), server);
    } catch (err) {
      if (dataSource?.isInitialized) await dataSource.destroy().catch(() => undefined);
      await server.stop().catch(() => undefined);
      throw err;
    }
  }

  /** The notifier, then the data source, then the embedded server. */
  async close(): Promise<void> {
    await this.notifier.stop().catch((err: Error) => this.logger.warn(`notifier stop: ${err.message}`));
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
    await this.server.stop();
  }
}
