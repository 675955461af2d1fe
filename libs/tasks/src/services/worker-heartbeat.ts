import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { APP_CONFIG, type AppConfig, PROCESS_IDENTITY, type ProcessIdentity } from '@hookhub/core';
import { DeliveryWorker } from '@hookhub/outbound';
import { Periodic, STORE_OPTIONS, type StoreRuntimeOptions } from '@hookhub/store';
import { WorkerStore } from '../stores/worker.store';
import { TaskWorker } from './task-worker';

/** Rows of processes gone this long are deleted by the heartbeats of the others. */
const FORGET_AFTER_SECONDS = 86_400;
/** How long a clean shutdown waits to record itself stopped (a store that is down must not hold it up). */
const STOP_WRITE_MS = 2000;

/**
 * The heartbeat of a process that runs workers: registers it in `workers` at boot (id, host, pid, version,
 * the queues it takes), renews the row every HOOKHUB_WORKER_HEARTBEAT_SECONDS with how busy its task and
 * delivery workers are, forgets processes gone for a day, and marks it stopped when it shuts down cleanly
 * (it stops claiming then; runs in progress still drain).
 */
@Injectable()
export class WorkerHeartbeat implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('WorkerHeartbeat');
  private readonly periodic: Periodic;
  private started = false;
  /** A beat failed (the store is down): logged once, and once more when beats land again. */
  private failing = false;

  constructor(
    private readonly workers: WorkerStore,
    private readonly tasks: TaskWorker,
    private readonly deliveries: DeliveryWorker,
    @Inject(PROCESS_IDENTITY) private readonly identity: ProcessIdentity,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(STORE_OPTIONS) private readonly storeOptions: StoreRuntimeOptions,
  ) {
    this.periodic = new Periodic(
      config.queue.workerHeartbeatSeconds * 1000,
      () => this.beat(),
      () => undefined,
    );
  }

  async onApplicationBootstrap(): Promise<void> {
    if (!this.storeOptions.runWorkers) return;
    this.started = true;
    await this.beat();
    this.periodic.start();
    this.logger.log(
      `worker ${this.identity.id} (version ${this.identity.version}) takes task queues: ${this.config.queue.workerQueues.join(', ')}`,
    );
  }

  async beforeApplicationShutdown(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    await this.periodic.stop();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${STOP_WRITE_MS} ms`)), STOP_WRITE_MS);
    });
    try {
      await Promise.race([this.workers.markStopped(this.identity.id), timeout]);
    } catch (err) {
      this.logger.warn(`could not record worker ${this.identity.id} as stopped: ${(err as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
  }

  /** One heartbeat; never throws (a store that is down is logged once, until a beat lands again). */
  async beat(): Promise<void> {
    try {
      await this.workers.beat({
        id: this.identity.id,
        hostname: this.identity.hostname,
        pid: this.identity.pid,
        version: this.identity.version,
        queues: this.config.queue.workerQueues,
        startedAt: this.identity.startedAt,
        runningTasks: this.tasks.busy,
        runningDeliveries: this.deliveries.busy,
      });
      await this.workers.deleteGoneFor(FORGET_AFTER_SECONDS);
      if (this.failing) this.logger.log('worker heartbeats are recorded again');
      this.failing = false;
    } catch (err) {
      if (!this.failing) this.logger.warn(`worker heartbeat failed: ${(err as Error).message}`);
      this.failing = true;
    }
  }
}
