import { createHmac, randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { type AttemptRecord, AttemptRecorder, OutboundRetention } from '@hookhub/outbound';
import { type TestApp, bootApp } from './helpers/app';
import { PROGRAMS_DIR, create, expectRefused, program, waitForTask } from './helpers/inbound';
import { Receiver, eventually } from './helpers/receiver';

interface Webhook {
  id: string;
  secret: string;
  enabled: boolean;
  disabled_reason: string | null;
  last_error: string | null;
  failing_since: string | null;
}
interface Attempt {
  attempt: number;
  trigger: string;
  status_code: number | null;
  success: boolean;
  error: string | null;
  error_kind: string | null;
  next_attempt_at: string | null;
  created_at: string;
  delivery_id: string;
  event_type: string;
}
interface Delivery {
  id: string;
  event_id: string;
  status: string;
  attempts: number;
  trigger: string;
  last_error: string | null;
}

/** Standard Webhooks, with node:crypto alone. */
function sign(secret: string, id: string, timestamp: string, body: Buffer): string {
  return (
    'v1,' +
    createHmac('sha256', Buffer.from(secret.replace(/^whsec_/, ''), 'base64'))
      .update(`${id}.${timestamp}.`)
      .update(body)
      .digest('base64')
  );
}

const FAST = {
  HOOKHUB_OUTBOUND_ALLOW: '127.0.0.1/32',
  HOOKHUB_RETRY_SCHEDULE: '0.3,0.3',
  HOOKHUB_QUEUE_POLL_MS: '100',
  HOOKHUB_EVENT_MAX_BYTES: '4096',
};

describe('outbound webhooks (e2e)', () => {
  let t: TestApp;
  let admin: string;
  const receivers: Receiver[] = [];
  const receiver = async (answer?: ConstructorParameters<typeof Receiver>[0]) => {
    const r = await Receiver.start(answer);
    receivers.push(r);
    return r;
  };
  const webhook = async (body: Record<string, unknown>): Promise<Webhook> => {
    const res = await t.request<Webhook>({ method: 'POST', url: '/api/webhooks', token: admin, body });
    if (res.statusCode !== 201) throw new Error(`create webhook: ${res.statusCode} ${res.body}`);
    return res.json;
  };
  const publish = async (type: string, data: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) => {
    const res = await t.request<{ id: string; deliveries: number; duplicate: boolean }>({
      method: 'POST',
      url: '/api/events',
      token: admin,
      body: { type, data, ...extra },
    });
    if (res.statusCode !== 202) throw new Error(`publish: ${res.statusCode} ${res.body}`);
    return res.json;
  };
  const logs = async (id: string, query = '') =>
    (
      await t.request<{ items: Attempt[]; total: number; next_cursor: string | null }>({
        url: `/api/webhooks/${id}/logs${query}`,
        token: admin,
      })
    ).json;
  const deliveries = async (id: string) =>
    (await t.request<{ items: Delivery[] }>({ url: `/api/webhooks/${id}/deliveries`, token: admin })).json.items;
  const get = async (id: string) => (await t.request<Webhook>({ url: `/api/webhooks/${id}`, token: admin })).json;

  beforeAll(async () => {
    t = await bootApp({ ...FAST, HOOKHUB_PROGRAM_DIRS: PROGRAMS_DIR });
    admin = await t.login();
  });
  afterAll(async () => {
    await Promise.all(receivers.map((r) => r.close()));
    await t?.close();
  });

  describe('webhooks API: validation, roles, errors', () => {
    it('refuses bad fields with 400 and per-field details', async () => {
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ events: ['a.b'] }, 'url'],
        [{ url: 'http://127.0.0.1:9/x' }, 'events'],
        [{ url: 'http://127.0.0.1:9/x', events: ['a..b'] }, 'events'],
        [
          { url: 'http://127.0.0.1:9/x', events: ['a'], payload_filter: { path: 'data.x', bogus: 1 } },
          'payload_filter',
        ],
        [
          { url: 'http://127.0.0.1:9/x', events: ['a'], headers: { 'webhook-signature': 'x' } },
          'headers.webhook-signature',
        ],
        [
          {
            url: 'http://127.0.0.1:9/x',
            events: ['a'],
            signature_format: 'hmac-hex',
            signature_options: { header: 'X-Sig' },
            headers: { 'X-Sig': 'x' },
          },
          'headers.X-Sig',
        ],
        [{ url: 'ftp://127.0.0.1/x', events: ['a'] }, 'url'],
        [{ url: 'http://user:pw@127.0.0.1:9/x', events: ['a'] }, 'url'],
        [{ url: 'http://127.0.0.1:9/x', events: ['a'], timeout_ms: 10 }, 'timeout_ms'],
        [{ url: 'http://127.0.0.1:9/x', events: ['a'], retry_schedule: [-1] }, 'retry_schedule'],
        [{ url: 'http://127.0.0.1:9/x', events: ['a'], signature_format: 'md5' }, 'signature_format'],
        [{ url: 'http://127.0.0.1:9/x', events: ['a'], secret: 'short' }, 'secret'],
        [{ url: 'http://127.0.0.1:9/x', events: ['a'], surprise: true }, 'surprise'],
      ];
      for (const [body, field] of cases) {
        const res = await t.request<{ code: string; details: Array<{ field: string }> }>({
          method: 'POST',
          url: '/api/webhooks',
          token: admin,
          body,
        });
        expect([res.statusCode, res.json.details?.some((d) => d.field === field)]).toEqual([400, true]);
        expect(['validation_failed', 'bad_request']).toContain(res.json.code);
      }
    });

    it('gives 404 for an unknown id, 400 for a malformed one, 409 when resending an unfinished delivery', async () => {
      const unknown = '00000000-0000-4000-8000-000000000000';
      for (const [method, url] of [
        ['GET', `/api/webhooks/${unknown}`],
        ['POST', `/api/webhooks/${unknown}/toggle`],
        ['POST', `/api/webhooks/${unknown}/test`],
        ['GET', `/api/webhooks/${unknown}/stats`],
        ['GET', `/api/events/${unknown}`],
      ] as const) {
        expect((await t.request({ method, url, token: admin })).statusCode).toBe(404);
      }
      expect((await t.request({ url: '/api/webhooks/not-a-uuid', token: admin })).statusCode).toBe(400);
      const slow = await receiver(() => ({ hang: true }));
      const w = await webhook({ url: slow.url, events: ['hang.one'], timeout_ms: 20_000 });
      await publish('hang.one');
      await slow.waitFor(1);
      const [d] = await deliveries(w.id);
      const res = await t.request<{ code: string }>({
        method: 'POST',
        url: `/api/webhooks/${w.id}/deliveries/${d.id}/resend`,
        token: admin,
      });
      expect([res.statusCode, res.json.code]).toEqual([409, 'conflict']);
      expect((await t.request({ method: 'DELETE', url: `/api/webhooks/${w.id}`, token: admin })).statusCode).toBe(200);
    });

    it('lets a viewer read but not write; an API key needs events:publish to publish', async () => {
      const viewer = await t.userWithRole('viewer');
      expect((await t.request({ url: '/api/webhooks', token: viewer.token })).statusCode).toBe(200);
      expect(
        (
          await t.request({
            method: 'POST',
            url: '/api/webhooks',
            token: viewer.token,
            body: { url: 'http://127.0.0.1:9/', events: ['a'] },
          })
        ).statusCode,
      ).toBe(403);
      expect(
        (await t.request({ method: 'POST', url: '/api/events', token: viewer.token, body: { type: 'a', data: {} } }))
          .statusCode,
      ).toBe(403);
      const readOnly = await t.request<{ key: string }>({
        method: 'POST',
        url: '/api/api-keys',
        token: admin,
        body: { name: 'reader', role: 'operator', scopes: ['webhooks:read'] },
      });
      const publisher = await t.request<{ key: string }>({
        method: 'POST',
        url: '/api/api-keys',
        token: admin,
        body: { name: 'publisher', role: 'operator', scopes: ['events:publish'] },
      });
      expect(
        (
          await t.request({
            method: 'POST',
            url: '/api/events',
            headers: { 'x-api-key': readOnly.json.key },
            body: { type: 'a', data: {} },
          })
        ).statusCode,
      ).toBe(403);
      const ok = await t.request<{ id: string }>({
        method: 'POST',
        url: '/api/events',
        headers: { 'x-api-key': publisher.json.key },
        body: { type: 'a', data: { marker: 'audit-probe-7f3a' } },
      });
      expect(ok.statusCode).toBe(202);
      const event = await t.request<{ published_by: string }>({ url: `/api/events/${ok.json.id}`, token: admin });
      expect(event.json.published_by).toBe('admin');
      // A publish is its own record (and leaves with retention): the audit log keeps the key's creation, not the payload.
      const audit = await t.request({ url: '/api/audit?limit=200', token: admin });
      expect(audit.body).toContain('"name":"publisher"');
      expect(audit.body).not.toContain('audit-probe-7f3a');
    });

    it('never returns a secret after creation, and filters the list', async () => {
      const w = await webhook({ url: 'http://127.0.0.1:9/list', events: ['listing.*'], name: 'findable-name' });
      expect(w.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
      expect(Buffer.from(w.secret.slice(6), 'base64')).toHaveLength(32);
      const got = await t.request({ url: `/api/webhooks/${w.id}`, token: admin });
      expect(got.body).not.toContain(w.secret.slice(6));
      const byEvent = await t.request<{ items: Array<{ id: string }> }>({
        url: '/api/webhooks?event=listing.created',
        token: admin,
      });
      expect(byEvent.json.items.map((x) => x.id)).toEqual([w.id]);
      const byText = await t.request<{ items: Array<{ id: string }> }>({
        url: '/api/webhooks?q=findable',
        token: admin,
      });
      expect(byText.json.items.map((x) => x.id)).toEqual([w.id]);
      const audit = await t.request({ url: '/api/audit?limit=200', token: admin });
      expect(audit.body).not.toContain(w.secret.slice(6));
    });
  });

  describe('events', () => {
    it('refuses data over HOOKHUB_EVENT_MAX_BYTES with 413, and a missing or non-object data with 400', async () => {
      const big = await t.request<{ code: string }>({
        method: 'POST',
        url: '/api/events',
        token: admin,
        body: { type: 'big.one', data: { blob: 'x'.repeat(5000) } },
      });
      expect([big.statusCode, big.json.code]).toEqual([413, 'payload_too_large']);
      expect(
        (await t.request({ method: 'POST', url: '/api/events', token: admin, body: { type: 'x' } })).statusCode,
      ).toBe(400);
      expect(
        (await t.request({ method: 'POST', url: '/api/events', token: admin, body: { type: 'x', data: [1] } }))
          .statusCode,
      ).toBe(400);
      expect(
        (await t.request({ method: 'POST', url: '/api/events', token: admin, body: { type: 'bad type', data: {} } }))
          .statusCode,
      ).toBe(400);
    });

    it("checks data against the type's JSON Schema, refuses archived types, and protects built-in types", async () => {
      const type = await t.request<{ id: string }>({
        method: 'POST',
        url: '/api/event-types',
        token: admin,
        body: {
          name: 'service.started',
          description: 'A service started',
          schema: { type: 'object', required: ['service'], properties: { service: { type: 'string' } } },
        },
      });
      expect(type.statusCode).toBe(201);
      expect(
        (await t.request({ method: 'POST', url: '/api/event-types', token: admin, body: { name: 'SERVICE.started' } }))
          .statusCode,
      ).toBe(409);
      expect(
        (
          await t.request({
            method: 'POST',
            url: '/api/event-types',
            token: admin,
            body: { name: 'x.bad', schema: { type: 'nonsense' } },
          })
        ).statusCode,
      ).toBe(400);
      const bad = await t.request<{ code: string; details: Array<{ field: string }> }>({
        method: 'POST',
        url: '/api/events',
        token: admin,
        body: { type: 'service.started', data: { service: 5 } },
      });
      expect([bad.statusCode, bad.json.code, bad.json.details[0].field]).toEqual([
        400,
        'validation_failed',
        'data.service',
      ]);
      expect(
        (
          await t.request({
            method: 'POST',
            url: '/api/events',
            token: admin,
            body: { type: 'service.started', data: { service: 'nginx' } },
          })
        ).statusCode,
      ).toBe(202);
      await t.request({
        method: 'PATCH',
        url: `/api/event-types/${type.json.id}`,
        token: admin,
        body: { archived: true },
      });
      expect(
        (
          await t.request({
            method: 'POST',
            url: '/api/events',
            token: admin,
            body: { type: 'service.started', data: { service: 'nginx' } },
          })
        ).statusCode,
      ).toBe(400);
      const builtins = await t.request<{ items: Array<{ id: string; name: string; builtin: boolean }> }>({
        url: '/api/event-types?q=task.',
        token: admin,
      });
      expect(builtins.json.items.map((x) => x.name).sort()).toEqual([
        'task.failed',
        'task.succeeded',
        'task.timed_out',
      ]);
      const del = await t.request({
        method: 'DELETE',
        url: `/api/event-types/${builtins.json.items[0].id}`,
        token: admin,
      });
      expect(del.statusCode).toBe(409);
    });

    it('an idempotency key returns the first result within 24 h, also to concurrent publishers', async () => {
      const r = await receiver();
      const w = await webhook({ url: r.url, events: ['idem.*'] });
      const first = await publish('idem.created', { n: 1 }, { idempotency_key: 'key-1' });
      const again = await publish('idem.created', { n: 2 }, { idempotency_key: 'key-1' });
      expect(again).toEqual({ ...first, duplicate: true });
      expect(first).toMatchObject({ deliveries: 1, duplicate: false });
      const racing = await Promise.all(
        Array.from({ length: 6 }, () => publish('idem.created', { n: 3 }, { idempotency_key: 'key-2' })),
      );
      expect(new Set(racing.map((x) => x.id)).size).toBe(1);
      expect(racing.filter((x) => !x.duplicate)).toHaveLength(1);
      // Every request sent is a delivery's attempt: once the two deliveries are done, each sent once, nothing else was sent.
      const done = await eventually(async () => {
        const list = await deliveries(w.id);
        return list.length >= 2 && list.every((d) => d.status === 'succeeded') ? list : undefined;
      });
      expect(done.map((d) => [d.event_id, d.attempts]).sort()).toEqual(
        [
          [first.id, 1],
          [racing[0].id, 1],
        ].sort(),
      );
      expect(r.received.map((x) => x.json.data.n).sort()).toEqual([1, 3]);
    });
  });

  describe('delivery', () => {
    it('retries a receiver that fails, gives up after the schedule, and a resend or a recover delivers again', async () => {
      let healthy = false;
      const r = await receiver(() => (healthy ? { status: 200 } : { status: 500, body: 'down for maintenance' }));
      const w = await webhook({ url: r.url, events: ['retry.*'] });
      await publish('retry.one');
      await publish('retry.two');
      // 1 attempt + 2 retries each.
      await r.waitFor(6);
      const done = await eventually(async () => {
        const list = await deliveries(w.id);
        return list.every((d) => d.status === 'failed') ? list : undefined;
      });
      expect(done.map((d) => d.attempts)).toEqual([3, 3]);
      expect(done[0].last_error).toBe('HTTP 500: down for maintenance');
      const failedLogs = await logs(w.id, '?success=false&status_class=5xx');
      expect(failedLogs.total).toBe(6);
      expect(failedLogs.items.filter((a) => a.attempt < 3).every((a) => a.next_attempt_at !== null)).toBe(true);
      expect(failedLogs.items.filter((a) => a.attempt === 3).every((a) => a.next_attempt_at === null)).toBe(true);
      expect((await logs(w.id, '?status_class=2xx')).total).toBe(0);
      expect((await get(w.id)).failing_since).not.toBeNull();

      healthy = true;
      const resent = await t.request<Delivery>({
        method: 'POST',
        url: `/api/webhooks/${w.id}/deliveries/${done[0].id}/resend`,
        token: admin,
      });
      expect(resent.statusCode).toBe(202);
      expect(resent.json.trigger).toBe('manual');
      // Queued again (the worker may have taken it already).
      expect(['queued', 'running', 'succeeded']).toContain(resent.json.status);
      await r.waitFor(7);
      const recovered = await t.request<{ requeued: number }>({
        method: 'POST',
        url: `/api/webhooks/${w.id}/recover`,
        token: admin,
        body: { from: new Date(Date.now() - 3600_000).toISOString() },
      });
      expect(recovered.json.requeued).toBe(1);
      await r.waitFor(8);
      const after = await eventually(async () => {
        const list = await deliveries(w.id);
        return list.every((d) => d.status === 'succeeded') ? list : undefined;
      });
      expect(after.map((d) => d.trigger).sort()).toEqual(['manual', 'recover']);
      expect(r.received.slice(6).map((x) => x.headers['x-hookhub-attempt'])).toEqual(['4', '4']);
      expect((await get(w.id)).failing_since).toBeNull();
      const page1 = await logs(w.id, '?limit=3');
      const page2 = await logs(w.id, `?limit=3&cursor=${page1.next_cursor}`);
      expect(page1.total).toBe(8);
      expect(new Set([...page1.items, ...page2.items].map((a) => a.created_at + a.attempt + a.delivery_id)).size).toBe(
        6,
      );
      const stats = await t.request<Record<string, unknown>>({ url: `/api/webhooks/${w.id}/stats`, token: admin });
      expect(stats.json).toMatchObject({
        total: 2,
        succeeded: 2,
        failed: 0,
        pending: 0,
        attempts: 8,
        attempts_succeeded: 2,
        success_rate: 1,
        period: 'hour',
      });
      // The attempts per hour add up to the totals (the console's chart).
      const periods = stats.json.periods as Array<{ start: string; attempts: number; attempts_succeeded: number }>;
      expect(periods.length).toBeGreaterThanOrEqual(1);
      expect(periods.reduce((n, p) => n + p.attempts, 0)).toBe(8);
      expect(periods.reduce((n, p) => n + p.attempts_succeeded, 0)).toBe(2);
      expect(new Date(periods[0].start).getUTCMinutes()).toBe(0);
      const badRange = await t.request({
        url: `/api/webhooks/${w.id}/stats?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z`,
        token: admin,
      });
      expect(badRange.statusCode).toBe(400);
    });

    it('a retry of a webhook disabled by hand fails when it comes due, without a request; recover sends it after re-enabling', async () => {
      const r = await receiver((n) => (n === 1 ? { status: 500 } : { status: 200 }));
      const w = await webhook({ url: r.url, events: ['paused.*'], retry_schedule: [1.5] });
      await publish('paused.one');
      await r.waitFor(1);
      const off = await t.request<{ enabled: boolean }>({
        method: 'POST',
        url: `/api/webhooks/${w.id}/toggle`,
        token: admin,
      });
      expect(off.json.enabled).toBe(false);
      const [failed] = await eventually(async () => {
        const list = await deliveries(w.id);
        return list[0]?.status === 'failed' ? list : undefined;
      }, 10_000);
      expect(failed.last_error).toBe('the webhook is disabled');
      expect(r.received).toHaveLength(1);
      expect((await logs(w.id)).total).toBe(1);
      await t.request({ method: 'POST', url: `/api/webhooks/${w.id}/toggle`, token: admin });
      const recovered = await t.request<{ requeued: number }>({
        method: 'POST',
        url: `/api/webhooks/${w.id}/recover`,
        token: admin,
        body: { from: new Date(Date.now() - 3600_000).toISOString() },
      });
      expect(recovered.json.requeued).toBe(1);
      await r.waitFor(2);
      expect(r.received[1].headers['webhook-id']).toBe(r.received[0].headers['webhook-id']);
    });

    it('honours Retry-After, and waits at least 60 s after a 429 or a timeout', async () => {
      const r = await receiver((n) => (n === 1 ? { status: 503, headers: { 'retry-after': '2' } } : { status: 200 }));
      const w = await webhook({ url: r.url, events: ['later.*'] });
      await publish('later.one');
      await r.waitFor(2, 10_000);
      expect(r.received[1].at - r.received[0].at).toBeGreaterThanOrEqual(1900);
      const [first] = (await logs(w.id, '?success=false')).items;
      expect(Date.parse(first.next_attempt_at!) - Date.parse(first.created_at)).toBeGreaterThanOrEqual(1900);

      const limited = await receiver(() => ({ status: 429 }));
      const l = await webhook({ url: limited.url, events: ['limited.*'] });
      await publish('limited.one');
      const slow = await receiver(() => ({ status: 200, delayMs: 3000 }));
      const s = await webhook({ url: slow.url, events: ['slow.*'], timeout_ms: 300 });
      await publish('slow.one');
      for (const id of [l.id, s.id]) {
        const [attempt] = (await eventually(async () => ((await logs(id)).total ? logs(id) : undefined))).items;
        expect(Date.parse(attempt.next_attempt_at!) - Date.parse(attempt.created_at)).toBeGreaterThanOrEqual(59_000);
      }
      const [timedOut] = (await logs(s.id)).items;
      expect(timedOut).toMatchObject({ status_code: null, error_kind: 'timeout', success: false });
      const [tooMany] = (await logs(l.id)).items;
      expect(tooMany.status_code).toBe(429);
    });

    it('a 410 disables the webhook with the reason, fails what it had queued, and publishes webhook.disabled', async () => {
      const watcher = await receiver();
      await webhook({ url: watcher.url, events: ['webhook.disabled'] });
      // The first two events fail and wait in the queue for their retry a minute later; the third is answered 410.
      const gone = await receiver((n) =>
        n <= 2 ? { status: 503, body: 'busy' } : n === 3 ? { status: 410 } : { status: 200 },
      );
      const w = await webhook({ url: gone.url, events: ['gone.*'], retry_schedule: [60] });
      const waiting = [(await publish('gone.one')).id, (await publish('gone.two')).id];
      await eventually(
        async () => {
          const list = await deliveries(w.id);
          return list.length === 2 && list.every((d) => d.status === 'queued' && d.attempts === 1) ? list : undefined;
        },
        20_000,
        'two deliveries queued for a retry',
      );
      const last = await publish('gone.three');
      const [notice] = await watcher.waitFor(1);
      expect(notice.json.type).toBe('webhook.disabled');
      expect(notice.json.data).toMatchObject({ webhook_id: w.id, url: gone.url });
      expect(String(notice.json.data.reason)).toContain('410');
      const after = await get(w.id);
      expect(after.enabled).toBe(false);
      expect(after.disabled_reason).toContain('410 Gone');
      expect(notice.json.data.reason).toBe(after.disabled_reason);
      // The queued retries are failed with the reason, without another request; the 410 itself failed as answered.
      const byEvent = Object.fromEntries((await deliveries(w.id)).map((d) => [d.event_id, d]));
      for (const id of waiting)
        expect(byEvent[id]).toMatchObject({
          status: 'failed',
          attempts: 1,
          last_error: `the webhook was disabled: ${after.disabled_reason}`,
        });
      expect(byEvent[last.id]).toMatchObject({ status: 'failed', attempts: 1, last_error: 'HTTP 410' });
      expect((await publish('gone.two')).deliveries).toBe(0);
      // Enabling clears the reason, and sends what is published next; the failed retries are not sent.
      const on = await t.request<Webhook>({ method: 'POST', url: `/api/webhooks/${w.id}/toggle`, token: admin });
      expect(on.json).toMatchObject({ enabled: true, disabled_reason: null });
      const marker = await publish('gone.marker');
      expect(marker.deliveries).toBe(1);
      const sent = await gone.waitFor(4);
      const ids = sent.map((r) => String(r.headers['webhook-id']));
      expect([...ids.slice(0, 2).sort(), ...ids.slice(2)]).toEqual([...[...waiting].sort(), last.id, marker.id]);
      const final = await eventually(async () => {
        const list = await deliveries(w.id);
        return list.find((d) => d.event_id === marker.id)?.status === 'succeeded' ? list : undefined;
      });
      expect(final.filter((d) => d.status === 'failed')).toHaveLength(3);
      expect(gone.received).toHaveLength(4);
    });

    it('a delivery due behind an in-flight 410 is never sent: the webhook is disabled before that attempt stops counting as in flight', async () => {
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      // The first request is held, then answered 410; anything after is answered 200.
      const gone = await receiver((n) => (n === 1 ? { status: 410, until: held } : { status: 200 }));
      const w = await webhook({ url: gone.url, events: ['behind.*'], max_in_flight: 1 });
      const first = await publish('behind.one');
      await gone.waitFor(1);
      // Due now, but held back by max_in_flight 1 while the first is in flight.
      const second = await publish('behind.two');
      expect((await deliveries(w.id)).find((d) => d.event_id === second.id)?.status).toBe('queued');
      release();
      const settled = await eventually(
        async () => {
          const list = await deliveries(w.id);
          return list.length === 2 && list.every((d) => d.status === 'failed') ? list : undefined;
        },
        20_000,
        'both deliveries to fail',
      );
      const byEvent = Object.fromEntries(settled.map((d) => [d.event_id, d]));
      expect(byEvent[first.id]).toMatchObject({ attempts: 1, last_error: 'HTTP 410' });
      expect(byEvent[second.id]).toMatchObject({
        attempts: 0,
        last_error: expect.stringContaining('the webhook was disabled'),
      });
      // A marker sent after re-enabling is the second request the endpoint ever got.
      await t.request({ method: 'POST', url: `/api/webhooks/${w.id}/toggle`, token: admin });
      const marker = await publish('behind.marker');
      const sent = await gone.waitFor(2);
      expect(sent.map((r) => r.headers['webhook-id'])).toEqual([first.id, marker.id]);
    });

    it('during a rotation both secrets sign; with no grace only the new one does', async () => {
      const r = await receiver();
      const w = await webhook({ url: r.url, events: ['rotate.*'] });
      const rotated = await t.request<{ secret: string; previous_expires_at: string; webhook: { secrets: unknown[] } }>(
        {
          method: 'POST',
          url: `/api/webhooks/${w.id}/secret/rotate`,
          token: admin,
          body: { grace_seconds: 3600 },
        },
      );
      expect(rotated.statusCode).toBe(200);
      expect(rotated.json.secret).not.toBe(w.secret);
      expect(rotated.json.webhook.secrets).toHaveLength(2);
      expect(Date.parse(rotated.json.previous_expires_at) - Date.now()).toBeGreaterThan(3500_000);
      await publish('rotate.one');
      const [during] = await r.waitFor(1);
      const verify = (x: typeof during, secret: string) =>
        String(x.headers['webhook-signature'])
          .split(' ')
          .includes(sign(secret, String(x.headers['webhook-id']), String(x.headers['webhook-timestamp']), x.raw));
      expect(String(during.headers['webhook-signature']).split(' ')).toHaveLength(2);
      expect([verify(during, rotated.json.secret), verify(during, w.secret)]).toEqual([true, true]);
      const final = await t.request<{ secret: string }>({
        method: 'POST',
        url: `/api/webhooks/${w.id}/secret/rotate`,
        token: admin,
        body: { grace_seconds: 0 },
      });
      await publish('rotate.two');
      const after = (await r.waitFor(2))[1];
      expect(String(after.headers['webhook-signature']).split(' ')).toHaveLength(1);
      expect([verify(after, final.json.secret), verify(after, rotated.json.secret), verify(after, w.secret)]).toEqual([
        true,
        false,
        false,
      ]);
    });

    it('signs github and hmac-hex formats as their receivers check them, over the bytes sent', async () => {
      const r = await receiver();
      const gh = await webhook({
        url: r.url + '/gh',
        events: ['fmt.*'],
        signature_format: 'github',
        signature_options: { header_prefix: 'X-Forge' },
      });
      const hex = await webhook({
        url: r.url + '/hex',
        events: ['fmt.*'],
        signature_format: 'hmac-hex',
        signature_options: { header: 'X-ATLAS-Signature', event_header: 'X-ATLAS-Event' },
        headers: { 'X-Tenant': 'acme', Authorization: 'Bearer t0ken' },
      });
      const { id } = await publish('fmt.changed', { a: 'é' });
      await r.waitFor(2);
      const ghReq = r.received.find((x) => x.path === '/gh')!;
      const hexReq = r.received.find((x) => x.path === '/hex')!;
      expect(ghReq.headers['x-hub-signature-256']).toBe(
        'sha256=' + createHmac('sha256', gh.secret).update(ghReq.raw).digest('hex'),
      );
      expect([ghReq.headers['x-forge-event'], ghReq.headers['x-forge-delivery']]).toEqual(['fmt.changed', id]);
      expect(hexReq.headers['x-atlas-signature']).toBe(
        createHmac('sha256', hex.secret).update(hexReq.raw).digest('hex'),
      );
      expect([hexReq.headers['x-atlas-event'], hexReq.headers['x-tenant'], hexReq.headers.authorization]).toEqual([
        'fmt.changed',
        'acme',
        'Bearer t0ken',
      ]);
      // The attempt is logged once its batch commits, just after the receiver answered.
      const [logged] = (await eventually(async () => ((await logs(hex.id)).total ? logs(hex.id) : undefined)))
        .items as unknown as Array<{ request_headers: Record<string, string> }>;
      // Custom header values are write-only secrets: the log keeps the names.
      expect(logged.request_headers).toMatchObject({
        'X-Tenant': '[redacted]',
        Authorization: '[redacted]',
        'X-ATLAS-Signature': '[redacted]',
      });
    });

    it('keeps a webhook within max_per_second', async () => {
      const r = await receiver();
      await webhook({ url: r.url, events: ['paced.*'], max_per_second: 2 });
      for (let i = 0; i < 5; i++) await publish('paced.tick', { i });
      const got = await r.waitFor(5, 15_000);
      for (let i = 2; i < got.length; i++) expect(got[i].at - got[i - 2].at).toBeGreaterThanOrEqual(900);
    });

    it('refuses private addresses when the webhook is saved and again when it is delivered', async () => {
      const w = await webhook({ url: 'http://127.0.0.1:9/allowed-by-config', events: ['guard.*'] });
      // As if the name had changed to resolve elsewhere: the delivery checks the address it connects to.
      await t.app
        .get(DataSource)
        .query(`UPDATE webhooks SET url = 'http://[::ffff:10.0.0.1]:9/' WHERE id = $1`, [w.id]);
      await publish('guard.one');
      const [attempt] = (await eventually(async () => ((await logs(w.id)).total ? logs(w.id) : undefined))).items;
      expect(attempt).toMatchObject({ success: false, error_kind: 'blocked', status_code: null });
      expect(attempt.error).toContain('10.0.0.1');
    });

    it('task runs publish task.succeeded and task.failed', async () => {
      const r = await receiver();
      await webhook({ url: r.url, events: ['task.*'] });
      const ok = await create(t, admin, '/api/programs', { name: 'ok-prog', command: program('sync.sh') });
      const bad = await create(t, admin, '/api/programs', { name: 'bad-prog', command: program('fail.sh') });
      const run1 = await t.request<{ id: string }>({
        method: 'POST',
        url: `/api/programs/${ok.id}/run`,
        token: admin,
        body: {},
      });
      const run2 = await t.request<{ id: string }>({
        method: 'POST',
        url: `/api/programs/${bad.id}/run`,
        token: admin,
        body: {},
      });
      await waitForTask(t, admin, run1.json.id);
      await waitForTask(t, admin, run2.json.id);
      await r.waitFor(2);
      const byTask = Object.fromEntries(r.received.map((x) => [x.json.data.task_id, x.json]));
      expect(byTask[run1.json.id]).toMatchObject({
        type: 'task.succeeded',
        data: { program_name: 'ok-prog', status: 'succeeded', exit_code: 0 },
      });
      expect(byTask[run2.json.id]).toMatchObject({
        type: 'task.failed',
        data: { program_name: 'bad-prog', status: 'failed', exit_code: 3, error: 'exited with code 3' },
      });
    });

    it('a delivery left running by a worker that died is sent again after its lease, and the stale outcome does not count', async () => {
      const r = await receiver((n) => (n === 1 ? { hang: true } : { status: 200 }));
      const w = await webhook({ url: r.url, events: ['crash.*'], timeout_ms: 4000 });
      await publish('crash.one');
      await r.waitFor(1);
      // The worker holding it "dies": its lease now belongs to nobody alive and has run out.
      const [d] = await deliveries(w.id);
      await t.app
        .get(DataSource)
        .query(
          `UPDATE deliveries SET locked_by = 'dead-host:1', locked_until = now() - interval '1 second' WHERE id = $1`,
          [d.id],
        );
      await r.waitFor(2);
      expect(r.received[1].headers['webhook-id']).toBe(r.received[0].headers['webhook-id']);
      const done = await eventually(async () =>
        (await deliveries(w.id))[0].status === 'succeeded' ? deliveries(w.id) : undefined,
      );
      expect(done[0].attempts).toBe(2);
      // The first worker's request times out later; its result is logged but does not change the delivery.
      await eventually(async () => ((await logs(w.id)).total === 2 ? true : undefined), 10_000);
      expect((await deliveries(w.id))[0].status).toBe('succeeded');
    });

    it('records attempts handed in together as one batch: each delivery under its lease, every attempt logged, the webhook healthy if one succeeded', async () => {
      const ds = t.app.get(DataSource);
      const recorder = t.app.get(AttemptRecorder);
      const w = await webhook({ url: 'http://127.0.0.1:9/batch', events: ['batch.*'], enabled: false });
      const event = randomUUID();
      const ids = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
      await ds.query(
        `INSERT INTO events (id, type, body, bytes, occurred_at, published_by, delivery_count) VALUES ($1, 'batch.one', '{}', 2, now(), 'test', 4)`,
        [event],
      );
      await ds.query(
        `INSERT INTO deliveries (id, event_id, webhook_id, event_type, status, trigger, attempts, locked_by, locked_until)
         SELECT d, $1, $2, 'batch.one', 'running', 'auto', 1, 'worker-1', now() + interval '1 minute' FROM unnest($3::uuid[]) AS d`,
        [event, w.id, ids],
      );
      const attempt = (deliveryId: string, outcome: Partial<AttemptRecord>): AttemptRecord => ({
        deliveryId,
        workerId: 'worker-1',
        status: 'failed',
        nextAt: null,
        error: null,
        httpStatus: 200,
        attemptId: randomUUID(),
        eventId: event,
        webhookId: w.id,
        eventType: 'batch.one',
        attempt: 1,
        trigger: 'auto',
        url: 'http://127.0.0.1:9/batch',
        requestHeaders: { 'x-hookhub-attempt': '1' },
        success: false,
        responseHeaders: {},
        responseBody: '',
        responseTruncated: false,
        durationMs: 3.4,
        errorKind: null,
        health: true,
        ...outcome,
      });
      // The first is written at once; the next three wait for it and are written together.
      const results = await Promise.all([
        recorder.record(
          attempt(ids[0], { status: 'failed', error: 'HTTP 500: first', httpStatus: 500, errorKind: 'http' }),
        ),
        recorder.record(attempt(ids[1], { status: 'succeeded', success: true })),
        recorder.record(
          attempt(ids[2], {
            status: 'queued',
            nextAt: new Date(Date.now() + 60_000),
            error: 'HTTP 503: latest',
            httpStatus: 503,
            errorKind: 'http',
          }),
        ),
        recorder.record(attempt(ids[3], { workerId: 'lost-its-lease', status: 'succeeded', success: true })),
      ]);
      expect(results.map((r) => r.updated)).toEqual([true, true, true, false]);
      const rows = (await ds.query(`SELECT id, status, last_error, locked_by FROM deliveries WHERE id = ANY($1)`, [
        ids,
      ])) as Array<{ id: string; status: string; last_error: string | null; locked_by: string | null }>;
      const byId = Object.fromEntries(rows.map((r) => [r.id, r]));
      expect(ids.map((id) => byId[id].status)).toEqual(['failed', 'succeeded', 'queued', 'running']);
      expect(byId[ids[2]].last_error).toBe('HTTP 503: latest');
      expect(byId[ids[3]].locked_by).toBe('worker-1');
      const logged = await logs(w.id, '?limit=10');
      expect(logged.total).toBe(4);
      expect(logged.items.map((a) => a.delivery_id).sort()).toEqual([...ids].sort());
      // A success in the batch makes the webhook healthy; its last error is the batch's latest failure.
      let state = await get(w.id);
      expect([state.failing_since, state.last_error]).toEqual([null, 'HTTP 503: latest']);

      // A batch of failures only starts failing_since, and tells the deliverer (which checks it for auto-disable).
      const more = randomUUID();
      await ds.query(
        `INSERT INTO deliveries (id, event_id, webhook_id, event_type, status, trigger, attempts, locked_by, locked_until)
         VALUES ($1, $2, $3, 'batch.one', 'running', 'auto', 1, 'worker-1', now() + interval '1 minute')`,
        [more, event, w.id],
      );
      const [failed] = await Promise.all([
        recorder.record(attempt(more, { error: 'timed out', httpStatus: null, errorKind: 'timeout' })),
      ]);
      state = await get(w.id);
      expect(state.failing_since).not.toBeNull();
      expect(failed.failingSince?.toISOString()).toBe(new Date(state.failing_since!).toISOString());
      expect(state.last_error).toBe('timed out');
      await t.request({ method: 'DELETE', url: `/api/webhooks/${w.id}`, token: admin });
    });

    it('retention deletes old attempts and events in batches, keeping events with pending deliveries', async () => {
      const ds = t.app.get(DataSource);
      const r = await receiver(() => ({ hang: true }));
      const w = await webhook({ url: r.url, events: ['old.*'], timeout_ms: 20_000 });
      const kept = await publish('old.pending');
      await r.waitFor(1);
      const old = await publish('old.done', {}, {});
      await ds.query(`UPDATE events SET created_at = now() - interval '40 days' WHERE id = ANY($1)`, [
        [kept.id, old.id],
      ]);
      await ds.query(`UPDATE deliveries SET status = 'succeeded' WHERE event_id = $1`, [old.id]);
      await ds.query(
        `UPDATE delivery_attempts SET created_at = now() - interval '40 days' WHERE webhook_id IN (SELECT id FROM webhooks WHERE url LIKE 'http://127.0.0.1:%')`,
      );
      const before = Number(
        (await ds.query(`SELECT count(*) AS n FROM delivery_attempts WHERE created_at < now() - interval '30 days'`))[0]
          .n,
      );
      expect(before).toBeGreaterThan(0);
      const result = await t.app.get(OutboundRetention).purge();
      expect(result.attempts).toBe(before);
      expect(result.events).toBe(1);
      expect(
        Number(
          (
            await ds.query(`SELECT count(*) AS n FROM delivery_attempts WHERE created_at < now() - interval '30 days'`)
          )[0].n,
        ),
      ).toBe(0);
      expect((await t.request({ url: `/api/events/${old.id}`, token: admin })).statusCode).toBe(404);
      expect((await t.request({ url: `/api/events/${kept.id}`, token: admin })).statusCode).toBe(200);
      await t.request({ method: 'DELETE', url: `/api/webhooks/${w.id}`, token: admin });
    });
  });
});

