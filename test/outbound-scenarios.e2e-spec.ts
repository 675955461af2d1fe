import { type ChildProcess, spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { createInterface } from 'node:readline';
import { type TestApp, bootApp } from './helpers/app';
import { Receiver, eventually } from './helpers/receiver';

/** Standard Webhooks, checked with node:crypto alone: HMAC-SHA256 of `id.timestamp.body` under the base64 key after `whsec_`. */
function standardSignature(secret: string, id: string, timestamp: string, body: Buffer): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  return 'v1,' + createHmac('sha256', key).update(`${id}.${timestamp}.`).update(body).digest('base64');
}

/**
 * The receiver of scenario 4's reference document, in Python as the document writes it: the signature is
 * the hex HMAC-SHA256 of `json.dumps(payload, sort_keys=True)` under the secret, in X-ATLAS-Signature, with
 * the event in X-ATLAS-Event; 403 'Invalid signature' otherwise. It prints one JSON line per request.
 */
const ATLAS_RECEIVER = `
import hmac, hashlib, json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer

SECRET = sys.argv[1]

def verify_webhook_signature(payload, signature, secret):
    message = json.dumps(payload, sort_keys=True).encode('utf-8')
    expected_signature = hmac.new(secret.encode('utf-8'), message, hashlib.sha256).hexdigest()
    return hmac.compare_digest(signature or '', expected_signature)

class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get('Content-Length', 0)))
        payload = json.loads(body)
        ok = verify_webhook_signature(payload, self.headers.get('X-ATLAS-Signature'), SECRET)
        print(json.dumps({'ok': ok, 'event': self.headers.get('X-ATLAS-Event'), 'type': payload.get('type'), 'data': payload.get('data')}), flush=True)
        self.send_response(200 if ok else 403)
        self.end_headers()
        self.wfile.write(b'OK' if ok else b'Invalid signature')
    def log_message(self, *args):
        pass

server = HTTPServer(('127.0.0.1', 0), Handler)
print(json.dumps({'port': server.server_address[1]}), flush=True)
server.serve_forever()
`;

interface AtlasLine {
  ok: boolean;
  event: string;
  type: string;
  data: Record<string, unknown>;
}

async function startAtlasReceiver(secret: string): Promise<{ url: string; lines: AtlasLine[]; process: ChildProcess }> {
  const child = spawn('python3', ['-c', ATLAS_RECEIVER, secret], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: AtlasLine[] = [];
  const reader = createInterface({ input: child.stdout! });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    reader.on('line', (line) => {
      const parsed = JSON.parse(line) as { port?: number } & AtlasLine;
      if (parsed.port) resolve(parsed.port);
      else lines.push(parsed);
    });
  });
  return { url: `http://127.0.0.1:${port}/webhook`, lines, process: child };
}

