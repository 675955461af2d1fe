import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Auth, Role } from '@hookhub/auth';
import { WorkersDto, WorkersService } from '@hookhub/tasks';

@ApiTags('workers')
@Controller('api/workers')
export class WorkersController {
  constructor(private readonly workers: WorkersService) {}

  /**
   * The processes that run workers (the API's own, and apps/worker processes), live ones first, then those
   * stopped or silent in the last hour; and the queues whose runs wait because no live worker takes them.
   */
  @Get()
  @Auth(Role.Viewer, 'tasks:read')
  @ApiOperation({ summary: 'List the workers and the queues nobody takes' })
  @ApiOkResponse({
    type: WorkersDto,
    example: {
      workers: [
        {
          id: 'nas-01:4711:9f3c2a1b',
          hostname: 'nas-01',
          pid: 4711,
          version: '0.1.0',
          queues: ['backup'],
          started_at: '2026-12-01T08:00:00.000Z',
          last_seen: '2026-12-01T09:30:05.000Z',
          live: true,
          running_tasks: 1,
          running_deliveries: 0,
          stopped_at: null,
        },
        {
          id: 'app-01:812:41d07c9e',
          hostname: 'app-01',
          pid: 812,
          version: '0.1.0',
          queues: ['deploy'],
          started_at: '2026-12-01T07:12:40.000Z',
          last_seen: '2026-12-01T09:10:00.000Z',
          live: false,
          running_tasks: 0,
          running_deliveries: 0,
          stopped_at: '2026-12-01T09:10:00.000Z',
        },
      ],
      queues_without_workers: [{ queue: 'deploy', queued: 2, oldest_due_age_seconds: 95.2 }],
    },
  })
  list(): Promise<WorkersDto> {
    return this.workers.list();
  }
}
