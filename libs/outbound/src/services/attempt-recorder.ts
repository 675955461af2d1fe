import { Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { GroupCommit } from '@hookhub/store';
import {
  type AttemptRecord,
  DeliveryAttemptStore,
  type LostAttempt,
  type RecordedAttempt,
} from '../stores/delivery-attempts.store';

const MAX_BATCH = 500;

/** The error of an attempt logged for a lost worker. */
const LOST_ERROR =
  'worker lost: the worker sending this attempt stopped before recording its outcome (the receiver may have got it)';

/**
 * Group commit for delivery attempts: the workers' outcomes are written together, one statement (one
 * round trip, one commit) per batch, and each worker goes on once its batch committed. Until then the
 * delivery stays leased, so a crash in between sends it again (at least once), never loses it.
 */
@Injectable()
export class AttemptRecorder {
  private readonly logger = new Logger('AttemptRecorder');
  private readonly batches: GroupCommit<AttemptRecord, RecordedAttempt>;

  constructor(private readonly attempts: DeliveryAttemptStore) {
    // One batch at a time: while it commits the next fills up. Measured with the outbound benchmark, this
    // cost Postgres less than four smaller batches at once, for the same delivery rate.
    this.batches = new GroupCommit((items) => this.attempts.recordBatch(items), {
      maxBatch: MAX_BATCH,
      maxFlushes: 1,
      onSplit: (size, err) =>
        this.logger.warn(`a batch of ${size} attempts failed (${(err as Error).message}); writing them one by one`),
    });
  }

  record(attempt: AttemptRecord): Promise<RecordedAttempt> {
    return this.batches.write(attempt);
  }

  /**
   * Logs the attempt of a worker that was lost (crashed, killed, cut off from the store) after it claimed a
   * delivery: the request may have reached the receiver, so it counts, with an unknown outcome. Called when
   * another worker takes the delivery over after its lease ran out, so attempts in the log equal requests
   * that may have been sent.
   */
  async recordLost(lost: Omit<LostAttempt, 'id' | 'error'>): Promise<void> {
    await this.attempts.recordLost({ ...lost, id: randomUUID(), error: LOST_ERROR });
  }
}