describe('auto-disable (e2e)', () => {
  it('disables a webhook whose every attempt failed for HOOKHUB_WEBHOOK_DISABLE_AFTER_SECONDS, and says so', async () => {
    const t = await bootApp({
      ...FAST,
      HOOKHUB_RETRY_SCHEDULE: '0.5,0.5,0.5,0.5,0.5,0.5',
      HOOKHUB_WEBHOOK_DISABLE_AFTER_SECONDS: '1',
    });
    const failing = await Receiver.start(() => ({ status: 502, body: 'bad gateway' }));
    const watcher = await Receiver.start();
    try {
      const admin = await t.login();
      const make = async (body: Record<string, unknown>) =>
        (await t.request<Webhook>({ method: 'POST', url: '/api/webhooks', token: admin, body })).json;
      const w = await make({ url: failing.url, events: ['flaky.*'] });
      await make({ url: watcher.url, events: ['webhook.*'] });
      await t.request({ method: 'POST', url: '/api/events', token: admin, body: { type: 'flaky.one', data: {} } });
      const [notice] = await watcher.waitFor(1);
      expect(notice.json).toMatchObject({ type: 'webhook.disabled', data: { webhook_id: w.id } });
      expect(String(notice.json.data.reason)).toContain('every attempt failed since');
      const after = (await t.request<Webhook>({ url: `/api/webhooks/${w.id}`, token: admin })).json;
      expect(after.enabled).toBe(false);
      expect(after.disabled_reason).toContain('last error: HTTP 502: bad gateway');
      // At least 1 s of failures: the first attempt and the ones 0.5 s apart until then.
      expect(failing.received.length).toBeGreaterThanOrEqual(3);
      const d = (await t.request<{ items: Delivery[] }>({ url: `/api/webhooks/${w.id}/deliveries`, token: admin })).json
        .items[0];
      expect(d.status).toBe('failed');
    } finally {
      await failing.close();
      await watcher.close();
      await t.close();
    }
  });
});

