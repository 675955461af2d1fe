import { DynamicModule, Global, Inject, Injectable, Module, OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '@hookhub/core';
import type { StoreOptions } from './data-source.factory';
import { JobsService } from './queue/jobs.service';
import { QueueHousekeeping } from './queue/housekeeping';
import { QueueNotifier } from './queue/notifier';
import { StoreRuntime } from './store.runtime';
import { STORE_OPTIONS, type StoreRuntimeOptions } from './store.tokens';

@Injectable()
class StoreLifecycle implements OnApplicationShutdown {
  constructor(@Inject(StoreRuntime) private readonly runtime: StoreRuntime) {}

  // Runs after every beforeApplicationShutdown hook, so workers have drained before the pool closes.
  async onApplicationShutdown(): Promise<void> {
    await this.runtime.close();
  }
}

/** The database: embedded PGlite or DATABASE_URL, migrated at boot under an advisory lock, and the work queue. */
@Global()
@Module({})
export class StoreModule {
  static forRoot(options: StoreOptions): DynamicModule {
    return {
      module: StoreModule,
      global: true,
      providers: [
        {
          provide: StoreRuntime,
          inject: [APP_CONFIG],
          useFactory: (config: AppConfig) => StoreRuntime.open(config, options),
        },
        { provide: DataSource, inject: [StoreRuntime], useFactory: (runtime: StoreRuntime) => runtime.dataSource },
        { provide: QueueNotifier, inject: [StoreRuntime], useFactory: (runtime: StoreRuntime) => runtime.notifier },
        {
          provide: STORE_OPTIONS,
          inject: [APP_CONFIG],
          useFactory: (config: AppConfig): StoreRuntimeOptions => ({ pollIntervalMs: config.queue.pollIntervalMs, runWorkers: config.queue.runWorkers }),
        },
        StoreLifecycle,
        JobsService,
        QueueHousekeeping,
      ],
      exports: [StoreRuntime, DataSource, QueueNotifier, STORE_OPTIONS, JobsService, QueueHousekeeping],
    };
  }
}
