import { Controller, Get, Header } from '@nestjs/common';
import { ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import { Public } from '@hookhub/auth';
import { MetricsService } from '@hookhub/core';

@ApiTags('health')
@Controller('metrics')
@Public()
export class MetricsController {
  constructor(private readonly metrics: MetricsService) {}

  /** Prometheus metrics: HTTP, process, queue, task run, delivery and receipt metrics (see the README). */
  @Get()
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  @ApiProduces('text/plain')
  @ApiOperation({ summary: 'Prometheus metrics' })
  render(): Promise<string> {
    return this.metrics.render();
  }
}