describe('private-address guard at save time (e2e, no allow-list)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await bootApp({});
  });
  afterAll(async () => t?.close());

  it.each([
    'http://127.0.0.1/',
    'http://localhost:8080/',
    'http://10.1.2.3/',
    'http://192.168.0.10/',
    'http://172.16.5.4/',
    'http://169.254.169.254/latest/meta-data',
    'http://100.64.0.1/',
    'http://0.0.0.0/',
    'http://224.0.0.1/',
    'http://[::1]/',
    'http://[::ffff:127.0.0.1]/',
    'http://[::ffff:a00:1]/',
    'http://[fe80::1]/',
    'http://[fc00::1]/',
    'http://[64:ff9b::a00:1]/',
    'http://[2002:a00:1::]/',
    'http://2130706433/',
    'http://0x7f.1/',
  ])('refuses %s with 400', async (url) => {
    const admin = await t.login();
    const res = await t.request<{ details: Array<{ field: string; errors: string[] }> }>({
      method: 'POST',
      url: '/api/webhooks',
      token: admin,
      body: { url, events: ['*'] },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json.details[0].field).toBe('url');
  });
});

describe('source.rejected_burst (e2e)', () => {
  it('is published once when a source refuses HOOKHUB_REJECTED_BURST_THRESHOLD requests within a minute', async () => {
    const t = await bootApp({ ...FAST, HOOKHUB_REJECTED_BURST_THRESHOLD: '3' });
    const watcher = await Receiver.start();
    try {
      const admin = await t.login();
      await t.request({
        method: 'POST',
        url: '/api/webhooks',
        token: admin,
        body: { url: watcher.url, events: ['source.rejected_burst', 'marker.*'] },
      });
      const source = await create(t, admin, '/api/sources', {
        slug: 'bursty',
        scheme: 'hmac',
        verification: { header: 'X-Signature', encoding: 'hex' },
        secrets: ['burst-secret-value'],
      });
      const send = () =>
        t.request<{ code: string }>({
          method: 'POST',
          url: '/hooks/bursty',
          headers: { 'content-type': 'application/json', 'x-signature': 'deadbeef' },
          payload: '{}',
        });
      const refuse = () =>
        expectRefused(t, admin, send, { status: 401, code: 'signature_invalid', sourceId: source.id });
      for (let i = 0; i < 2; i++) await refuse();
      // Two refusals are not a burst: the notice that comes is the one the third refusal completed, not one before it.
      const beforeThird = Date.now();
      for (let i = 0; i < 3; i++) await refuse();
      const [notice] = await watcher.waitFor(1);
      expect(notice.json).toMatchObject({
        type: 'source.rejected_burst',
        data: { slug: 'bursty', rejected: 3, window_seconds: 60, last_status: 401 },
      });
      expect(Date.parse(String(notice.json.data.last_at))).toBeGreaterThanOrEqual(beforeThird);
      expect(String(notice.json.data.last_reason)).toContain('signature_invalid');
      // Once a minute at most: three more refusals are another burst's worth, yet publish nothing. A marker
      // published after them arrives, and by then the hub's events hold still one notice.
      for (let i = 0; i < 3; i++) await refuse();
      const marker = await t.request<{ id: string }>({
        method: 'POST',
        url: '/api/events',
        token: admin,
        body: { type: 'marker.after', data: {} },
      });
      await eventually(
        async () => (watcher.received.some((r) => r.json.id === marker.json.id) ? true : undefined),
        20_000,
        'the marker event',
      );
      const notices = await t.request<{ total: number }>({
        url: '/api/events?type=source.rejected_burst',
        token: admin,
      });
      expect(notices.json.total).toBe(1);
      expect(watcher.received.filter((r) => r.json.type === 'source.rejected_burst')).toHaveLength(1);
    } finally {
      await watcher.close();
      await t.close();
    }
  });
});
