import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { Clock, MetricsService, loadConfig } from '@hookhub/core';
import { Webhook } from '../entities/webhook.entity';
import type { HttpSender, SendRequest, SendResult } from '../net/http-sender';
import type { ClaimedDelivery, DeliveryStore } from '../stores/deliveries.store';
import type { AttemptRecord, RecordedAttempt } from '../stores/delivery-attempts.store';
import type { AttemptRecorder } from './attempt-recorder';
import { Deliverer, type DeliverOptions } from './deliverer';
import type { ActiveWebhook, WebhooksService } from './webhooks.service';
import type { WebhookDisabler } from './webhook-disabler';

/** The deliverer with fakes for its side effects: no database, no network, time from a fake clock. */

const T0 = Date.parse('2030-01-02T03:04:05.678Z');
const SCHEDULE = [10, 60, 300];
const DISABLE_AFTER_S = 3600;
const WORKER = 'worker-1';
const WORKER_RUN: DeliverOptions = { health: true, retry: true };
const TEST_SEND: DeliverOptions = { health: false, retry: false };

const config = loadConfig({
  NODE_ENV: 'test',
  HOOKHUB_DATA_DIR: '/nonexistent/hookhub-unit',
  HOOKHUB_JWT_SECRET: 'x'.repeat(32),
  HOOKHUB_MASTER_KEY: '0'.repeat(64),
  HOOKHUB_RETRY_SCHEDULE: SCHEDULE.join(','),
  HOOKHUB_WEBHOOK_DISABLE_AFTER_SECONDS: String(DISABLE_AFTER_S),
});

