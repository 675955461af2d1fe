import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { TasksService } from '@hookhub/tasks';

/**
 * Answers 404 for an unknown task before an SSE stream starts. Nest sends an @Sse handler's headers before
 * its pipes run, so the check has to be a guard (guards run first).
 */
@Injectable()
export class TaskExistsGuard implements CanActivate {
  constructor(private readonly tasks: TasksService) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const params = context.switchToHttp().getRequest<FastifyRequest<{ Params: { id: string } }>>().params;
    await this.tasks.find(params.id);
    return true;
  }
}
