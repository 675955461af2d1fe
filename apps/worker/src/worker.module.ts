import { DynamicModule, Module } from '@nestjs/common';
import { AUTH_ENTITIES } from '@hookhub/auth';
import { type AppConfig, CoreModule } from '@hookhub/core';
import { MIGRATIONS } from '@hookhub/migrations';
import { StoreModule } from '@hookhub/store';
import { OUTBOUND_ENTITIES, OutboundModule } from '@hookhub/outbound';
import { TASK_ENTITIES, TasksModule } from '@hookhub/tasks';

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
        StoreModule.forRoot({ entities: [...AUTH_ENTITIES, ...OUTBOUND_ENTITIES, ...TASK_ENTITIES], migrations: MIGRATIONS }),
        OutboundModule,
        TasksModule,
      ],
    };
  }
}
