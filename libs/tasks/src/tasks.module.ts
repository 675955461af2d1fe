import { Module } from '@nestjs/common';
import { OutboundModule } from '@hookhub/outbound';
import { ProcessRunner } from './runner/process-runner';
import { ProgramsService } from './services/programs.service';
import { TaskWorker } from './services/task-worker';
import { TasksService } from './services/tasks.service';
import { Program } from './entities/program.entity';
import { TaskRun } from './entities/task-run.entity';

export const TASK_ENTITIES = [Program, TaskRun];

/** Programs (the allow-list), task runs on the task queue, the process runner and the task worker. */
@Module({
  imports: [OutboundModule],
  providers: [ProcessRunner, ProgramsService, TasksService, TaskWorker],
  exports: [ProcessRunner, ProgramsService, TasksService, TaskWorker],
})
export class TasksModule {}