describe('outbound scenarios', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await bootApp({
      HOOKHUB_OUTBOUND_ALLOW: '127.0.0.1/32',
      HOOKHUB_RETRY_SCHEDULE: '0.3,0.3,0.3',
      HOOKHUB_QUEUE_POLL_MS: '100',
    });
  });
  afterAll(async () => {
    await t?.close();
  });

  describe('scenario 4: outbound webhook subscriptions, step by step as the reference shows them', () => {
    const SECRET = 'atlas-webhook-secret-0123456789';
    let atlas: Awaited<ReturnType<typeof startAtlasReceiver>>;
    let token: string;
    let webhookId: string;

    beforeAll(async () => {
      atlas = await startAtlasReceiver(SECRET);
    });
    afterAll(() => {
      atlas?.process.kill();
    });

    it('1. logs in and gets a token', async () => {
      const res = await t.request<{ access_token: string }>({
        method: 'POST',
        url: '/api/auth/login',
        body: { username: 'admin', password: 'admin-password-1' },
      });
      expect(res.statusCode).toBe(200);
      token = res.json.access_token;
      expect(token).toMatch(/^ey/);
    });

    it("2. creates a webhook for service.started and user.created (the Python snippet's fields, trailing slash and all)", async () => {
      const res = await t.request<{ id: string; secret: string; events: string[]; enabled: boolean }>({
        method: 'POST',
        url: '/api/webhooks/',
        token,
        body: {
          url: atlas.url,
          name: '测试 Webhook',
          description: '这是测试',
          events: ['service.started', 'user.created'],
          retry_enabled: true,
          signature_format: 'hmac-hex',
          signature_options: { header: 'X-ATLAS-Signature', event_header: 'X-ATLAS-Event' },
          body_format: 'sorted',
          secret: SECRET,
        },
      });
      expect(res.statusCode).toBe(201);
      expect(res.json).toMatchObject({ events: ['service.started', 'user.created'], enabled: true, secret: SECRET });
      webhookId = res.json.id;
    });

    it('3. lists it', async () => {
      const res = await t.request<{ items: Array<{ id: string; name: string }>; total: number }>({
        url: '/api/webhooks/',
        token,
      });
      expect(res.statusCode).toBe(200);
      expect(res.json.items.find((w) => w.id === webhookId)).toMatchObject({ name: '测试 Webhook' });
      expect(JSON.stringify(res.json)).not.toContain(SECRET);
    });

    it('4. tests it: the Python receiver verifies the signature of the test event and answers 200', async () => {
      const res = await t.request<{
        attempt: {
          status_code: number;
          success: boolean;
          duration_ms: number;
          response_body: string;
          request_headers: Record<string, string>;
        };
      }>({
        method: 'POST',
        url: `/api/webhooks/${webhookId}/test`,
        token,
      });
      expect(res.statusCode).toBe(200);
      expect(res.json.attempt).toMatchObject({ status_code: 200, success: true, response_body: 'OK' });
      expect(res.json.attempt.duration_ms).toBeGreaterThanOrEqual(0);
      expect(
        res.json.attempt.request_headers['x-atlas-signature'] ?? res.json.attempt.request_headers['X-ATLAS-Signature'],
      ).toBe('[redacted]');
      expect(atlas.lines.at(-1)).toMatchObject({ ok: true, event: 'webhook.test', type: 'webhook.test' });
    });

    it('5. delivers service.started and user.created (with non-ASCII data) signed as the receiver checks, and not other events', async () => {
      const publish = (type: string, data: Record<string, unknown>) =>
        t.request<{ deliveries: number }>({ method: 'POST', url: '/api/events', token, body: { type, data } });
      // Published first, and to no webhook: it has no delivery to send, and the two published after it arrive alone.
      const stopped = await publish('service.stopped', { service: 'nginx' });
      expect([stopped.statusCode, stopped.json.deliveries]).toEqual([202, 0]);
      const started = await publish('service.started', { service: 'nginx', pid: 4242, nested: { b: 1, a: [1, 'x'] } });
      expect([started.statusCode, started.json.deliveries]).toEqual([202, 1]);
      const created = await publish('user.created', { username: '张三', quota_gb: 10.5 });
      expect([created.statusCode, created.json.deliveries]).toEqual([202, 1]);
      const lines = await eventually(
        async () => (atlas.lines.length >= 3 ? atlas.lines : undefined),
        15_000,
        'two deliveries',
      );
      const delivered = lines.filter((l) => l.type !== 'webhook.test');
      expect(delivered.map((l) => [l.event, l.ok]).sort()).toEqual([
        ['service.started', true],
        ['user.created', true],
      ]);
      expect(delivered.find((l) => l.event === 'user.created')?.data).toEqual({ username: '张三', quota_gb: 10.5 });
    });

    it('6. shows the logs (also the last 24 h across all webhooks) and the stats', async () => {
      // Attempts are logged when their batch commits, just after the receiver answered.
      const logs = await eventually(
        async () => {
          const res = await t.request<{
            items: Array<{ event_type: string; success: boolean; status_code: number }>;
            total: number;
          }>({ url: `/api/webhooks/${webhookId}/logs?limit=50`, token });
          return res.json.total >= 3 ? res : undefined;
        },
        10_000,
        'three logged attempts',
      );
      expect(logs.statusCode).toBe(200);
      expect(logs.json.total).toBe(3);
      expect(logs.json.items.every((a) => a.success && a.status_code === 200)).toBe(true);
      expect(logs.json.items.map((a) => a.event_type).sort()).toEqual([
        'service.started',
        'user.created',
        'webhook.test',
      ]);
      const recent = await t.request<{ items: Array<{ webhook_id: string }> }>({
        url: '/api/webhooks/logs/recent?hours=24',
        token,
      });
      expect(recent.statusCode).toBe(200);
      expect(recent.json.items.filter((a) => a.webhook_id === webhookId)).toHaveLength(3);
      const stats = await t.request<Record<string, unknown>>({ url: `/api/webhooks/${webhookId}/stats`, token });
      expect(stats.statusCode).toBe(200);
      expect(stats.json).toMatchObject({
        total: 3,
        succeeded: 3,
        failed: 0,
        pending: 0,
        success_rate: 1,
        attempts: 3,
        attempts_succeeded: 3,
      });
      expect(typeof stats.json.p50_ms).toBe('number');
      expect(typeof stats.json.p95_ms).toBe('number');
      expect(stats.json.last_success_at).not.toBeNull();
    });

    it('7. updates it (PUT and PATCH) and a wrong secret on the receiver side shows as a failed attempt with last_error', async () => {
      const put = await t.request<{ name: string; events: string[]; signature_format: string }>({
        method: 'PUT',
        url: `/api/webhooks/${webhookId}`,
        token,
        body: {
          url: atlas.url,
          name: 'renamed',
          events: ['service.*'],
          signature_format: 'hmac-hex',
          signature_options: { header: 'X-ATLAS-Signature', event_header: 'X-ATLAS-Event' },
          body_format: 'compact',
          retry_enabled: false,
        },
      });
      expect(put.statusCode).toBe(200);
      expect(put.json).toMatchObject({ name: 'renamed', events: ['service.*'] });
      // Compact JSON is not what the Python receiver re-serializes, so its check fails: 403, recorded.
      const test = await t.request<{ attempt: { status_code: number; success: boolean; response_body: string } }>({
        method: 'POST',
        url: `/api/webhooks/${webhookId}/test`,
        token,
      });
      expect(test.json.attempt).toMatchObject({ status_code: 403, success: false, response_body: 'Invalid signature' });
      const after = await t.request<{ last_error: string }>({ url: `/api/webhooks/${webhookId}`, token });
      expect(after.json.last_error).toBe('HTTP 403: Invalid signature');
      const patch = await t.request<{ body_format: string; name: string }>({
        method: 'PATCH',
        url: `/api/webhooks/${webhookId}`,
        token,
        body: { body_format: 'sorted' },
      });
      expect(patch.json).toMatchObject({ body_format: 'sorted', name: 'renamed' });
      const again = await t.request<{ attempt: { status_code: number } }>({
        method: 'POST',
        url: `/api/webhooks/${webhookId}/test`,
        token,
      });
      expect(again.json.attempt.status_code).toBe(200);
    });

    it('8. toggles it off (no more deliveries) and on again', async () => {
      const off = await t.request<{ enabled: boolean }>({
        method: 'POST',
        url: `/api/webhooks/${webhookId}/toggle`,
        token,
      });
      expect(off.json.enabled).toBe(false);
      const published = await t.request<{ deliveries: number }>({
        method: 'POST',
        url: '/api/events',
        token,
        body: { type: 'service.started', data: { service: 'off' } },
      });
      expect(published.json.deliveries).toBe(0);
      const on = await t.request<{ enabled: boolean }>({
        method: 'POST',
        url: `/api/webhooks/${webhookId}/toggle`,
        token,
      });
      expect(on.json.enabled).toBe(true);
      const again = await t.request<{ deliveries: number }>({
        method: 'POST',
        url: '/api/events',
        token,
        body: { type: 'service.started', data: { service: 'on' } },
      });
      expect(again.json.deliveries).toBe(1);
      await eventually(
        async () => (atlas.lines.some((l) => l.data?.service === 'on') ? true : undefined),
        10_000,
        'the delivery after enabling',
      );
      expect(atlas.lines.some((l) => l.data?.service === 'off')).toBe(false);
    });

    it('9. deletes it; then it is gone', async () => {
      const del = await t.request({ method: 'DELETE', url: `/api/webhooks/${webhookId}`, token });
      expect(del.statusCode).toBe(200);
      const get = await t.request<{ code: string }>({ url: `/api/webhooks/${webhookId}`, token });
      expect(get.statusCode).toBe(404);
      expect(get.json.code).toBe('not_found');
    });
  });

  describe('scenario 2: resource change callbacks fanned out to several receivers', () => {
    let all: Receiver;
    let instances: Receiver;
    let errors: Receiver;
    let token: string;
    const secrets: Record<string, string> = {};

    beforeAll(async () => {
      token = await t.login();
      let inFlight = 0;
      all = await Receiver.start();
      // Counts how many requests it has at once, and holds every answer until all the events are published, so
      // that all six are due together: only max_in_flight 2 keeps the hub from sending them all at once.
      instances = await Receiver.start(() => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        const answered = allPublished.then(() => new Promise((r) => setTimeout(r, 150))).then(() => inFlight--);
        return { status: 204, until: answered };
      });
      // Fails twice, then accepts: retries on the (shortened) schedule deliver it.
      errors = await Receiver.start((n) => (n <= 2 ? { status: 503, body: 'busy' } : { status: 200 }));
      const create = async (name: string, url: string, events: string[], extra: Record<string, unknown> = {}) => {
        const res = await t.request<{ id: string; secret: string }>({
          method: 'POST',
          url: '/api/webhooks',
          token,
          body: { name, url, events, ...extra },
        });
        expect(res.statusCode).toBe(201);
        secrets[name] = res.json.secret;
        return res.json.id;
      };
      await create('all', all.url + '/all', ['resource.*']);
      await create('instances', instances.url, ['resource.instance.*'], { max_in_flight: 2 });
      await create('errors', errors.url, ['resource.*'], { payload_filter: { path: 'data.status', eq: 'error' } });
    });
    let maxInFlight = 0;
    let published!: () => void;
    const allPublished = new Promise<void>((r) => (published = r));
    afterAll(async () => {
      published();
      await Promise.all([all, instances, errors].map((r) => r?.close()));
    });

    const event = (resource: string, status: string, previous: string, i: number) => ({
      type: `resource.${resource}.updated`,
      data: {
        resource_type: resource,
        resource_uuid: `550e8400-e29b-41d4-a716-44665544${String(i).padStart(4, '0')}`,
        resource_id: i,
        status,
        previous_status: previous,
        timestamp: '2025-10-30T10:30:00Z',
        metadata: { hostname: `test-vm-${i}`, hyper_id: 5, zone_id: 1, cpu: 4, memory: 8192, disk: 100 },
      },
    });

    it('delivers each event to every matching receiver, signed (Standard Webhooks), bounded and retried', async () => {
      const events = [
        ...Array.from({ length: 6 }, (_, i) => event('instance', 'running', 'pending', i)),
        event('volume', 'attached', 'available', 100),
        event('image', 'error', 'creating', 101),
        event('interface', 'attached', 'detached', 102),
      ];
      const sent: Array<{ id: string; deliveries: number }> = [];
      for (const e of events) {
        const res = await t.request<{ id: string; deliveries: number }>({
          method: 'POST',
          url: '/api/events',
          token,
          body: e,
        });
        expect(res.statusCode).toBe(202);
        sent.push(res.json);
      }
      // all: 9, instances: 6, errors: the one with status error.
      expect(sent.map((p) => p.deliveries)).toEqual([2, 2, 2, 2, 2, 2, 1, 2, 1]);
      // Two requests are held while the other four are due. Every later event (published after them, so claimed
      // after them) reaching its receiver shows the hub has had its chance to send more to this one.
      await instances.waitFor(2);
      await all.waitFor(9);
      expect(instances.received.length).toBe(2);
      published();
      await instances.waitFor(6);
      await errors.waitFor(3);
      expect(new Set(all.received.map((r) => r.json.id)).size).toBe(9);
      expect(instances.received.every((r) => r.json.type === 'resource.instance.updated')).toBe(true);
      expect(maxInFlight).toBe(2);
      // The failing receiver saw the same delivery three times, with the same id; the third was accepted.
      expect(errors.received.map((r) => r.json.data.resource_id)).toEqual([101, 101, 101]);
      expect(new Set(errors.received.map((r) => r.headers['webhook-id'])).size).toBe(1);
      expect(errors.received.map((r) => r.headers['x-hookhub-attempt'])).toEqual(['1', '2', '3']);
      // Every request verifies with the receiver's own secret, over the exact bytes received.
      for (const [name, receiver] of [
        ['all', all],
        ['instances', instances],
        ['errors', errors],
      ] as const) {
        for (const r of receiver.received) {
          const id = String(r.headers['webhook-id']);
          const ts = String(r.headers['webhook-timestamp']);
          expect(Math.abs(Number(ts) - Date.now() / 1000)).toBeLessThan(60);
          expect(String(r.headers['webhook-signature']).split(' ')).toContain(
            standardSignature(secrets[name], id, ts, r.raw),
          );
          expect(r.headers['content-type']).toBe('application/json');
          expect(r.json.id).toBe(id);
        }
      }
      expect(all.received[0].path).toBe('/all');
      const first = all.received.find((r) => r.json.data.resource_id === 0)!;
      expect(first.json.data).toEqual(events[0].data);
    });

    it('GET /api/events/{id} shows the event with its delivery to each receiver', async () => {
      const list = await t.request<{ items: Array<{ id: string; type: string }> }>({
        url: '/api/events?type=resource.image.updated',
        token,
      });
      expect(list.json.items).toHaveLength(1);
      const detail = await t.request<{
        data: { status: string };
        deliveries: Array<{ status: string; attempts: number }>;
      }>({ url: `/api/events/${list.json.items[0].id}`, token });
      expect(detail.json.data.status).toBe('error');
      expect(detail.json.deliveries.map((d) => [d.status, d.attempts]).sort()).toEqual([
        ['succeeded', 1],
        ['succeeded', 3],
      ]);
    });
  });
});
