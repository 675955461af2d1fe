import { Injectable, OnModuleInit } from '@nestjs/common';
import { MetricsService } from '@hookhub/core';
import { TaskRunStore } from '../stores/task-run.store';

/** Registers the task queue's depth, read on scrape. */
@Injectable()
export class TaskMetrics implements OnModuleInit {
  constructor(
    private readonly metrics: MetricsService,
    private readonly runs: TaskRunStore,
  ) {}

  onModuleInit(): void {
    this.metrics.registerQueue('tasks', () => this.runs.depth());
  }
}