class FakeClock extends Clock {
  constructor(private t: number) {
    super();
  }
  override now(): Date {
    return new Date(this.t);
  }
  override nowMs(): number {
    return this.t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

/** What happened, in order, across the fakes (the 410 rule is about order). */
type Call = 'send' | 'record' | 'disable' | 'fail';

class FakeSender implements Pick<HttpSender, 'send'> {
  readonly requests: SendRequest[] = [];
  constructor(
    private readonly calls: Call[],
    public answer: Partial<SendResult> = {},
  ) {}
  send(request: SendRequest): Promise<SendResult> {
    this.calls.push('send');
    this.requests.push(request);
    return Promise.resolve({
      ok: true,
      status: 200,
      headers: {},
      body: '',
      bodyTruncated: false,
      durationMs: 12,
      error: null,
      errorKind: null,
      retryAfterSeconds: null,
      ...this.answer,
    });
  }
}

/** Records attempts; keeps `failing_since` as the store does (set by the first failure, cleared by a success). */
class FakeRecorder implements Pick<AttemptRecorder, 'record' | 'recordLost'> {
  readonly records: AttemptRecord[] = [];
  readonly lost: Array<{ deliveryId: string; attempt: number }> = [];
  failingSince: Date | null = null;
  constructor(
    private readonly calls: Call[],
    private readonly clock: Clock,
  ) {}
  record(attempt: AttemptRecord): Promise<RecordedAttempt> {
    this.calls.push('record');
    this.records.push(attempt);
    if (attempt.success) this.failingSince = null;
    else if (attempt.health) this.failingSince ??= this.clock.now();
    return Promise.resolve({ updated: true, failingSince: this.failingSince });
  }
  recordLost(lost: { deliveryId: string; attempt: number }): Promise<void> {
    this.lost.push({ deliveryId: lost.deliveryId, attempt: lost.attempt });
    return Promise.resolve();
  }
}

class FakeDeliveries implements Pick<DeliveryStore, 'failClaimed'> {
  readonly failed: Array<{ id: string; workerId: string; error: string }> = [];
  constructor(private readonly calls: Call[]) {}
  failClaimed(id: string, workerId: string, error: string): Promise<boolean> {
    this.calls.push('fail');
    this.failed.push({ id, workerId, error });
    return Promise.resolve(true);
  }
}

class FakeDisabler implements Pick<WebhookDisabler, 'disable'> {
  readonly disabled: Array<{ id: string; reason: string }> = [];
  constructor(
    private readonly calls: Call[],
    private readonly active: ActiveWebhook,
  ) {}
  disable(id: string, reason: string): Promise<boolean> {
    this.calls.push('disable');
    this.disabled.push({ id, reason });
    this.active.webhook.enabled = false;
    this.active.webhook.disabledReason = reason;
    return Promise.resolve(true);
  }
}

class FakeWebhooks implements Pick<WebhooksService, 'active'> {
  constructor(public current: ActiveWebhook | null) {}
  active(): Promise<ActiveWebhook | null> {
    return Promise.resolve(this.current);
  }
}

function webhook(overrides: Partial<Webhook> = {}): Webhook {
  return Object.assign(new Webhook(), {
    id: 'wh-1',
    url: 'https://receiver.example/hook',
    headers: {},
    timeoutMs: 5000,
    retrySchedule: null,
    signatureFormat: 'standard-webhooks',
    signatureOptions: {},
    bodyFormat: 'compact',
    enabled: true,
    disabledReason: null,
    updatedAt: new Date(T0 - 60_000),
    ...overrides,
  });
}

function claimed(overrides: Partial<ClaimedDelivery> = {}): ClaimedDelivery {
  return {
    id: 'delivery-1',
    attempts: 1,
    recovered: false,
    event_id: 'event-1',
    webhook_id: 'wh-1',
    event_type: 'service.started',
    trigger: 'auto',
    retry_base: 0,
    body: '{"id":"event-1","type":"service.started","data":{}}',
    webhook_updated_at: new Date(T0 - 60_000),
    ...overrides,
  };
}

function setup(overrides: Partial<Webhook> = {}, secrets = ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw']) {
  const calls: Call[] = [];
  const clock = new FakeClock(T0);
  const active: ActiveWebhook = {
    webhook: webhook(overrides),
    secrets,
    headers: { Authorization: 'Bearer s3cret' },
    refreshAt: Number.MAX_SAFE_INTEGER,
  };
  const sender = new FakeSender(calls);
  const recorder = new FakeRecorder(calls, clock);
  const deliveries = new FakeDeliveries(calls);
  const disabler = new FakeDisabler(calls, active);
  const webhooks = new FakeWebhooks(active);
  const deliverer = new Deliverer(
    recorder as unknown as AttemptRecorder,
    deliveries as unknown as DeliveryStore,
    sender as unknown as HttpSender,
    webhooks as unknown as WebhooksService,
    disabler as unknown as WebhookDisabler,
    clock,
    new MetricsService(),
    config,
  );
  return { calls, clock, active, sender, recorder, deliveries, disabler, webhooks, deliverer };
}

beforeAll(() => Logger.overrideLogger(false));
afterEach(() => jest.restoreAllMocks());

describe('Deliverer (service test with fakes)', () => {
  it('sends the signed request and records a delivered attempt', async () => {
    const { deliverer, sender, recorder, calls, disabler, deliveries } = setup();
    const outcome = await deliverer.deliver(claimed(), WORKER, WORKER_RUN);

    expect(outcome.status).toBe('succeeded');
    expect(sender.requests).toHaveLength(1);
    const [request] = sender.requests;
    expect(request.url).toBe('https://receiver.example/hook');
    expect(request.timeoutMs).toBe(5000);
    // The signature's timestamp is the clock's time.
    expect(request.headers).toMatchObject({
      'webhook-id': 'event-1',
      'webhook-timestamp': String(Math.floor(T0 / 1000)),
      'x-hookhub-delivery': 'delivery-1',
      'x-hookhub-attempt': '1',
      Authorization: 'Bearer s3cret',
    });
    expect(request.headers['webhook-signature']).toMatch(/^v1,/);
    expect(recorder.records).toHaveLength(1);
    expect(recorder.records[0]).toMatchObject({
      deliveryId: 'delivery-1',
      workerId: WORKER,
      status: 'succeeded',
      success: true,
      nextAt: null,
      error: null,
      httpStatus: 200,
      attempt: 1,
      attemptId: outcome.attemptId,
      health: true,
      errorKind: null,
    });
    // The log keeps header names, not the credentials.
    expect(recorder.records[0].requestHeaders).toMatchObject({
      Authorization: '[redacted]',
      'webhook-signature': '[redacted]',
    });
    expect(calls).toEqual(['send', 'record']);
    expect(disabler.disabled).toEqual([]);
    expect(deliveries.failed).toEqual([]);
  });

  it("schedules a retry after a 5xx at the schedule's next time from the clock", async () => {
    jest.spyOn(Math, 'random').mockReturnValue(0.5); // no jitter: exactly the scheduled wait
    const { deliverer, sender, recorder } = setup();
    sender.answer = { ok: false, status: 503, body: 'busy' };

    const first = await deliverer.deliver(claimed({ attempts: 1 }), WORKER, WORKER_RUN);
    expect(first.status).toBe('queued');
    expect(recorder.records[0]).toMatchObject({
      status: 'queued',
      success: false,
      httpStatus: 503,
      error: 'HTTP 503: busy',
      errorKind: 'http',
    });
    expect(recorder.records[0].nextAt).toEqual(new Date(T0 + SCHEDULE[0] * 1000));

    const second = await deliverer.deliver(claimed({ attempts: 2 }), WORKER, WORKER_RUN);
    expect(second.status).toBe('queued');
    expect(recorder.records[1].nextAt).toEqual(new Date(T0 + SCHEDULE[1] * 1000));
    expect(sender.requests.map((r) => r.headers['x-hookhub-attempt'])).toEqual(['1', '2']);
  });

  it("spreads the retry by the jitter, around the clock's time", async () => {
    const { deliverer, sender, recorder } = setup();
    sender.answer = { ok: false, status: 500 };
    jest.spyOn(Math, 'random').mockReturnValue(0);
    await deliverer.deliver(claimed({ attempts: 2 }), WORKER, WORKER_RUN);
    jest.spyOn(Math, 'random').mockReturnValue(1);
    await deliverer.deliver(claimed({ attempts: 2 }), WORKER, WORKER_RUN);
    expect(recorder.records.map((r) => r.nextAt?.getTime())).toEqual([T0 + SCHEDULE[1] * 800, T0 + SCHEDULE[1] * 1200]);
  });

  it("uses the webhook's own schedule over the configured one, counting attempts from its recover base", async () => {
    jest.spyOn(Math, 'random').mockReturnValue(0.5);
    const { deliverer, sender, recorder } = setup({ retrySchedule: [7, 8] });
    sender.answer = { ok: false, status: 502 };
    await deliverer.deliver(claimed({ attempts: 6, retry_base: 5 }), WORKER, WORKER_RUN);
    expect(recorder.records[0]).toMatchObject({ status: 'queued', attempt: 6 });
    expect(recorder.records[0].nextAt).toEqual(new Date(T0 + 7000));
  });

  it('waits at least 60 s after a timeout, from the clock', async () => {
    const { deliverer, sender, recorder, clock } = setup();
    clock.advance(42_000);
    sender.answer = { ok: false, status: null, error: 'no complete answer within 5000 ms', errorKind: 'timeout' };
    const outcome = await deliverer.deliver(claimed(), WORKER, WORKER_RUN);
    expect(outcome.status).toBe('queued');
    expect(recorder.records[0]).toMatchObject({
      status: 'queued',
      errorKind: 'timeout',
      error: 'no complete answer within 5000 ms',
      httpStatus: null,
    });
    expect(recorder.records[0].nextAt).toEqual(new Date(T0 + 42_000 + 60_000));
  });

  it('fails the delivery after the last allowed attempt', async () => {
    const { deliverer, sender, recorder } = setup();
    sender.answer = { ok: false, status: 500, body: 'still broken' };
    const lastRetry = await deliverer.deliver(claimed({ attempts: SCHEDULE.length }), WORKER, WORKER_RUN);
    expect(lastRetry.status).toBe('queued');
    const last = await deliverer.deliver(claimed({ attempts: SCHEDULE.length + 1 }), WORKER, WORKER_RUN);
    expect(last.status).toBe('failed');
    expect(recorder.records[1]).toMatchObject({
      status: 'failed',
      nextAt: null,
      attempt: SCHEDULE.length + 1,
      error: 'HTTP 500: still broken',
    });
  });

  it("sends a test once: no retry, and no effect on the webhook's health", async () => {
    const { deliverer, sender, recorder, disabler } = setup();
    sender.answer = { ok: false, status: 410 };
    const outcome = await deliverer.deliver(claimed(), WORKER, TEST_SEND);
    expect(outcome.status).toBe('failed');
    expect(recorder.records[0]).toMatchObject({ status: 'failed', nextAt: null, health: false });
    expect(disabler.disabled).toEqual([]);
  });

  it('disables the webhook on a 410 before recording the attempt, and stops', async () => {
    const { deliverer, sender, recorder, calls, disabler, clock } = setup();
    clock.advance(DISABLE_AFTER_S * 1000 * 2);
    recorder.failingSince = new Date(T0); // failing long enough to be disabled again: it must not be
    sender.answer = { ok: false, status: 410, body: 'gone' };
    const outcome = await deliverer.deliver(claimed(), WORKER, WORKER_RUN);

    expect(outcome.status).toBe('failed');
    expect(calls).toEqual(['send', 'disable', 'record']);
    expect(disabler.disabled).toEqual([
      {
        id: 'wh-1',
        reason: `the endpoint answered 410 Gone at ${new Date(T0 + DISABLE_AFTER_S * 2000).toISOString()}`,
      },
    ]);
    expect(recorder.records[0]).toMatchObject({ status: 'failed', nextAt: null, httpStatus: 410 });
  });

  it('disables a webhook once every attempt failed for HOOKHUB_WEBHOOK_DISABLE_AFTER_SECONDS', async () => {
    jest.spyOn(Math, 'random').mockReturnValue(0.5);
    const { deliverer, sender, disabler, clock, calls } = setup();
    sender.answer = { ok: false, status: 500, body: 'down' };

    await deliverer.deliver(claimed(), WORKER, WORKER_RUN); // failing since T0
    clock.advance(DISABLE_AFTER_S * 1000 - 1);
    await deliverer.deliver(claimed({ attempts: 2 }), WORKER, WORKER_RUN);
    expect(disabler.disabled).toEqual([]);

    clock.advance(1);
    await deliverer.deliver(claimed({ attempts: 3 }), WORKER, WORKER_RUN);
    expect(disabler.disabled).toEqual([
      {
        id: 'wh-1',
        reason: `every attempt failed since ${new Date(T0).toISOString()} (${DISABLE_AFTER_S} s or more); last error: HTTP 500: down`,
      },
    ]);
    // Disabled after that attempt was recorded.
    expect(calls.slice(-2)).toEqual(['record', 'disable']);
  });

  it('starts the failing period again after a success', async () => {
    const { deliverer, sender, disabler, clock } = setup();
    sender.answer = { ok: false, status: 500 };
    await deliverer.deliver(claimed(), WORKER, WORKER_RUN);
    clock.advance(DISABLE_AFTER_S * 500);
    sender.answer = {};
    await deliverer.deliver(claimed(), WORKER, WORKER_RUN);
    clock.advance(DISABLE_AFTER_S * 500);
    sender.answer = { ok: false, status: 500 };
    await deliverer.deliver(claimed(), WORKER, WORKER_RUN);
    clock.advance(DISABLE_AFTER_S * 500);
    await deliverer.deliver(claimed({ attempts: 2 }), WORKER, WORKER_RUN);
    expect(disabler.disabled).toEqual([]);
  });

  it('sends nothing for a disabled webhook and fails the delivery with the reason', async () => {
    const { deliverer, sender, recorder, deliveries } = setup({
      enabled: false,
      disabledReason: 'the endpoint answered 410 Gone',
    });
    const outcome = await deliverer.deliver(claimed(), WORKER, WORKER_RUN);
    expect(outcome).toEqual({ attemptId: null, status: 'failed' });
    expect(sender.requests).toEqual([]);
    expect(recorder.records).toEqual([]);
    expect(deliveries.failed).toEqual([
      { id: 'delivery-1', workerId: WORKER, error: 'the webhook is disabled: the endpoint answered 410 Gone' },
    ]);
  });

  it('stops sending once a 410 disabled the webhook', async () => {
    const { deliverer, sender, deliveries } = setup();
    sender.answer = { ok: false, status: 410 };
    await deliverer.deliver(claimed({ id: 'delivery-1' }), WORKER, WORKER_RUN);
    await deliverer.deliver(claimed({ id: 'delivery-2' }), WORKER, WORKER_RUN);
    expect(sender.requests).toHaveLength(1);
    expect(deliveries.failed.map((f) => f.id)).toEqual(['delivery-2']);
  });

  it('sends nothing for a deleted webhook', async () => {
    const { deliverer, sender, recorder, webhooks } = setup();
    webhooks.current = null;
    expect(await deliverer.deliver(claimed(), WORKER, WORKER_RUN)).toEqual({ attemptId: null, status: 'failed' });
    expect(sender.requests).toEqual([]);
    expect(recorder.records).toEqual([]);
  });

  it('records a failed attempt without sending when the webhook has no live secret', async () => {
    jest.spyOn(Math, 'random').mockReturnValue(0.5);
    const { deliverer, sender, recorder } = setup({}, []);
    const outcome = await deliverer.deliver(claimed(), WORKER, WORKER_RUN);
    expect(outcome.status).toBe('queued');
    expect(sender.requests).toEqual([]);
    expect(recorder.records[0]).toMatchObject({
      success: false,
      error: 'the webhook has no live signing secret; rotate it',
      errorKind: 'protocol',
    });
    expect(recorder.records[0].nextAt).toEqual(new Date(T0 + SCHEDULE[0] * 1000));
  });

  it('logs the lost attempt of a worker whose lease ran out before sending again', async () => {
    const { deliverer, recorder } = setup();
    await deliverer.deliver(claimed({ attempts: 3, recovered: true }), WORKER, WORKER_RUN);
    expect(recorder.lost).toEqual([{ deliveryId: 'delivery-1', attempt: 2 }]);
    expect(recorder.records[0]).toMatchObject({ attempt: 3, status: 'succeeded' });
  });
});
