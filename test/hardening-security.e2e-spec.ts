import { createHmac, randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { SecretBox, standardWebhooksSignature } from '@hookhub/core';
import { VERIFIERS, type VerificationOptions, type VerificationScheme } from '@hookhub/inbound';
import { ProgramsService } from '@hookhub/tasks';
import { WebhooksService } from '@hookhub/outbound';
import { type TestApp, bootApp } from './helpers/app';
import { PROGRAMS_DIR, type TaskView, create, program, waitForTask } from './helpers/inbound';
import { Receiver } from './helpers/receiver';

interface Signed {
  /** The source's secrets as configured. */
  secrets: string[];
  headers: Record<string, string>;
  /** Every value that would let someone send this request again. */
  credentials: string[];
}

type Signer = (body: string, options: VerificationOptions) => Signed;

const hex = (secret: string | Buffer, data: string) => createHmac('sha256', secret).update(data).digest('hex');
const now = () => String(Math.floor(Date.now() / 1000));

/**
 * A client for every scheme in the verifier registry. A scheme added to the registry without a client here
 * fails the receipt test below: each one must be proved not to leave a replayable credential in receipts.
 */
const SIGNERS: Record<VerificationScheme, Signer | null> = {
  github: (body) => {
    const sig = `sha256=${hex('gh-secret', body)}`;
    return {
      secrets: ['gh-secret'],
      headers: { 'x-hub-signature-256': sig, 'x-github-event': 'push', 'x-github-delivery': randomUUID() },
      credentials: [sig],
    };
  },
  gitlab: () => ({
    secrets: ['gl-token-value'],
    headers: { 'x-gitlab-token': 'gl-token-value', 'x-gitlab-event': 'Push Hook' },
    credentials: ['gl-token-value'],
  }),
  stripe: (body) => {
    const t = now();
    const sig = `t=${t},v1=${hex('whsec_stripe_secret', `${t}.${body}`)}`;
    return { secrets: ['whsec_stripe_secret'], headers: { 'stripe-signature': sig }, credentials: [sig] };
  },
  slack: (body) => {
    const t = now();
    const sig = `v0=${hex('slack-signing-secret', `v0:${t}:${body}`)}`;
    return {
      secrets: ['slack-signing-secret'],
      headers: { 'x-slack-request-timestamp': t, 'x-slack-signature': sig },
      credentials: [sig],
    };
  },
  shopify: (body) => {
    const sig = createHmac('sha256', 'shopify-secret').update(body).digest('base64');
    return { secrets: ['shopify-secret'], headers: { 'x-shopify-hmac-sha256': sig }, credentials: [sig] };
  },
  'standard-webhooks': (body) => {
    const secret = 'whsec_' + Buffer.from('standard-webhooks-test-key-32byt').toString('base64');
    const id = `msg_${randomUUID()}`;
    const t = now();
    const sig = `v1,${standardWebhooksSignature(secret, id, t, Buffer.from(body))}`;
    return {
      secrets: [secret],
      headers: { 'webhook-id': id, 'webhook-timestamp': t, 'webhook-signature': sig },
      credentials: [sig],
    };
  },
  hmac: (body, options) => {
    const sig = hex('hmac-secret', body);
    return {
      secrets: ['hmac-secret'],
      headers: { [(options.header ?? 'X-Signature').toLowerCase()]: sig },
      credentials: [sig],
    };
  },
  token: (_body, options) => {
    const name = (options.header ?? 'authorization').toLowerCase();
    return {
      secrets: ['the-shared-token'],
      headers: { [name]: name === 'authorization' ? 'Bearer the-shared-token' : 'the-shared-token' },
      credentials: ['the-shared-token'],
    };
  },
  basic: () => {
    const value = `Basic ${Buffer.from('hook-user:hook-password').toString('base64')}`;
    return {
      secrets: ['hook-user:hook-password'],
      headers: { authorization: value },
      credentials: [value, Buffer.from('hook-user:hook-password').toString('base64')],
    };
  },
  // Nothing to leak: anyone who knows the URL may call it.
  none: null,
};

/** Security findings of the hostile test, each pinned (issue: hardening). Real HTTP, real programs, real store. */
describe('hardening: security (e2e)', () => {
  let t: TestApp;
  let admin: string;
  let viewer: string;
  let sync: { id: string };

  beforeAll(async () => {
    t = await bootApp({
      HOOKHUB_PROGRAM_DIRS: PROGRAMS_DIR,
      HOOKHUB_QUEUE_POLL_MS: '200',
      HOOKHUB_OUTBOUND_ALLOW: '127.0.0.1/32',
    });
    admin = await t.login();
    viewer = (await t.userWithRole('viewer')).token;
    sync = await create(t, admin, '/api/programs', { name: 'sync', command: program('sync.sh'), args: ['x'] });
  });
  afterAll(async () => t?.close());

  let slugs = 0;
  const source = async (body: Record<string, unknown>) => {
    const slug = `s${++slugs}-${String(body.scheme)}`;
    const s = await create<{ id: string; slug: string }>(t, admin, '/api/sources', { slug, ...body });
    await create(t, admin, `/api/sources/${s.id}/rules`, { name: 'always', program_id: sync.id });
    return s;
  };
  const hook = (slug: string, body: string, headers: Record<string, string>) =>
    t.request<{ receipt_id: string; task_ids: string[]; duplicate?: boolean; message: string; code?: string }>({
      method: 'POST',
      url: `/hooks/${slug}`,
      headers: { 'content-type': 'application/json', ...headers },
      payload: body,
    });

  describe('1. receipts hold no replayable credential', () => {
    const cases: Array<[VerificationScheme, VerificationOptions]> = [];
    for (const scheme of Object.keys(VERIFIERS) as VerificationScheme[]) {
      cases.push([scheme, {}]);
      if (scheme === 'hmac' || scheme === 'token') cases.push([scheme, { header: 'X-Custom-Credential' }]);
    }

    it.each(cases)(
      '%s %j: the receipt a viewer reads has every credential redacted, and replaying it is refused',
      async (scheme, options) => {
        const signer = SIGNERS[scheme];
        if (scheme === 'none') {
          expect(VERIFIERS.none.credentialHeaders({})).toEqual([]);
          return;
        }
        if (!signer) throw new Error(`add a client for scheme ${scheme} to SIGNERS`);
        const body = JSON.stringify({ id: `evt_${randomUUID()}`, type: 'ping', n: 1 });
        const signed = signer(body, options);
        const s = await source({
          scheme,
          secrets: signed.secrets,
          ...(Object.keys(options).length ? { verification: options } : {}),
        });
        const res = await hook(s.slug, body, signed.headers);
        expect([res.statusCode, res.json.task_ids?.length]).toEqual([202, 1]);

        const receipt = await t.request<{ headers: Record<string, string>; body: string }>({
          url: `/api/receipts/${res.json.receipt_id}`,
          token: viewer,
        });
        expect(receipt.statusCode).toBe(200);
        const stored = JSON.stringify(receipt.json);
        for (const credential of signed.credentials) expect(stored).not.toContain(credential);
        for (const name of VERIFIERS[scheme].credentialHeaders(options)) {
          if (name in signed.headers) expect([name, receipt.json.headers[name]]).toEqual([name, '[redacted]']);
        }
        // What a viewer could read is not enough to trigger the program again.
        const replay = await hook(s.slug, receipt.json.body, receipt.json.headers);
        expect(replay.statusCode).toBe(401);
        expect(['signature_missing', 'signature_invalid']).toContain(replay.json.code);
      },
    );
  });

  describe('2. exact replays are refused', () => {
    const runsOf = async (sourceId: string) => {
      const receipts = await t.request<{ items: Array<{ verdict: string; task_ids: string[] }> }>({
        url: `/api/receipts?source_id=${sourceId}&limit=200`,
        token: admin,
      });
      return receipts.json.items;
    };

    it.each(['stripe', 'slack'] as const)(
      '%s: the same signed request twice within the window runs once; the second answers 200 duplicate',
      async (scheme) => {
        const body = JSON.stringify({ type: 'invoice.paid', data: { n: 1 } });
        const signed = SIGNERS[scheme]!(body, {});
        const s = await source({ scheme, secrets: signed.secrets });
        const first = await hook(s.slug, body, signed.headers);
        const second = await hook(s.slug, body, signed.headers);
        expect([first.statusCode, second.statusCode]).toEqual([202, 200]);
        expect(second.json).toMatchObject({
          duplicate: true,
          receipt_id: first.json.receipt_id,
          task_ids: first.json.task_ids,
        });
        expect(second.json.message).toContain('Replay');
        const receipts = await runsOf(s.id);
        expect(receipts.map((r) => r.verdict).sort()).toEqual(['accepted', 'duplicate']);
        // A new signature (a new timestamp) over the same body is a new request: it runs.
        await new Promise((r) => setTimeout(r, 1100));
        const fresh = await hook(s.slug, body, SIGNERS[scheme]!(body, {}).headers);
        expect(fresh.statusCode).toBe(202);
      },
    );

    it('stripe: a retry of the same event (new signature, same event id) is a duplicate delivery', async () => {
      const body = JSON.stringify({ id: `evt_${randomUUID()}`, type: 'invoice.paid' });
      const first = SIGNERS.stripe!(body, {});
      const s = await source({ scheme: 'stripe', secrets: first.secrets });
      expect((await hook(s.slug, body, first.headers)).statusCode).toBe(202);
      await new Promise((r) => setTimeout(r, 1100));
      const retry = await hook(s.slug, body, SIGNERS.stripe!(body, {}).headers);
      expect([retry.statusCode, retry.json.duplicate]).toEqual([200, true]);
      expect(retry.json.message).toContain('Duplicate delivery');
    });

    it('standard-webhooks: a replay is refused even with de-duplication turned off', async () => {
      const body = JSON.stringify({ type: 'thing.happened' });
      const signed = SIGNERS['standard-webhooks']!(body, {});
      const s = await source({ scheme: 'standard-webhooks', secrets: signed.secrets, dedup_window_seconds: 0 });
      expect((await hook(s.slug, body, signed.headers)).statusCode).toBe(202);
      const replay = await hook(s.slug, body, signed.headers);
      expect([replay.statusCode, replay.json.duplicate]).toEqual([200, true]);
    });

    it('hmac with dedup "body": the same body within the window runs once; without it, hmac requests can be replayed', async () => {
      const body = JSON.stringify({ task: 'backup' });
      const signed = SIGNERS.hmac!(body, {});
      const guarded = await source({
        scheme: 'hmac',
        secrets: signed.secrets,
        dedup: 'body',
        dedup_window_seconds: 60,
      });
      const first = await hook(guarded.slug, body, signed.headers);
      const again = await hook(guarded.slug, body, signed.headers);
      expect([first.statusCode, again.statusCode, again.json.duplicate]).toEqual([202, 200, true]);
      expect(again.json.message).toContain('same body');
      const other = JSON.stringify({ task: 'backup', n: 2 });
      expect((await hook(guarded.slug, other, SIGNERS.hmac!(other, {}).headers)).statusCode).toBe(202);

      const open = await source({ scheme: 'hmac', secrets: signed.secrets });
      expect((await hook(open.slug, body, signed.headers)).statusCode).toBe(202);
      expect((await hook(open.slug, body, signed.headers)).statusCode).toBe(202);
      expect((await runsOf(open.id)).filter((r) => r.verdict === 'accepted')).toHaveLength(2);
    });

    it('refuses dedup "body" with a zero window, naming the field', async () => {
      const res = await t.request<{ details: Array<{ field: string }> }>({
        method: 'POST',
        url: '/api/sources',
        token: admin,
        body: { slug: 'zero-window', scheme: 'hmac', secrets: ['x'], dedup: 'body', dedup_window_seconds: 0 },
      });
      expect(res.statusCode).toBe(400);
      expect(res.json.details.map((d) => d.field)).toContain('dedup');
    });
  });

  describe('3. outbound custom header values are secrets', () => {
    it('are sealed at rest, write-only in answers, absent from audit details and logs, and still sent', async () => {
      const receiver = await Receiver.start();
      try {
        const secretValues = ['Bearer tok-3f9a1c', 'session=abc123secret', 'api-token-77e2'];
        const created = await t.request<{ id: string; header_names: string[]; headers?: unknown }>({
          method: 'POST',
          url: '/api/webhooks',
          token: admin,
          body: {
            url: receiver.url,
            events: ['hdr.*'],
            headers: { Authorization: secretValues[0], Cookie: secretValues[1], 'X-API-Token': secretValues[2] },
          },
        });
        expect(created.statusCode).toBe(201);
        expect(created.json.header_names).toEqual(['Authorization', 'Cookie', 'X-API-Token']);
        expect(created.json.headers).toBeUndefined();
        const id = created.json.id;

        const seen = [
          JSON.stringify((await t.request({ url: `/api/webhooks/${id}`, token: viewer })).json),
          JSON.stringify((await t.request({ url: '/api/webhooks', token: viewer })).json),
          JSON.stringify((await t.request({ url: `/api/audit?target_id=${id}`, token: admin })).json),
          JSON.stringify(await t.app.get(DataSource).query(`SELECT headers FROM webhooks WHERE id = $1`, [id])),
        ];
        for (const text of seen) for (const value of secretValues) expect(text).not.toContain(value);

        const published = await t.request({
          method: 'POST',
          url: '/api/events',
          token: admin,
          body: { type: 'hdr.sent', data: {} },
        });
        expect(published.statusCode).toBe(202);
        const [request] = await receiver.waitFor(1);
        expect([request.headers.authorization, request.headers.cookie, request.headers['x-api-token']]).toEqual(
          secretValues,
        );
        const logs = await t.request({ url: `/api/webhooks/${id}/logs`, token: viewer });
        for (const value of secretValues) expect(JSON.stringify(logs.json)).not.toContain(value);

        // PATCH sets and removes by name and keeps the others it cannot show.
        const patched = await t.request<{ header_names: string[] }>({
          method: 'PATCH',
          url: `/api/webhooks/${id}`,
          token: admin,
          body: { headers: { cookie: null, 'X-Extra': 'v2' } },
        });
        expect(patched.statusCode).toBe(200);
        expect(patched.json.header_names).toEqual(['Authorization', 'X-API-Token', 'X-Extra']);
        await t.request({ method: 'POST', url: '/api/events', token: admin, body: { type: 'hdr.sent', data: {} } });
        const [, second] = await receiver.waitFor(2);
        expect([second.headers.authorization, second.headers.cookie, second.headers['x-extra']]).toEqual([
          secretValues[0],
          undefined,
          'v2',
        ]);
      } finally {
        await receiver.close();
      }
    });

    it('seals the values an earlier version stored in clear', async () => {
      const created = await create<{ id: string }>(t, admin, '/api/webhooks', {
        url: 'http://127.0.0.1:9/never',
        events: ['legacy.*'],
      });
      const db = t.app.get(DataSource);
      await db.query(`UPDATE webhooks SET headers = $2, headers_sealed = false WHERE id = $1`, [
        created.id,
        JSON.stringify({ 'X-Legacy': 'plain-legacy-value' }),
      ]);
      expect(await t.app.get(WebhooksService).sealLegacyHeaders()).toBe(1);
      const [row] = (await db.query(`SELECT headers, headers_sealed FROM webhooks WHERE id = $1`, [
        created.id,
      ])) as Array<{ headers: Record<string, string>; headers_sealed: boolean }>;
      expect(row.headers_sealed).toBe(true);
      expect(JSON.stringify(row.headers)).not.toContain('plain-legacy-value');
      expect((await t.app.get(WebhooksService).active(created.id))!.headers).toEqual({
        'X-Legacy': 'plain-legacy-value',
      });
    });

    it('opens secrets and header values sealed before the table was renamed to webhooks (their sealing contexts are unchanged)', async () => {
      const created = await create<{ id: string }>(t, admin, '/api/webhooks', {
        url: 'http://127.0.0.1:9/never',
        events: ['old.*'],
      });
      const box = t.app.get(SecretBox);
      // What an earlier version stored: sealed under contexts that say `subscription`.
      const secrets = [
        {
          sealed: box.seal('whsec_b2xkLXNlY3JldC1iZWZvcmUtdGhlLXJlbmFtZQ==', `subscription:${created.id}`),
          created_at: new Date().toISOString(),
          expires_at: null,
        },
      ];
      const headers = { 'X-Old': box.seal('old-header-value', `subscription-header:${created.id}:x-old`) };
      await t.app
        .get(DataSource)
        .query(`UPDATE webhooks SET secrets = $2, headers = $3, updated_at = now() WHERE id = $1`, [
          created.id,
          JSON.stringify(secrets),
          JSON.stringify(headers),
        ]);
      const active = await t.app.get(WebhooksService).active(created.id);
      expect(active).toMatchObject({
        secrets: ['whsec_b2xkLXNlY3JldC1iZWZvcmUtdGhlLXJlbmFtZQ=='],
        headers: { 'X-Old': 'old-header-value' },
      });
    });
  });

  describe('4. no pattern can stall the process', () => {
    it('publishes the catastrophic schema pattern case and answers at once, while /health/live keeps answering', async () => {
      const type = await t.request({
        method: 'POST',
        url: '/api/event-types',
        token: admin,
        body: {
          name: 'redos.check',
          schema: {
            type: 'object',
            properties: { s: { type: 'string', pattern: '^(a+)+$' } },
            patternProperties: { '^(x+x+)+y$': { type: 'number' } },
          },
        },
      });
      expect(type.statusCode).toBe(201);
      // 2^45 steps for a backtracking engine: this test could only finish (within Jest's timeout) in linear time.
      const evil = 'a'.repeat(45) + '!';
      const [published, live] = await Promise.all([
        t.request<{ code: string; details: Array<{ field: string }> }>({
          method: 'POST',
          url: '/api/events',
          token: admin,
          body: { type: 'redos.check', data: { s: evil, ['x'.repeat(45)]: 'not a number' } },
        }),
        t.request({ url: '/health/live' }),
      ]);
      expect(published.statusCode).toBe(400);
      expect(published.json.code).toBe('validation_failed');
      expect(published.json.details.map((d) => d.field)).toContain('data.s');
      expect(live.statusCode).toBe(200);
    });

    it('refuses patterns RE2 cannot run in linear time when they are saved', async () => {
      const schema = await t.request<{ details: Array<{ field: string }> }>({
        method: 'POST',
        url: '/api/event-types',
        token: admin,
        body: { name: 'lookahead', schema: { type: 'string', pattern: '^(?=a)a$' } },
      });
      expect(schema.statusCode).toBe(400);
      const s = await source({ scheme: 'none' });
      const rule = await t.request<{ details: Array<{ field: string; errors: string[] }> }>({
        method: 'POST',
        url: `/api/sources/${s.id}/rules`,
        token: admin,
        body: { name: 'backref', program_id: sync.id, condition: { path: 'body.s', regex: '(a)\\1' } },
      });
      expect(rule.statusCode).toBe(400);
      expect(rule.json.details[0].field).toBe('condition');
    });
  });

  describe('5. argument templates refuse option injection by default', () => {
    it.each([['--output=/etc/passwd'], ['-rf'], ['main\n--force']])(
      'refuses %j in an argument without a pattern: 400 run_refused, receipt, no run',
      async (value) => {
        const p = await create(t, admin, '/api/programs', {
          name: `argv-${randomUUID().slice(0, 8)}`,
          command: program('backup.sh'),
        });
        const s = await create<{ id: string; slug: string }>(t, admin, '/api/sources', {
          slug: `argv-${randomUUID().slice(0, 8)}`,
          scheme: 'none',
        });
        await create(t, admin, `/api/sources/${s.id}/rules`, {
          name: 'file',
          program_id: p.id,
          args: ['{{body.file}}'],
        });
        const res = await hook(s.slug, JSON.stringify({ file: value }), {});
        expect(res.statusCode).toBe(400);
        expect(res.json.code).toBe('run_refused');
        const receipts = await t.request<{
          items: Array<{ status_code: number; verdict: string; task_ids: string[] }>;
        }>({ url: `/api/receipts?source_id=${s.id}`, token: admin });
        expect(receipts.json.items).toEqual([
          expect.objectContaining({ status_code: 400, verdict: 'rejected', task_ids: [] }),
        ]);
        const ok = await hook(s.slug, JSON.stringify({ file: 'backup.tar' }), {});
        expect(ok.statusCode).toBe(202);
        expect((await waitForTask(t, admin, ok.json.task_ids[0])).argv).toEqual(['backup.tar']);
      },
    );
  });

  describe("6. programs cannot read the hub's own secrets", () => {
    it.each([
      [{ env_allow: ['HOOKHUB_MASTER_KEY'] }, 'env_allow.0'],
      [{ env_allow: ['PATH', 'DATABASE_URL'] }, 'env_allow.1'],
      [{ env_allow: ['LD_PRELOAD'] }, 'env_allow.0'],
      [{ env: { NODE_OPTIONS: '--require /tmp/x.js' } }, 'env.NODE_OPTIONS'],
      [{ env: { REDIS_URL: 'redis://x' } }, 'env.REDIS_URL'],
    ])('refuses %j', async (extra, field) => {
      const res = await t.request<{ details: Array<{ field: string }> }>({
        method: 'POST',
        url: '/api/programs',
        token: admin,
        body: { name: `env-${randomUUID().slice(0, 8)}`, command: program('env.sh'), ...extra },
      });
      expect(res.statusCode).toBe(400);
      expect(res.json.details.map((d) => d.field)).toContain(field);
    });

    it('seals fixed env values at rest, keeps them out of answers and the audit log, and gives them to the run', async () => {
      const p = await create<{ id: string; env_keys: string[] }>(t, admin, '/api/programs', {
        name: 'env-sealed',
        command: program('env.sh'),
        env: { DEPLOY_TOKEN: 'dt-5b1e9c-secret' },
      });
      expect(p.env_keys).toEqual(['DEPLOY_TOKEN']);
      const texts = [
        JSON.stringify((await t.request({ url: `/api/programs/${p.id}`, token: admin })).json),
        JSON.stringify((await t.request({ url: `/api/audit?target_id=${p.id}`, token: admin })).json),
        JSON.stringify(await t.app.get(DataSource).query(`SELECT env FROM programs WHERE id = $1`, [p.id])),
      ];
      for (const text of texts) expect(text).not.toContain('dt-5b1e9c-secret');
      const run = await t.request<{ id: string }>({
        method: 'POST',
        url: `/api/programs/${p.id}/run`,
        token: admin,
        body: {},
      });
      const done = await waitForTask(t, admin, run.json.id);
      expect(done.stdout.split('\n')).toContain('DEPLOY_TOKEN=dt-5b1e9c-secret');
    });

    it("never passes the hub's secrets to a program saved before they were refused, and seals its clear values", async () => {
      const p = await create<{ id: string }>(t, admin, '/api/programs', {
        name: 'env-legacy',
        command: program('env.sh'),
      });
      const db = t.app.get(DataSource);
      await db.query(
        `UPDATE programs SET env_allow = '{HOOKHUB_MASTER_KEY,HOME}', env = $2, env_sealed = false WHERE id = $1`,
        [p.id, JSON.stringify({ LEGACY: 'legacy-clear-value' })],
      );
      expect(await t.app.get(ProgramsService).sealLegacyEnv()).toBe(1);
      const [row] = (await db.query(`SELECT env FROM programs WHERE id = $1`, [p.id])) as Array<{ env: unknown }>;
      expect(JSON.stringify(row.env)).not.toContain('legacy-clear-value');
      process.env.HOOKHUB_MASTER_KEY ??= 'set-for-this-test';
      const run = await t.request<{ id: string }>({
        method: 'POST',
        url: `/api/programs/${p.id}/run`,
        token: admin,
        body: {},
      });
      const done: TaskView = await waitForTask(t, admin, run.json.id);
      expect(done.stdout).toContain('LEGACY=legacy-clear-value');
      expect(done.stdout).not.toContain('HOOKHUB_MASTER_KEY');
    });
  });

  describe('13-15. small things users hit', () => {
    it('accepts a bodiless POST and DELETE that send Content-Type: application/json', async () => {
      const hook = await create<{ id: string; enabled: boolean }>(t, admin, '/api/webhooks', {
        url: 'http://127.0.0.1:9/x',
        events: ['x.*'],
      });
      const headers = { 'content-type': 'application/json' };
      const toggled = await t.request<{ enabled: boolean }>({
        method: 'POST',
        url: `/api/webhooks/${hook.id}/toggle`,
        token: admin,
        headers,
      });
      expect([toggled.statusCode, toggled.json.enabled]).toEqual([200, false]);
      const deleted = await t.request({ method: 'DELETE', url: `/api/webhooks/${hook.id}`, token: admin, headers });
      expect(deleted.statusCode).toBeLessThan(300);
      // An operation that needs a body still says which fields are missing.
      const missing = await t.request<{ code: string; details: Array<{ field: string }> }>({
        method: 'POST',
        url: '/api/webhooks',
        token: admin,
        headers,
      });
      expect([missing.statusCode, missing.json.code]).toEqual([400, 'validation_failed']);
      expect(missing.json.details.map((d) => d.field)).toEqual(expect.arrayContaining(['url', 'events']));
    });

    it.each([
      ['event_field', { event_field: 'event' }],
      ['dedup_field', { dedup_field: 'id' }],
    ])('refuses a %s that is not a body path when saved', async (field, extra) => {
      const res = await t.request<{ details: Array<{ field: string; errors: string[] }> }>({
        method: 'POST',
        url: '/api/sources',
        token: admin,
        body: { slug: `path-${field.replace('_', '-')}`, scheme: 'none', ...extra },
      });
      expect(res.statusCode).toBe(400);
      expect(res.json.details).toEqual([{ field, errors: [expect.stringContaining('starts with "body."')] }]);
    });

    it('refuses rule conditions and payload filters whose paths cannot match, when saved', async () => {
      const s = await source({ scheme: 'none' });
      const rule = await t.request<{ details: Array<{ field: string; errors: string[] }> }>({
        method: 'POST',
        url: `/api/sources/${s.id}/rules`,
        token: admin,
        body: { name: 'bad path', program_id: sync.id, condition: { path: 'ref', eq: 'refs/heads/main' } },
      });
      expect(rule.statusCode).toBe(400);
      expect(rule.json.details[0].errors[0]).toContain('must start with one of event, body, headers, query, source');
      const filter = await t.request<{ details: Array<{ field: string }> }>({
        method: 'POST',
        url: '/api/webhooks',
        token: admin,
        body: { url: 'http://127.0.0.1:9/x', events: ['a.*'], payload_filter: { path: 'status', eq: 'error' } },
      });
      expect(filter.statusCode).toBe(400);
      expect(filter.json.details[0].field).toBe('payload_filter');
    });

    it('takes task_id as a JSON integer only, and says what it got', async () => {
      const s = await create<{ id: string; slug: string }>(t, admin, '/api/sources', {
        slug: 'by-id-int',
        scheme: 'none',
        dispatch: 'by_id',
        by_id_programs: [sync.id],
      });
      const number = (await t.request<{ number: number }>({ url: `/api/programs/${sync.id}`, token: admin })).json
        .number;
      const text = await hook(s.slug, JSON.stringify({ task_id: String(number) }), {});
      expect(text.statusCode).toBe(400);
      expect(text.json.message).toBe(
        `The body must be a JSON object with "task_id", a positive integer (got "${number}")`,
      );
      const ok = await hook(s.slug, JSON.stringify({ task_id: number }), {});
      expect(ok.statusCode).toBe(202);
    });
  });
});
