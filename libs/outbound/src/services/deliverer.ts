import { Inject, Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { APP_CONFIG, type AppConfig, Clock, MetricsService, statusClass } from '@hookhub/core';
import { untilStored } from '@hookhub/store';
import { errorText } from '../net/error-text';
import { HttpSender, type SendResult } from '../net/http-sender';
import { USER_AGENT } from '../net/user-agent';
import { formatBody } from '../policy/body-format';
import { type RetryDecision, retryDecision } from '../policy/retry-policy';
import { signatureHeaders } from '../signing/signing';
import { type ClaimedDelivery, DeliveryStore } from '../stores/deliveries.store';
import { AttemptRecorder } from './attempt-recorder';
import { type ActiveWebhook, WebhooksService } from './webhooks.service';
import { WebhookDisabler } from './webhook-disabler';

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

/** Sends one claimed delivery, signed, and records the attempt and what comes next. */
@Injectable()
export class Deliverer {
  private readonly logger = new Logger('Deliverer');

  constructor(
    private readonly recorder: AttemptRecorder,
    private readonly deliveries: DeliveryStore,
    private readonly sender: HttpSender,
    private readonly webhooks: WebhooksService,
    private readonly disabler: WebhookDisabler,
    private readonly clock: Clock,
    private readonly metrics: MetricsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** The request for one attempt: the body in the webhook's format, signed with every live secret. */
  request(
    active: ActiveWebhook,
    row: ClaimedDelivery,
    attempt: number,
  ): { body: Buffer; headers: Record<string, string>; logged: Record<string, string> } {
    const webhook = active.webhook;
    const body = formatBody(row.body, webhook.bodyFormat);
    const signing = signatureHeaders({
      format: webhook.signatureFormat,
      id: row.event_id,
      timestamp: Math.floor(this.clock.nowMs() / 1000),
      body,
      eventType: row.event_type,
      secrets: active.secrets,
      options: webhook.signatureOptions,
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
    for (const [name, value] of Object.entries(signing))
      logged[name] = SENSITIVE_HEADER.test(name) ? '[redacted]' : value;
    return { body, headers, logged };
  }

  /** `active`: the webhook when the caller already looked it up (the worker does, for its rate limit). */
  async deliver(
    row: ClaimedDelivery,
    workerId: string,
    options: DeliverOptions,
    active?: ActiveWebhook | null,
  ): Promise<DeliveryOutcome> {
    active ??= await this.webhooks.active(row.webhook_id, row.webhook_updated_at);
    if (!active) return { attemptId: null, status: 'failed' };
    const webhook = active.webhook;
    if (!webhook.enabled && options.health) {
      await this.deliveries.failClaimed(
        row.id,
        workerId,
        `the webhook is disabled${webhook.disabledReason ? `: ${webhook.disabledReason}` : ''}`,
      );
      return { attemptId: null, status: 'failed' };
    }
    if (row.recovered && row.attempts > 1) {
      await this.recorder.recordLost({
        deliveryId: row.id,
        eventId: row.event_id,
        webhookId: row.webhook_id,
        eventType: row.event_type,
        attempt: row.attempts - 1,
        trigger: row.trigger,
        url: webhook.url,
      });
      this.metrics.deliveryAttempts.inc({ outcome: 'lost', status_class: 'none' });
    }
    const attempt = row.attempts - row.retry_base;
    let result: SendResult;
    let logged: Record<string, string> = {};
    if (!active.secrets.length) {
      result = {
        ok: false,
        status: null,
        headers: {},
        body: '',
        bodyTruncated: false,
        durationMs: 0,
        error: 'the webhook has no live signing secret; rotate it',
        errorKind: 'protocol',
        retryAfterSeconds: null,
      };
    } else {
      const req = this.request(active, row, row.attempts);
      logged = req.logged;
      result = await this.sender.send({
        url: webhook.url,
        headers: req.headers,
        body: req.body,
        timeoutMs: webhook.timeoutMs,
      });
    }
    const decision: RetryDecision | null = result.ok
      ? null
      : options.retry
        ? retryDecision(result, attempt, webhook.retrySchedule ?? this.config.outbound.retrySchedule)
        : { action: 'give_up', why: 'a test is sent once' };
    const nextAt = decision?.action === 'retry' ? new Date(this.clock.nowMs() + decision.delaySeconds * 1000) : null;
    const status = result.ok ? 'succeeded' : nextAt ? 'queued' : 'failed';
    const error = errorText(result);
    const gone = options.health && decision?.action === 'disable';
    // A 410 disables the webhook before this delivery stops counting as in flight: recorded first, another
    // worker could claim the webhook's next due delivery and send it to the endpoint that just said Gone.
    if (gone)
      await untilStored(
        () => this.disabler.disable(webhook.id, `the endpoint answered 410 Gone at ${this.clock.now().toISOString()}`),
        { what: `disabling webhook ${webhook.id}` },
      );
    const attemptId = randomUUID();
    // Retried while the store restarts (the worker keeps renewing the lease meanwhile), so a delivery the
    // receiver took is not sent again once the store is back.
    const recorded = await untilStored(
      () =>
        this.recorder.record({
          deliveryId: row.id,
          workerId,
          status,
          nextAt,
          error,
          httpStatus: result.status,
          attemptId,
          eventId: row.event_id,
          webhookId: row.webhook_id,
          eventType: row.event_type,
          attempt: row.attempts,
          trigger: row.trigger,
          url: webhook.url,
          requestHeaders: logged,
          success: result.ok,
          responseHeaders: result.headers,
          responseBody: result.body,
          responseTruncated: result.bodyTruncated,
          durationMs: result.durationMs,
          errorKind: result.errorKind ?? (result.ok ? null : 'http'),
          health: options.health,
        }),
      {
        what: `the attempt of delivery ${row.id}`,
        onDown: (err) =>
          this.logger.warn(
            `the store is unavailable (${(err as Error).message}); recording the attempt of delivery ${row.id} once it is back`,
          ),
      },
    );
    this.countAttempt(row, status, result);
    if (!options.health || result.ok || gone) return { attemptId, status };
    if (recorded.failingSince) {
      const since = recorded.failingSince;
      if (this.clock.nowMs() - since.getTime() >= this.config.outbound.disableAfterSeconds * 1000) {
        await this.disabler.disable(
          webhook.id,
          `every attempt failed since ${since.toISOString()} (${this.config.outbound.disableAfterSeconds} s or more); last error: ${error}`,
        );
      }
    }
    return { attemptId, status };
  }

  /** The attempt in /metrics; a success also gives the event's publish-to-delivery latency (not for tests). */
  private countAttempt(row: ClaimedDelivery, status: DeliveryOutcome['status'], result: SendResult): void {
    this.metrics.deliveryAttempts.inc({
      outcome: status === 'queued' ? 'retrying' : status,
      status_class: statusClass(result.status),
    });
    if (result.ok && row.event_created_at && row.trigger !== 'test') {
      const publishedMs = new Date(row.event_created_at).getTime();
      this.metrics.deliveryLatency.observe(Math.max(0, this.clock.nowMs() - publishedMs) / 1000);
    }
  }
}
