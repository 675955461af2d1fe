import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { OutboundModule } from '@hookhub/outbound';
import { ProcessRunner } from './runner/process-runner';
import { ProgramsService } from './services/programs.service';
import { TaskMetrics } from './services/task-metrics';
import { TaskWorker } from './services/task-worker';
import { TasksService } from './services/tasks.service';
import { WorkerHeartbeat } from './services/worker-heartbeat';
import { WorkersService } from './services/workers.service';
import { ProgramStore } from './stores/program.store';
import { TaskRunStore } from './stores/task-run.store';
import { WorkerStore } from './stores/worker.store';
import { Program } from './entities/program.entity';
import { TaskRun } from './entities/task-run.entity';

/**
 * Programs (the allow-list), task runs on the task queue, the process runner and the task worker. Their
 * tables are read and written only through the stores (`programs`: ProgramStore, `task_runs`: TaskRunStore).
 */
@Module({
  imports: [TypeOrmModule.forFeature([Program, TaskRun]), OutboundModule],
  providers: [
    ProcessRunner,
    ProgramStore,
    TaskRunStore,
    WorkerStore,
    ProgramsService,
    TasksService,
    TaskWorker,
    TaskMetrics,
    WorkersService,
    WorkerHeartbeat,
  ],
  exports: [ProcessRunner, ProgramStore, TaskRunStore, ProgramsService, TasksService, TaskWorker, WorkersService],
})
export class TasksModule {}
