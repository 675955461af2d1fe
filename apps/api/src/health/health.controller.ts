import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, type HealthCheckResult } from '@nestjs/terminus';
import { Public } from '@hookhub/auth';
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

  /** The process can serve requests: the database answers. 503 when it does not. */
  @Get('ready')
  @HealthCheck()
  @ApiOperation({ summary: 'Readiness (database)' })
  ready(): Promise<HealthCheckResult> {
    return this.health.check([() => this.store.check('database')]);
  }
}
