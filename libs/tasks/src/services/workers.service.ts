import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@hookhub/core';
import { type WorkersDto, toQueueWithoutWorkersDto, toWorkerDto } from '../dto/workers.dto';
import { TaskRunStore } from '../stores/task-run.store';
import { WorkerStore } from '../stores/worker.store';

/** A worker is live while its last heartbeat is at most this many heartbeat intervals old. */
export const LIVE_HEARTBEATS = 3;
/** Stopped or silent workers are still listed for this long after they were last seen. */
const RECENT_SECONDS = 3600;

/** The execution nodes: which processes run workers, which queues they take, and which queues nobody takes. */
@Injectable()
export class WorkersService {
  constructor(
    private readonly workers: WorkerStore,
    private readonly runs: TaskRunStore,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async list(): Promise<WorkersDto> {
    const liveSeconds = LIVE_HEARTBEATS * this.config.queue.workerHeartbeatSeconds;
    const [workers, served] = await Promise.all([
      this.workers.list(liveSeconds, RECENT_SECONDS),
      this.workers.servedQueues(liveSeconds),
    ]);
    const unserved = await this.runs.queuedPerQueue(served);
    return { workers: workers.map(toWorkerDto), queues_without_workers: unserved.map(toQueueWithoutWorkersDto) };
  }
}
