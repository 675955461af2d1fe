import { Injectable } from '@nestjs/common';
import { Db } from '@hookhub/store';

/** What a heartbeat writes: the process, the queues it takes and how busy its workers are. */
export interface WorkerBeat {
  id: string;
  hostname: string;
  pid: number;
  version: string;
  queues: readonly string[];
  startedAt: Date;
  runningTasks: number;
  runningDeliveries: number;
}

/** A row of `workers` with whether it is live (not stopped, and beat within the live window). */
export interface WorkerRow {
  id: string;
  hostname: string;
  pid: number;
  version: string;
  queues: string[];
  started_at: Date;
  last_seen: Date;
  running_tasks: number;
  running_deliveries: number;
  stopped_at: Date | null;
  live: boolean;
}

/** A worker is live when it did not stop and beat within this many seconds (`$1`). */
const LIVE = `(w.stopped_at IS NULL AND w.last_seen >= now() - ($1::int * interval '1 second'))`;

/**
 * `workers`: the registry of processes that run workers, written by their heartbeats.
 */
@Injectable()
export class WorkerStore {
  constructor(private readonly db: Db) {}

  /** Registers the process or renews its row: `last_seen` is the database's clock, as the live check's. */
  async beat(w: WorkerBeat): Promise<void> {
    await this.db.exec(
      `INSERT INTO workers (id, hostname, pid, version, queues, started_at, last_seen, running_tasks, running_deliveries)
       VALUES ($1, $2, $3, $4, $5::text[], $6, now(), $7, $8)
       ON CONFLICT (id) DO UPDATE SET last_seen = now(), queues = EXCLUDED.queues,
         running_tasks = EXCLUDED.running_tasks, running_deliveries = EXCLUDED.running_deliveries`,
      [w.id, w.hostname, w.pid, w.version, w.queues, w.startedAt, w.runningTasks, w.runningDeliveries],
    );
  }

  /** Marks the process stopped (a clean shutdown): it is no longer live, whatever its last beat. */
  async markStopped(id: string): Promise<void> {
    await this.db.exec(`UPDATE workers SET stopped_at = now(), last_seen = now() WHERE id = $1`, [id]);
  }

  /** Deletes the rows of processes not seen for `seconds`; returns how many. */
  async deleteGoneFor(seconds: number): Promise<number> {
    return this.db.exec(`DELETE FROM workers WHERE last_seen < now() - ($1::int * interval '1 second')`, [seconds]);
  }

  /**
   * Live workers first (by host, then start), then the others seen within `recentSeconds` (most recent
   * first). `liveSeconds` is the live window.
   */
  list(liveSeconds: number, recentSeconds: number): Promise<WorkerRow[]> {
    return this.db.rows<WorkerRow>(
      `SELECT w.id, w.hostname, w.pid, w.version, w.queues, w.started_at, w.last_seen, w.running_tasks,
         w.running_deliveries, w.stopped_at, ${LIVE} AS live
       FROM workers w
       WHERE ${LIVE} OR w.last_seen >= now() - ($2::int * interval '1 second')
       ORDER BY ${LIVE} DESC, CASE WHEN ${LIVE} THEN w.hostname END, CASE WHEN ${LIVE} THEN w.started_at END,
         w.last_seen DESC, w.id`,
      [liveSeconds, recentSeconds],
    );
  }

  /** The queues some live worker takes. */
  async servedQueues(liveSeconds: number): Promise<string[]> {
    const rows = await this.db.rows<{ queue: string }>(
      `SELECT DISTINCT unnest(w.queues) AS queue FROM workers w WHERE ${LIVE}`,
      [liveSeconds],
    );
    return rows.map((r) => r.queue);
  }
}
