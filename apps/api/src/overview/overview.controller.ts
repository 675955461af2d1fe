import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Auth, Role } from '@hookhub/auth';
import { OverviewDto, OverviewQueryDto } from './overview.dto';
import { OverviewService } from './overview.service';

const DEFAULT_HOURS = 24;

@ApiTags('overview')
@Controller('api/overview')
export class OverviewController {
  constructor(private readonly overview: OverviewService) {}

  /**
   * The operator's overview over the last `hours` hours (24 by default): triggers received per hour by
   * verdict, task runs by status, delivery attempts per hour with the success rate and duration percentiles,
   * the webhooks failing now, and the work waiting with the live workers. The console's first page.
   */
  @Get()
  @Auth(Role.Viewer, 'sources:read', 'tasks:read', 'webhooks:read')
  @ApiOperation({ summary: 'Overview: what came in, ran, was delivered, is failing and waits' })
  @ApiOkResponse({
    type: OverviewDto,
    example: {
      from: '2026-11-30T10:00:00.000Z',
      to: '2026-12-01T09:31:02.120Z',
      hours: 24,
      receipts: [
        { hour: '2026-12-01T08:00:00.000Z', verdict: 'accepted', count: 1240 },
        { hour: '2026-12-01T08:00:00.000Z', verdict: 'invalid_signature', count: 3 },
      ],
      task_runs: [
        { status: 'failed', count: 4 },
        { status: 'succeeded', count: 312 },
      ],
      deliveries: [{ hour: '2026-12-01T08:00:00.000Z', attempts: 5000, succeeded: 4975 }],
      delivery_totals: { attempts: 5000, succeeded: 4975, success_rate: 0.995, p50_ms: 42, p95_ms: 180 },
      failing_webhooks: [
        {
          id: '0b9f5a2e-8f7c-4c38-9d55-3a1c2b7e4f10',
          name: 'billing',
          url: 'https://billing.example.com/hooks',
          failing_since: '2026-12-01T08:12:40.000Z',
          last_error: 'HTTP 503',
          last_error_at: '2026-12-01T09:29:58.000Z',
        },
      ],
      failing_webhooks_total: 1,
      task_queues: [{ queue: 'default', queued: 3, oldest_due_age_seconds: 1.5 }],
      deliveries_queued: 12,
      deliveries_due: 2,
      deliveries_oldest_due_age_seconds: 0.4,
      live_workers: 2,
    },
  })
  get(@Query() query: OverviewQueryDto): Promise<OverviewDto> {
    return this.overview.overview(query.hours ?? DEFAULT_HOURS);
  }
}
