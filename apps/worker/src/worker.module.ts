import { DynamicModule, Module } from '@nestjs/common';
import { type AppConfig, CoreModule } from '@hookhub/core';
import { MIGRATIONS } from '@hookhub/migrations';
import { StoreModule } from '@hookhub/store';
import { OutboundModule } from '@hookhub/outbound';
import { TasksModule } from '@hookhub/tasks';

/**
 * The worker process of a scaled-out deployment: no public HTTP, only the background workers (task runs and
 * deliveries) on the shared Postgres. Run the API with HOOKHUB_RUN_WORKERS=false.
 */
@Module({})
export class WorkerModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: WorkerModule,
      imports: [
        CoreModule.forRoot(config),
        StoreModule.forRoot({ migrations: MIGRATIONS }),
        OutboundModule,
        TasksModule,
      ],
    };
  }
}
