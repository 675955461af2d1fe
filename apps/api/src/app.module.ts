import { DynamicModule, Module } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { AuthModule } from '@hookhub/auth';
import { type AppConfig, CoreModule } from '@hookhub/core';
import { MIGRATIONS } from '@hookhub/migrations';
import { StoreModule } from '@hookhub/store';
import { InboundModule } from '@hookhub/inbound';
import { OutboundModule } from '@hookhub/outbound';
import { TasksModule } from '@hookhub/tasks';
import { ApiKeysController } from './api-keys/api-keys.controller';
import { ConfigFileLoader } from './config/config-file.loader';
import { ConfigController } from './config/config.controller';
import { AuditController } from './audit/audit.controller';
import { AuthController } from './auth/auth.controller';
import { HealthController } from './health/health.controller';
import { StoreHealth } from './health/store.health';
import { AuditInterceptor } from './http/audit.interceptor';
import { MetricsController } from './metrics/metrics.controller';
import { OverviewController } from './overview/overview.controller';
import { OverviewService } from './overview/overview.service';
import { UsersController } from './users/users.controller';
import { EventTypesController } from './events/event-types.controller';
import { EventsController } from './events/events.controller';
import { WebhooksController } from './webhooks/webhooks.controller';
import { ProgramsController } from './programs/programs.controller';
import { ReceiptsController } from './receipts/receipts.controller';
import { SourcesController } from './sources/sources.controller';
import { TasksController } from './tasks/tasks.controller';
import { WorkersController } from './workers/workers.controller';

/** The HTTP app: admin API, receiver, health, metrics and (unless HOOKHUB_RUN_WORKERS=false) the workers. */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        CoreModule.forRoot(config),
        StoreModule.forRoot({ migrations: MIGRATIONS }),
        AuthModule,
        OutboundModule,
        TasksModule,
        InboundModule,
        TerminusModule.forRoot({ logger: false, errorLogStyle: 'json' }),
      ],
      controllers: [
        AuthController,
        UsersController,
        ApiKeysController,
        AuditController,
        SourcesController,
        ProgramsController,
        TasksController,
        WorkersController,
        OverviewController,
        ReceiptsController,
        EventTypesController,
        EventsController,
        WebhooksController,
        ConfigController,
        HealthController,
        MetricsController,
      ],
      providers: [
        StoreHealth,
        ConfigFileLoader,
        OverviewService,
        { provide: APP_INTERCEPTOR, useClass: AuditInterceptor },
      ],
    };
  }
}
