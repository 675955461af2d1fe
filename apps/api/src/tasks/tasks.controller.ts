import {
  Controller,
  Get,
  HttpCode,
  type MessageEvent,
  Param,
  ParseUUIDPipe,
  Post,
  Query,
  Sse,
  UseGuards,
} from '@nestjs/common';
import { ApiConflictResponse, ApiNotFoundResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Observable } from 'rxjs';
import { Audit, Auth, CurrentPrincipal, type Principal, Role } from '@hookhub/auth';
import { ErrorBody } from '@hookhub/core';
import { ListTasksQueryDto, TaskRunDetailDto, TaskRunPageDto, TasksService } from '@hookhub/tasks';
import { TaskExistsGuard } from './task-exists.guard';
import { ApiTaskOutputResponse } from './task-output.openapi';

@ApiTags('tasks')
@Controller('api/tasks')
export class TasksController {
  constructor(private readonly tasks: TasksService) {}

  /** Task runs, newest first; filter by status, program, source, receipt, queue and time. */
  @Get()
  @Auth(Role.Viewer, 'tasks:read')
  @ApiOperation({ summary: 'List task runs' })
  list(@Query() query: ListTasksQueryDto): Promise<TaskRunPageDto> {
    return this.tasks.list(query);
  }

  /** Status, times, exit code, output tails, and what triggered it. */
  @Get(':id')
  @Auth(Role.Viewer, 'tasks:read')
  @ApiOperation({ summary: 'Get a task run' })
  @ApiNotFoundResponse({ type: ErrorBody })
  get(@Param('id', ParseUUIDPipe) id: string): Promise<TaskRunDetailDto> {
    return this.tasks.get(id);
  }

  /**
   * Server-sent events with the run's output as it is written: `stdout` and `stderr` events carry new
   * text, `truncated` the bytes skipped, `status` events the status, and `end` the outcome, after which the
   * stream closes.
   */
  @Sse(':id/output')
  @Auth(Role.Viewer, 'tasks:read')
  @ApiOperation({ summary: 'Stream the output of a task run (SSE)' })
  @ApiTaskOutputResponse()
  @ApiNotFoundResponse({ type: ErrorBody })
  @UseGuards(TaskExistsGuard)
  output(@Param('id', ParseUUIDPipe) id: string): Observable<MessageEvent> {
    return this.tasks.streamOutput(id);
  }

  /** A queued run is canceled at once; a running one gets SIGTERM, then SIGKILL after the grace period. */
  @Post(':id/cancel')
  @HttpCode(200)
  @Auth(Role.Operator, 'tasks:run')
  @Audit('task.cancel', 'task')
  @ApiOperation({ summary: 'Cancel a task run' })
  @ApiNotFoundResponse({ type: ErrorBody })
  @ApiConflictResponse({ description: 'It already finished', type: ErrorBody })
  cancel(@Param('id', ParseUUIDPipe) id: string, @CurrentPrincipal() principal: Principal): Promise<TaskRunDetailDto> {
    return this.tasks.cancel(id, principal.username);
  }

  /** Queues a new run with the same program, argv and env (`trigger: retry`, `retry_of` this run). */
  @Post(':id/retry')
  @Auth(Role.Operator, 'tasks:run')
  @Audit('task.retry', 'task')
  @ApiOperation({ summary: 'Retry a finished task run' })
  @ApiNotFoundResponse({ type: ErrorBody })
  @ApiConflictResponse({ description: 'It has not finished', type: ErrorBody })
  retry(@Param('id', ParseUUIDPipe) id: string, @CurrentPrincipal() principal: Principal): Promise<TaskRunDetailDto> {
    return this.tasks.retry(id, principal.username);
  }
}
