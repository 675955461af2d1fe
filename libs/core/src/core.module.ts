import { DynamicModule, Global, Module } from '@nestjs/common';
import { APP_FILTER, APP_PIPE } from '@nestjs/core';
import { LoggerModule } from 'nestjs-pino';
import { Clock } from './clock';
import type { AppConfig } from './config/app-config';
import { HookhubExceptionFilter } from './errors/exception.filter';
import { createValidationPipe } from './http/validation';
import { loggerParams } from './logging/logging';
import { MetricsService } from './metrics.service';
import { PROCESS_IDENTITY, createProcessIdentity } from './process-identity';
import { secretBoxProvider } from './secret-box.provider';
import { APP_CONFIG } from './tokens';

/**
 * Config, logging, metrics, crypto and the clock for every other module; also installs the one exception
 * filter and the global validation pipe.
 */
@Global()
@Module({})
export class CoreModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: CoreModule,
      global: true,
      imports: [LoggerModule.forRoot(loggerParams(config))],
      providers: [
        { provide: APP_CONFIG, useValue: config },
        Clock,
        MetricsService,
        secretBoxProvider,
        { provide: PROCESS_IDENTITY, useFactory: createProcessIdentity },
        { provide: APP_FILTER, useClass: HookhubExceptionFilter },
        { provide: APP_PIPE, useFactory: createValidationPipe },
      ],
      exports: [APP_CONFIG, Clock, MetricsService, secretBoxProvider, PROCESS_IDENTITY],
    };
  }
}
