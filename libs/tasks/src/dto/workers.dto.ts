import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { QueueBacklog } from '../stores/task-run.store';
import type { WorkerRow } from '../stores/worker.store';

/** A process that runs the task and delivery workers, as its heartbeats describe it. */
export class WorkerDto {
  /** The worker id its task runs' `worker_id` holds: `<hostname>:<pid>:<random>`. @example "nas-01:4711:9f3c2a1b" */
  id!: string;
  /** @example "nas-01" */
  hostname!: string;
  /** @example 4711 */
  pid!: number;
  /** Hookhub's version in that process. @example "0.1.0" */
  version!: string;
  /** The task queues it takes (HOOKHUB_WORKER_QUEUES). @example ["backup"] */
  queues!: string[];
  /** @example "2026-12-01T08:00:00.000Z" */
  started_at!: string;
  /** Its last heartbeat. @example "2026-12-01T09:30:05.000Z" */
  last_seen!: string;
  /** Not stopped, and its last heartbeat is at most three heartbeat intervals old. @example true */
  live!: boolean;
  /** Task runs in progress at its last heartbeat. @example 1 */
  running_tasks!: number;
  /** Deliveries in flight at its last heartbeat. @example 0 */
  running_deliveries!: number;
  /** When it shut down cleanly; null while it runs (or when it vanished without saying so). */
  @ApiPropertyOptional({ type: String, nullable: true, example: null })
  stopped_at!: string | null;
}

/** A queue with queued runs but no live worker to take them. */
export class QueueWithoutWorkersDto {
  /** @example "deploy" */
  queue!: string;
  /** Runs waiting on it (due now or later). @example 3 */
  queued!: number;
  /** How long the oldest run that is due has waited; 0 when none is due yet. @example 42.5 */
  oldest_due_age_seconds!: number;
}

export class WorkersDto {
  /** Live workers first, then those stopped or silent that were seen in the last hour. */
  @ApiProperty({ type: [WorkerDto] })
  workers!: WorkerDto[];
  /** Queues whose runs wait for a worker that nobody runs (start one with HOOKHUB_WORKER_QUEUES naming them). */
  @ApiProperty({ type: [QueueWithoutWorkersDto] })
  queues_without_workers!: QueueWithoutWorkersDto[];
}

export function toWorkerDto(w: WorkerRow): WorkerDto {
  return {
    id: w.id,
    hostname: w.hostname,
    pid: w.pid,
    version: w.version,
    queues: w.queues,
    started_at: w.started_at.toISOString(),
    last_seen: w.last_seen.toISOString(),
    live: w.live,
    running_tasks: w.running_tasks,
    running_deliveries: w.running_deliveries,
    stopped_at: w.stopped_at?.toISOString() ?? null,
  };
}

export function toQueueWithoutWorkersDto(q: QueueBacklog): QueueWithoutWorkersDto {
  return { queue: q.queue, queued: q.queued, oldest_due_age_seconds: Math.round(q.oldest_due_age_seconds * 10) / 10 };
}
