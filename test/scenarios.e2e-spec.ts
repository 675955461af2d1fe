import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type TestApp, bootApp } from './helpers/app';
import { tempDir } from './helpers/database';
import { PROGRAMS_DIR, create, expectRefused, githubSignature, program, waitForTask } from './helpers/inbound';

const run = promisify(execFile);

/**
 * Scenarios 1, 3 and 5 of the design, end to end: the client side exactly as the reference documents
 * describe it (curl + openssl, the GitHub Actions step, the Python snippet's bytes), real HTTP, real
 * programs run as child processes, on a real database.
 */
describe('inbound scenarios', () => {
  let t: TestApp;
  let admin: string;

  beforeAll(async () => {
    t = await bootApp({
      HOOKHUB_PROGRAM_DIRS: PROGRAMS_DIR,
      HOOKHUB_QUEUE_POLL_MS: '200',
      HOOKHUB_TASK_KILL_GRACE_MS: '500',
    });
    admin = await t.login();
  });
  afterAll(async () => {
    await t?.close();
  });

  describe('scenario 1: docker backup callback (X-Signature, base64 HMAC, sync answer)', () => {
    const SECRET = 'your_secret_key_here';
    let backupId: string;
    beforeAll(async () => {
      const backup = await create(t, admin, '/api/programs', {
        name: 'docker-backup',
        command: program('backup.sh'),
        timeout_seconds: 60,
      });
      const source = await create(t, admin, '/api/sources', {
        slug: 'backup',
        scheme: 'hmac',
        verification: { header: 'X-Signature', encoding: 'base64' },
        secrets: [SECRET],
        response_mode: 'sync',
        sync_timeout_seconds: 20,
      });
      backupId = source.id;
      await create(t, admin, `/api/sources/${source.id}/rules`, {
        name: 'every trigger runs the backup',
        program_id: backup.id,
        args: [{ template: '{{body.args}}', pattern: '^-{1,2}[a-z][a-z-]*$' }],
      });
    });

    it('runs the backup with the args from the curl + openssl command and answers with its output', async () => {
      const script = `
        SECRET='${SECRET}'
        BODY='{"args": ["-a", "--volumes"]}'
        SIGNATURE=$(echo -n "$BODY" | openssl dgst -sha256 -hmac "$SECRET" -binary | base64)
        curl -s -X POST \\
          -H "Content-Type: application/json" \\
          -H "X-Signature: $SIGNATURE" \\
          -d "$BODY" \\
          -w '\\n%{http_code}' \\
          ${t.baseUrl}/hooks/backup`;
      const { stdout } = await run('bash', ['-c', script]);
      const lines = stdout.trim().split('\n');
      const status = Number(lines.pop());
      const body = JSON.parse(lines.join('\n')) as {
        output: string;
        exit_code: number;
        succeeded: boolean;
        task_ids: string[];
        message: string;
      };
      expect(status).toBe(200);
      expect(body.succeeded).toBe(true);
      expect(body.exit_code).toBe(0);
      expect(body.output).toContain('backup started with: -a --volumes');
      expect(body.output).toContain('arg: --volumes');
      const task = await waitForTask(t, admin, body.task_ids[0]);
      expect(task.argv).toEqual(['-a', '--volumes']);
      expect(task.status).toBe('succeeded');
    });

    it('answers 401 for a bad signature, 405 for GET, 400 for malformed JSON, and records each', async () => {
      const body = '{"args": ["-a"]}';
      const hook = (o: { method?: 'GET' | 'POST'; headers?: Record<string, string>; payload?: string }) => () =>
        t.request<{ code: string; message: string }>({
          method: o.method ?? 'POST',
          url: '/hooks/backup',
          headers: o.headers,
          payload: o.payload,
        });
      await expectRefused(
        t,
        admin,
        hook({ headers: { 'content-type': 'application/json', 'x-signature': 'AAAA' }, payload: body }),
        { status: 401, code: 'signature_invalid', sourceId: backupId },
      );
      await expectRefused(t, admin, hook({ headers: { 'content-type': 'application/json' }, payload: body }), {
        status: 401,
        code: 'signature_missing',
        sourceId: backupId,
      });
      const { res: get } = await expectRefused(t, admin, hook({ method: 'GET' }), {
        status: 405,
        code: 'method_not_allowed',
        sourceId: backupId,
      });
      expect(get.headers.allow).toBe('POST');
      const broken = '{"args": [';
      const sig = (await import('node:crypto')).createHmac('sha256', SECRET).update(broken).digest('base64');
      const { res: malformed, receipt } = await expectRefused(
        t,
        admin,
        hook({ headers: { 'content-type': 'application/json', 'x-signature': sig }, payload: broken }),
        {
          status: 400,
          code: 'bad_request',
          sourceId: backupId,
        },
      );
      expect(malformed.json.message).toContain('Malformed JSON');
      expect(receipt.reason).toContain('Malformed JSON');
    });

    it('refuses a run whose argument does not match the declared pattern, and runs nothing', async () => {
      const body = '{"args": ["-a", "; rm -rf /"]}';
      const sig = (await import('node:crypto')).createHmac('sha256', SECRET).update(body).digest('base64');
      const before = await t.request<{ total: number }>({ url: '/api/tasks?limit=1', token: admin });
      const { res, receipt } = await expectRefused(
        t,
        admin,
        () =>
          t.request<{ code: string; message: string }>({
            method: 'POST',
            url: '/hooks/backup',
            headers: { 'content-type': 'application/json', 'x-signature': sig },
            payload: body,
          }),
        { status: 400, code: 'run_refused', sourceId: backupId },
      );
      expect(res.json.message).toContain('does not match');
      expect(receipt.task_ids).toEqual([]);
      const after = await t.request<{ total: number }>({ url: '/api/tasks?limit=1', token: admin });
      expect(after.json.total).toBe(before.json.total);
    });
  });

  describe('scenario 3: webhook task runner (rules pick a program; task status over the API)', () => {
    const SECRET = 'gh-secret';
    let sourceId: string;
    let log: string;

    beforeAll(async () => {
      log = join(tempDir('deploy-log'), 'deploy.log');
      writeFileSync(log, '');
      const deploy = await create(t, admin, '/api/programs', {
        name: 'deploy',
        command: program('deploy.sh'),
        env_allow: ['GIT_REF', 'DEPLOY_LOG', 'DEPLOY_SLEEP'],
        env: { DEPLOY_LOG: log, DEPLOY_SLEEP: '0.5' },
        concurrency_key: '{{body.repository.full_name}}:{{body.ref}}',
      });
      const source = await create(t, admin, '/api/sources', { slug: 'github', scheme: 'github', secrets: [SECRET] });
      sourceId = source.id;
      await create(t, admin, `/api/sources/${source.id}/rules`, {
        name: 'push to main deploys',
        condition: {
          and: [
            { path: 'event', eq: 'push' },
            { path: 'body.ref', eq: 'refs/heads/main' },
          ],
        },
        program_id: deploy.id,
        args: [
          { template: '{{body.ref}}', pattern: '^refs/heads/[a-z]+$' },
          { template: '{{body.after}}', pattern: '^[0-9a-f]{7,40}$' },
        ],
        env: { GIT_REF: '{{body.ref}}' },
      });
    });

    const push = (ref: string, delivery: string, after = 'abc1234') => {
      const body = JSON.stringify({ ref, after, repository: { full_name: 'acme/api' } });
      return t.request<{ task_ids: string[]; matched: boolean; receipt_id: string; duplicate?: boolean }>({
        method: 'POST',
        url: '/hooks/github',
        headers: {
          'content-type': 'application/json',
          'x-github-event': 'push',
          'x-github-delivery': delivery,
          'x-hub-signature-256': githubSignature(SECRET, body),
        },
        payload: body,
      });
    };

    it('runs deploy for a push to main with argv and env from the payload, and not the hub environment', async () => {
      const res = await push('refs/heads/main', 'delivery-1');
      expect(res.statusCode).toBe(202);
      expect(res.json.matched).toBe(true);
      expect(res.json.task_ids).toHaveLength(1);
      const task = await waitForTask(t, admin, res.json.task_ids[0]);
      expect(task.status).toBe('succeeded');
      expect(task.exit_code).toBe(0);
      expect(task.argv).toEqual(['refs/heads/main', 'abc1234']);
      expect(task.stdout).toContain('deploying ref=refs/heads/main commit=abc1234 GIT_REF=refs/heads/main HOME=unset');
      expect(task.started_at).not.toBeNull();
      expect(task.finished_at).not.toBeNull();
    });

    it('answers 202 matched:false for a push to another branch, and the dry run says why', async () => {
      const res = await push('refs/heads/dev', 'delivery-2');
      expect(res.statusCode).toBe(202);
      expect(res.json).toMatchObject({ matched: false, task_ids: [] });
      const dry = await t.request<{ matched: boolean; rules: Array<{ matched: boolean; failed: string | null }> }>({
        method: 'POST',
        url: `/api/sources/${sourceId}/rules/test`,
        token: admin,
        body: { headers: { 'X-GitHub-Event': 'push' }, body: { ref: 'refs/heads/dev', after: 'abc1234' } },
      });
      expect(dry.statusCode).toBe(200);
      expect(dry.json.matched).toBe(false);
      expect(dry.json.rules[0].failed).toBe('body.ref eq "refs/heads/main" was "refs/heads/dev"');
    });

    it('answers a repeated delivery id with 200 and the original receipt, running nothing again', async () => {
      const first = await push('refs/heads/main', 'delivery-dup');
      expect(first.statusCode).toBe(202);
      const again = await push('refs/heads/main', 'delivery-dup');
      expect(again.statusCode).toBe(200);
      expect(again.json.duplicate).toBe(true);
      expect(again.json.receipt_id).toBe(first.json.receipt_id);
      expect(again.json.task_ids).toEqual(first.json.task_ids);
      const runs = await t.request<{ total: number }>({
        url: `/api/tasks?receipt_id=${first.json.receipt_id}`,
        token: admin,
      });
      expect(runs.json.total).toBe(1);
      await waitForTask(t, admin, first.json.task_ids[0]);
    });

    it('runs a delivery sent many times at once exactly once, and answers every copy with the original receipt', async () => {
      const copies = await Promise.all(
        Array.from({ length: 12 }, () => push('refs/heads/main', 'delivery-burst', 'ccccccc')),
      );
      const accepted = copies.filter((c) => c.statusCode === 202);
      const duplicates = copies.filter((c) => c.statusCode === 200);
      expect(accepted).toHaveLength(1);
      expect(duplicates).toHaveLength(11);
      const original = accepted[0].json;
      for (const d of duplicates) {
        expect(d.json).toMatchObject({
          duplicate: true,
          receipt_id: original.receipt_id,
          task_ids: original.task_ids,
          matched: true,
        });
      }
      const runs = await t.request<{ total: number }>({
        url: `/api/tasks?receipt_id=${original.receipt_id}`,
        token: admin,
      });
      expect(runs.json.total).toBe(1);
      const list = await t.request<{
        items: Array<{ delivery_id: string; duplicate_of: string | null; task_ids: string[] }>;
      }>({
        url: `/api/receipts?source_id=${sourceId}&verdict=duplicate&limit=100`,
        token: admin,
      });
      const burst = list.json.items.filter((r) => r.delivery_id === 'delivery-burst');
      expect(burst).toHaveLength(11);
      expect(burst.every((r) => r.duplicate_of !== null && r.task_ids.length === 0)).toBe(true);
      await waitForTask(t, admin, original.task_ids[0]);
    });

    it('never overlaps two runs with the same concurrency key', async () => {
      writeFileSync(log, '');
      const [a, b] = await Promise.all([
        push('refs/heads/main', 'delivery-a', 'aaaaaaa'),
        push('refs/heads/main', 'delivery-b', 'bbbbbbb'),
      ]);
      expect([a.statusCode, b.statusCode]).toEqual([202, 202]);
      const ta = await waitForTask(t, admin, a.json.task_ids[0]);
      const tb = await waitForTask(t, admin, b.json.task_ids[0]);
      expect([ta.status, tb.status]).toEqual(['succeeded', 'succeeded']);
      const events = readFileSync(log, 'utf8')
        .trim()
        .split('\n')
        .map((l) => l.split(' ')[0]);
      expect(events).toEqual(['start', 'end', 'start', 'end']);
    });

    it('keeps receipts with filters and counts them in the source stats', async () => {
      const list = await t.request<{
        items: Array<{ verdict: string; event: string; delivery_id: string }>;
        total: number;
      }>({ url: `/api/receipts?source_id=${sourceId}&verdict=duplicate`, token: admin });
      expect(list.statusCode).toBe(200);
      expect(list.json.items.length).toBeGreaterThanOrEqual(1);
      expect(list.json.items.every((r) => r.verdict === 'duplicate' && r.event === 'push')).toBe(true);
      const stats = await t.request<{ total: number; by_verdict: Record<string, number>; by_hour: unknown[] }>({
        url: `/api/sources/${sourceId}/stats`,
        token: admin,
      });
      expect(stats.statusCode).toBe(200);
      expect(stats.json.by_verdict.accepted).toBeGreaterThanOrEqual(3);
      expect(stats.json.by_verdict.unmatched).toBeGreaterThanOrEqual(1);
      expect(stats.json.by_verdict.duplicate).toBeGreaterThanOrEqual(1);
      expect(stats.json.by_hour.length).toBeGreaterThanOrEqual(1);
    });

    it('stores receipts with the signature header redacted', async () => {
      const list = await t.request<{ items: Array<{ id: string }> }>({
        url: `/api/receipts?source_id=${sourceId}&limit=1`,
        token: admin,
      });
      const detail = await t.request<{ headers: Record<string, string>; body: string }>({
        url: `/api/receipts/${list.json.items[0].id}`,
        token: admin,
      });
      expect(detail.json.headers['x-hub-signature-256']).toBe('[redacted]');
      expect(detail.json.body).toContain('refs/heads/');
    });

    it('replays a verified receipt for admins only, as a new receipt that runs the rules again', async () => {
      const original = await push('refs/heads/main', 'delivery-replay');
      await waitForTask(t, admin, original.json.task_ids[0]);
      const operator = await t.userWithRole('operator');
      const denied = await t.request({
        method: 'POST',
        url: `/api/receipts/${original.json.receipt_id}/replay`,
        token: operator.token,
      });
      expect(denied.statusCode).toBe(403);
      const replay = await t.request<{ receipt_id: string; task_ids: string[]; matched: boolean }>({
        method: 'POST',
        url: `/api/receipts/${original.json.receipt_id}/replay`,
        token: admin,
      });
      expect(replay.statusCode).toBe(201);
      expect(replay.json.matched).toBe(true);
      expect(replay.json.receipt_id).not.toBe(original.json.receipt_id);
      const rerun = await waitForTask(t, admin, replay.json.task_ids[0]);
      expect(rerun).toMatchObject({ status: 'succeeded', argv: ['refs/heads/main', 'abc1234'] });
      const rejected = await t.request<{ items: Array<{ id: string }> }>({
        url: '/api/receipts?verdict=rejected&limit=1',
        token: admin,
      });
      const refused = await t.request({
        method: 'POST',
        url: `/api/receipts/${rejected.json.items[0].id}/replay`,
        token: admin,
      });
      expect(refused.statusCode).toBe(409);
      expect(
        (
          await t.request({
            method: 'POST',
            url: '/api/receipts/00000000-0000-4000-8000-000000000000/replay',
            token: admin,
          })
        ).statusCode,
      ).toBe(404);
    });

    it('lets viewers read sources but not create them', async () => {
      const viewer = await t.userWithRole('viewer');
      expect((await t.request({ url: `/api/sources/${sourceId}`, token: viewer.token })).statusCode).toBe(200);
      const denied = await t.request({
        method: 'POST',
        url: '/api/sources',
        token: viewer.token,
        body: { slug: 'nope', scheme: 'none' },
      });
      expect(denied.statusCode).toBe(403);
    });

    it('verifies a token source and enforces an IP allow-list', async () => {
      const p = await create(t, admin, '/api/programs', {
        name: 'analyze',
        command: program('sync.sh'),
        args: ['{{body.data}}'],
      });
      const custom = await create(t, admin, '/api/sources', { slug: 'custom', scheme: 'token', secrets: ['t0ken'] });
      await create(t, admin, `/api/sources/${custom.id}/rules`, {
        name: 'data_update',
        condition: { path: 'body.type', eq: 'data_update' },
        program_id: p.id,
      });
      const ok = await t.request<{ task_ids: string[] }>({
        method: 'POST',
        url: '/hooks/custom',
        headers: { authorization: 'Bearer t0ken' },
        body: { type: 'data_update', data: 'x1' },
      });
      expect(ok.statusCode).toBe(202);
      expect((await waitForTask(t, admin, ok.json.task_ids[0])).stdout).toContain('synced task x1');
      await expectRefused(
        t,
        admin,
        () =>
          t.request({
            method: 'POST',
            url: '/hooks/custom',
            headers: { authorization: 'Bearer nope' },
            body: { type: 'data_update' },
          }),
        {
          status: 401,
          code: 'signature_invalid',
          sourceId: custom.id,
        },
      );
      const lan = await create(t, admin, '/api/sources', {
        slug: 'lan-only',
        scheme: 'token',
        secrets: ['t0ken'],
        ip_allow: ['192.168.1.0/24', '10.0.0.1'],
      });
      const { receipt } = await expectRefused(
        t,
        admin,
        () =>
          t.request({ method: 'POST', url: '/hooks/lan-only', headers: { authorization: 'Bearer t0ken' }, body: {} }),
        {
          status: 403,
          code: 'ip_not_allowed',
          sourceId: lan.id,
        },
      );
      expect(receipt.reason).toContain('127.0.0.1');
    });
  });

  describe('scenario 5: git sync trigger by task id (X-Hub-Signature-256 over {"task_id": N})', () => {
    const SECRET = 'my-secret-key';
    let number: number;
    let syncSourceId: string;

    beforeAll(async () => {
      const sync = await create(t, admin, '/api/programs', {
        name: 'git-sync',
        command: program('sync.sh'),
        args: ['{{body.task_id}}'],
      });
      number = sync.number;
      syncSourceId = (
        await create(t, admin, '/api/sources', {
          slug: 'task-sync',
          scheme: 'github',
          secrets: [SECRET],
          dispatch: 'by_id',
          by_id_programs: [sync.id],
          rate_limit: 100,
        })
      ).id;
    });

    const send = (body: string, headers: Record<string, string> = {}) =>
      t.request<{ code: string; task_id: number; task_ids: string[]; message: string }>({
        method: 'POST',
        url: '/hooks/task-sync',
        headers: {
          'content-type': 'application/json',
          'x-hub-signature-256': githubSignature(SECRET, body),
          ...headers,
        },
        payload: body,
      });

    it('accepts the GitHub Actions step (curl + openssl + sed) and runs the sync task', async () => {
      const script = `
        body='{"task_id": ${number}}'
        signature=$(echo -n "$body" | openssl dgst -sha256 -hmac "${SECRET}" | sed 's/.*= //')
        curl -s -X POST ${t.baseUrl}/hooks/task-sync \\
          -H "Content-Type: application/json" \\
          -H "X-Hub-Signature-256: sha256=$signature" \\
          -d "$body" -w '\\n%{http_code}'`;
      const { stdout } = await run('bash', ['-c', script]);
      const lines = stdout.trim().split('\n');
      expect(Number(lines.pop())).toBe(202);
      const body = JSON.parse(lines.join('\n')) as { task_id: number; task_ids: string[] };
      expect(body.task_id).toBe(number);
      const task = await waitForTask(t, admin, body.task_ids[0]);
      expect(task.stdout.trim()).toBe(`synced task ${number}`);
    });

    it('accepts the Python client bytes (json.dumps with its space)', async () => {
      const res = await send(`{"task_id": ${number}}`);
      expect(res.statusCode).toBe(202);
      expect(res.json.task_id).toBe(number);
    });

    it('answers 400, 401, 404 as the reference table says, and records each refusal', async () => {
      const refused = (status: number, code: string, body: string, headers: Record<string, string> = {}) =>
        expectRefused(t, admin, () => send(body, headers), { status, code, sourceId: syncSourceId });
      for (const body of ['{"task": 1}', '{"task_id": -1}', '[1]']) {
        const { res, receipt } = await refused(400, 'bad_request', body);
        expect(res.json.message).toContain('"task_id", a positive integer');
        expect(receipt.reason).toContain('"task_id", a positive integer');
      }
      const unsigned = `{"task_id": ${number}}`;
      await expectRefused(
        t,
        admin,
        () =>
          t.request({
            method: 'POST',
            url: '/hooks/task-sync',
            headers: { 'content-type': 'application/json' },
            payload: unsigned,
          }),
        {
          status: 401,
          code: 'signature_missing',
          sourceId: syncSourceId,
        },
      );
      // A signature header that is there but empty is a wrong signature, as with every scheme.
      await refused(401, 'signature_invalid', unsigned, { 'x-hub-signature-256': '' });
      await refused(401, 'signature_invalid', `{"task_id": ${number}}`, {
        'x-hub-signature-256': githubSignature('wrong', `{"task_id": ${number}}`),
      });
      const { res: unknown, receipt } = await refused(404, 'not_found', '{"task_id": 99999}');
      expect(unknown.json.message).toContain('Task 99999');
      expect(receipt.reason).toContain('Task 99999');
    });

    it('answers 403 outside the allow-list, 413 over the body cap, 415 for other content types, 404 for unknown sources', async () => {
      const lan = await create(t, admin, '/api/sources', {
        slug: 'sync-lan',
        scheme: 'github',
        secrets: [SECRET],
        ip_allow: ['192.168.1.0/24'],
        dispatch: 'by_id',
      });
      await expectRefused(
        t,
        admin,
        () =>
          t.request({
            method: 'POST',
            url: '/hooks/sync-lan',
            headers: { 'content-type': 'application/json' },
            payload: '{"task_id": 1}',
          }),
        {
          status: 403,
          code: 'ip_not_allowed',
          sourceId: lan.id,
        },
      );
      const tiny = await create(t, admin, '/api/sources', {
        slug: 'tiny',
        scheme: 'github',
        secrets: [SECRET],
        body_limit: 64,
      });
      const big = JSON.stringify({ task_id: 1, pad: 'x'.repeat(200) });
      await expectRefused(
        t,
        admin,
        () =>
          t.request({
            method: 'POST',
            url: '/hooks/tiny',
            headers: { 'content-type': 'application/json', 'x-hub-signature-256': githubSignature(SECRET, big) },
            payload: big,
          }),
        {
          status: 413,
          code: 'payload_too_large',
          sourceId: tiny.id,
        },
      );
      await expectRefused(
        t,
        admin,
        () =>
          t.request({
            method: 'POST',
            url: '/hooks/task-sync',
            headers: { 'content-type': 'text/plain' },
            payload: 'task 1',
          }),
        {
          status: 415,
          code: 'unsupported_media_type',
          sourceId: syncSourceId,
        },
      );
      await expectRefused(
        t,
        admin,
        () =>
          t.request({
            method: 'POST',
            url: '/hooks/no-such-source',
            headers: { 'content-type': 'application/json' },
            payload: '{}',
          }),
        {
          status: 404,
          code: 'not_found',
          slug: 'no-such-source',
        },
      );
    });

    it('answers 429 with Retry-After over the rate limit, and records the refusals against the source', async () => {
      const limited = await create(t, admin, '/api/sources', {
        slug: 'limited',
        scheme: 'github',
        secrets: [SECRET],
        rate_limit: 3,
      });
      const signed = (i: number) => () => {
        const body = `{"n": ${i}}`;
        return t.request<{ code: string }>({
          method: 'POST',
          url: '/hooks/limited',
          headers: { 'content-type': 'application/json', 'x-hub-signature-256': githubSignature(SECRET, body) },
          payload: body,
        });
      };
      for (let i = 0; i < 3; i++) expect((await signed(i)()).statusCode).toBe(202);
      for (let i = 3; i < 5; i++) {
        const { res, receipt } = await expectRefused(t, admin, signed(i), {
          status: 429,
          code: 'rate_limited',
          sourceId: limited.id,
        });
        expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
        expect(receipt.reason).toContain('limit of 3 requests a minute');
      }
      const stats = await t.request<{ by_verdict: Record<string, number> }>({
        url: `/api/sources/${limited.id}/stats`,
        token: admin,
      });
      expect(stats.json.by_verdict).toMatchObject({ unmatched: 3, rejected: 2 });
    });
  });
});
