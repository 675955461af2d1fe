import { DynamicModule, Global, Inject, Injectable, Module, OnApplicationShutdown } from '@nestjs/common';
import { TypeOrmModule, type TypeOrmModuleOptions } from '@nestjs/typeorm';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { APP_CONFIG, type AppConfig, SHARED_COUNTER } from '@hookhub/core';
import { createSharedCounter } from './counters/shared-counter.store';
import { type MigrationList, buildDataSourceOptions, openDataSource } from './data-source.factory';
import { Db } from './db';
import { QueueNotifier } from './queue/notifier';
import { StoreRuntime, StoreServer, startNotifier } from './store.runtime';
import { STORE_OPTIONS, type StoreRuntimeOptions } from './store.tokens';

/**
 * Closes the store in order: the notifier, the data source, then the embedded server. Shutdown hooks run
 * after every beforeApplicationShutdown hook, so the workers have drained before the pool closes. It is a
 * provider of TypeORM's own module (see `extraProviders` below): Nest calls a module's providers' hooks before
 * the module's own, so this runs before TypeOrmCoreModule's hook, which then finds the data source closed.
 */
@Injectable()
class StoreLifecycle implements OnApplicationShutdown {
  constructor(@Inject(StoreRuntime) private readonly runtime: StoreRuntime) {}

  async onApplicationShutdown(): Promise<void> {
    await this.runtime.close();
  }
}

export interface StoreModuleOptions {
  migrations: MigrationList;
}

/**
 * The database: embedded PGlite or DATABASE_URL, the TypeORM data source (`@nestjs/typeorm`, with the
 * entities each lib's module names in `TypeOrmModule.forFeature`) migrated at boot under an advisory lock,
 * and the work queue's notifier.
 */
@Global()
@Module({})
export class StoreModule {
  static forRoot(options: StoreModuleOptions): DynamicModule {
    // This app's server, so a data source that fails to open stops the embedded store started for it.
    let server: StoreServer | undefined;
    return {
      module: StoreModule,
      global: true,
      imports: [
        TypeOrmModule.forRootAsync({
          inject: [APP_CONFIG, StoreServer],
          useFactory: (config: AppConfig, storeServer: StoreServer): TypeOrmModuleOptions => ({
            ...buildDataSourceOptions(
              config,
              storeServer.url,
              { migrations: options.migrations },
              storeServer.isEmbedded,
            ),
            migrationsRun: config.database.migrationsRun,
            autoLoadEntities: true,
            // A store that cannot be opened stops the boot at once, as it always did: no connection retries.
            toRetry: () => false,
          }),
          dataSourceFactory: async (dataSourceOptions?: DataSourceOptions) => {
            if (!dataSourceOptions) throw new Error('the store has no data source options');
            try {
              return await openDataSource(dataSourceOptions);
            } catch (err) {
              await server?.stop().catch(() => undefined);
              throw err;
            }
          },
          extraProviders: [StoreLifecycle],
        }),
      ],
      providers: [
        {
          provide: StoreServer,
          inject: [APP_CONFIG],
          useFactory: async (config: AppConfig) => (server = await StoreServer.start(config)),
        },
        {
          provide: QueueNotifier,
          inject: [DataSource, StoreServer],
          useFactory: async (dataSource: DataSource, storeServer: StoreServer) => {
            try {
              return await startNotifier(dataSource, storeServer);
            } catch (err) {
              await dataSource.destroy().catch(() => undefined);
              await storeServer.stop().catch(() => undefined);
              throw err;
            }
          },
        },
        {
          provide: StoreRuntime,
          inject: [DataSource, QueueNotifier, StoreServer],
          useFactory: (dataSource: DataSource, notifier: QueueNotifier, storeServer: StoreServer) =>
            new StoreRuntime(dataSource, notifier, storeServer),
        },
        {
          provide: STORE_OPTIONS,
          inject: [APP_CONFIG],
          useFactory: (config: AppConfig): StoreRuntimeOptions => ({
            pollIntervalMs: config.queue.pollIntervalMs,
            runWorkers: config.queue.runWorkers,
          }),
        },
        Db,
        // The counters every process shares (webhook rates, refusal bursts): Redis, else this store.
        { provide: SHARED_COUNTER, inject: [APP_CONFIG, Db], useFactory: createSharedCounter },
      ],
      exports: [StoreServer, StoreRuntime, QueueNotifier, STORE_OPTIONS, Db, SHARED_COUNTER],
    };
  }
}
