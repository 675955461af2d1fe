import { Controller, Get, ServiceUnavailableException } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, type HealthCheckResult } from '@nestjs/terminus';
import { Public } from '@hookhub/auth';
import { ApiErrorExample, ErrorCode, HookhubError, STORE_RETRY_AFTER_SECONDS } from '@hookhub/core';
import { StoreHealth } from './store.health';

@ApiTags('health')
@Controller('health')
@Public()
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly store: StoreHealth,
  ) {}

  /** The process is up and serving HTTP. */
  @Get('live')
  @HealthCheck()
  @ApiOperation({ summary: 'Liveness' })
  live(): Promise<HealthCheckResult> {
    return this.health.check([]);
  }

  /** The process can serve requests: the database answers. 503 `store_unavailable` (with Retry-After) when it does not. */
  @Get('ready')
  @HealthCheck()
  @ApiOperation({ summary: 'Readiness (database)' })
  @ApiErrorExample(503, {
    description: 'The database does not answer (see Retry-After); `details` is the health check',
    code: ErrorCode.StoreUnavailable,
    message: 'The database does not answer',
    details: {
      status: 'error',
      info: {},
      error: { database: { status: 'down', message: 'no answer within 3000 ms' } },
      details: { database: { status: 'down', message: 'no answer within 3000 ms' } },
    },
  })
  async ready(): Promise<HealthCheckResult> {
    try {
      return await this.health.check([() => this.store.check('database')]);
    } catch (err) {
      if (!(err instanceof ServiceUnavailableException)) throw err;
      throw new HookhubError(ErrorCode.StoreUnavailable, 'The database does not answer', err.getResponse(), {
        'retry-after': String(STORE_RETRY_AFTER_SECONDS),
      });
    }
  }
}
