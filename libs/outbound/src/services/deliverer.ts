import { Inject, Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '@hookhub/core';
import { rowsOf, untilStored } from '@hookhub/store';
import { formatBody } from '../delivery/body-format';
import { type RetryDecision, retryDecision } from '../delivery/retry-policy';
import { HttpSender, type SendResult } from '../net/http-sender';
import { signatureHeaders } from '../signing/signing';
import { AttemptRecorder } from './attempt-recorder';
import { type ClaimedDelivery, DeliveryQueue } from './delivery-queue';
import { EventsService, HUB_PUBLISHER } from './events.service';
import { type ActiveSubscription, SubscriptionsService } from './subscriptions.service';

export const USER_AGENT = 'Hookhub-Webhooks/1.0';
const SENSITIVE_HEADER = /auth|token|secret|key|cookie|signature|password/i;

export interface DeliverOptions {
  /** Counts toward the webhook's health (failing_since, auto-disable). False for tests. */
  health: boolean;
  /** Retry on failure by the schedule. False for tests. */
  retry: boolean;
}

export interface DeliveryOutcome {
  attemptId: string | null;
  status: 'succeeded' | 'failed' | 'queued';
}

function errorText(result: SendResult): string | null {
  if (result.ok) return null;
  if (result.status !== null) {
    const excerpt = result.body.trim().slice(0, 200);
    return `HTTP ${result.status}${excerpt ? `: ${excerpt}` : ''}`;
  }
  return result.error ?? 'no answer';
}

/** Sends one claimed delivery, signed, and records the attempt and what comes next. */
@Injectable()
export class Deliverer {
  private readonly logger = new Logger('Deliverer');

  constructor(
    private readonly dataSource: DataSource,
    private readonly recorder: AttemptRecorder,
    private readonly queue: DeliveryQueue,
    private readonly sender: HttpSender,
    private readonly subscriptions: SubscriptionsService,
    private readonly events: EventsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** The request for one attempt: the body in the webhook's format, signed with every live secret. */
  request(active: ActiveSubscription, row: ClaimedDelivery, attempt: number): { body: Buffer; headers: Record<string, string>; logged: Record<string, string> } {
    const sub = active.subscription;
    const body = formatBody(row.body, sub.bodyFormat);
    const signing = signatureHeaders({
      format: sub.signatureFormat,
      id: row.event_id,
      timestamp: Math.floor(Date.now() / 1000),
      body,
      eventType: row.event_type,
      secrets: active.secrets,
      options: sub.signatureOptions,
    });
    const base = {
      'content-type': 'application/json',
      'user-agent': USER_AGENT,
      'x-hookhub-event': row.event_type,
      'x-hookhub-delivery': row.id,
      'x-hookhub-attempt': String(attempt),
    };
    const headers = { ...active.headers, ...base, ...signing };
    const logged: Record<string, string> = { ...base };
    // Custom header values are secrets (credentials, usually): the log keeps their names only.
    for (const name of Object.keys(active.headers)) logged[name] = '[redacted]';
    for (const [name, value] of Object.entries(signing)) logged[name] = SENSITIVE_HEADER.test(name) ? '[redacted]' : value;
    return { body, headers, logged };
  }

  /** `active`: the subscription when the caller already looked it up (the worker does, for its rate limit). */
  async deliver(row: ClaimedDelivery, workerId: string, options: DeliverOptions, active?: ActiveSubscription | null): Promise<DeliveryOutcome> {
    active ??= await this.subscriptions.active(row.subscription_id, row.subscription_updated_at);
    if (!active) return { attemptId: null, status: 'failed' };
    const sub = active.subscription;
    if (!sub.enabled && options.health) {
      await this.queue.fail(row.id, workerId, `the webhook is disabled${sub.disabledReason ? `: ${sub.disabledReason}` : ''}`, 'failed');
      return { attemptId: null, status: 'failed' };
    }
    if (row.recovered && row.attempts > 1) {
      await this.recorder.recordLost({
        deliveryId: row.id, eventId: row.event_id, subscriptionId: row.subscription_id, eventType: row.event_type, attempt: row.attempts - 1,
        trigger: row.trigger, url: sub.url,
      });
    }
    const attempt = row.attempts - row.retry_base;
    let result: SendResult;
    let logged: Record<string, string> = {};
    if (!active.secrets.length) {
      result = { ok: false, status: null, headers: {}, body: '', bodyTruncated: false, durationMs: 0, error: 'the webhook has no live signing secret; rotate it', errorKind: 'protocol', retryAfterSeconds: null };
    } else {
      const req = this.request(active, row, row.attempts);
      logged = req.logged;
      result = await this.sender.send({ url: sub.url, headers: req.headers, body: req.body, timeoutMs: sub.timeoutMs });
    }
    const decision: RetryDecision | null = result.ok
      ? null
      : options.retry
        ? retryDecision(result, attempt, sub.retrySchedule ?? this.config.outbound.retrySchedule)
        : { action: 'give_up', why: 'a test is sent once' };
    const nextAt = decision?.action === 'retry' ? new Date(Date.now() + decision.delaySeconds * 1000) : null;
    const status = result.ok ? 'succeeded' : nextAt ? 'queued' : 'failed';
    const error = errorText(result);
    const gone = options.health && decision?.action === 'disable';
    // A 410 disables the webhook before this delivery stops counting as in flight: recorded first, another
    // worker could claim the webhook's next due delivery and send it to the endpoint that just said Gone.
    if (gone) await untilStored(() => this.disable(sub.id, `the endpoint answered 410 Gone at ${new Date().toISOString()}`), { what: `disabling webhook ${sub.id}` });
    const attemptId = randomUUID();
    // Retried while the store restarts (the worker keeps renewing the lease meanwhile), so a delivery the
    // receiver took is not sent again once the store is back.
    const recorded = await untilStored(() => this.recorder.record({
      deliveryId: row.id, workerId, status, nextAt, error, httpStatus: result.status, attemptId, eventId: row.event_id,
      subscriptionId: row.subscription_id, eventType: row.event_type, attempt: row.attempts, trigger: row.trigger, url: sub.url,
      requestHeaders: logged, success: result.ok, responseHeaders: result.headers, responseBody: result.body,
      responseTruncated: result.bodyTruncated, durationMs: result.durationMs, errorKind: result.errorKind ?? (result.ok ? null : 'http'),
      health: options.health,
    }), {
      what: `the attempt of delivery ${row.id}`,
      onDown: (err) => this.logger.warn(`the store is unavailable (${(err as Error).message}); recording the attempt of delivery ${row.id} once it is back`),
    });
    if (!options.health || result.ok || gone) return { attemptId, status };
    if (recorded.failingSince) {
      const since = recorded.failingSince;
      if (Date.now() - since.getTime() >= this.config.outbound.disableAfterSeconds * 1000) {
        await this.disable(sub.id, `every attempt failed since ${since.toISOString()} (${this.config.outbound.disableAfterSeconds} s or more); last error: ${error}`);
      }
    }
    return { attemptId, status };
  }

  /**
   * Disables a webhook Hookhub gave up on, fails its queued deliveries (bulk recover queues them again), and
   * publishes `webhook.disabled`, all in one transaction; once, however many workers see the failure.
   */
  async disable(id: string, reason: string): Promise<boolean> {
    let published = 0;
    let disabled = false;
    await this.dataSource.transaction(async (m) => {
      const list = rowsOf<{ id: string; name: string; url: string; disabled_at: Date }>(await m.query(
        `UPDATE subscriptions SET enabled = false, disabled_reason = $2, disabled_at = now(), updated_at = now()
         WHERE id = $1 AND enabled RETURNING id, name, url, disabled_at`,
        [id, reason],
      ));
      if (!list.length) return;
      disabled = true;
      await m.query(
        `UPDATE deliveries SET status = 'failed', last_error = $2, updated_at = now(), finished_at = now()
         WHERE subscription_id = $1 AND status = 'queued'`,
        [id, `the webhook was disabled: ${reason}`],
      );
      const event = await this.events.publishWithin(m, {
        type: 'webhook.disabled',
        data: { webhook_id: id, name: list[0].name, url: list[0].url, reason, disabled_at: new Date(list[0].disabled_at).toISOString() },
        publishedBy: HUB_PUBLISHER,
      });
      published = event.deliveries;
    });
    if (published) await this.events.wake();
    if (disabled) this.logger.warn({ msg: 'webhook disabled', webhookId: id, reason });
    return disabled;
  }
}
