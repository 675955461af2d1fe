import { execFile } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { type TestApp, bootApp } from './helpers/app';
import { create, githubSignature, waitForTask } from './helpers/inbound';

const ADOPTION = join(process.cwd(), 'examples', 'adoption');
const SECRETS = {
  BACKUP_CALLBACK_SECRET: 'backup-callback-secret-value',
  GIT_SYNC_SECRET: 'my-secret-key',
  GITHUB_WEBHOOK_SECRET: 'github-webhook-secret',
  CUSTOM_WEBHOOK_TOKEN: 'custom-system-token',
};

function run(command: string, args: string[], cwd?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** The curl output's body and, on its last line (`-w '\n%{http_code}'`), the status. */
function statusAndBody(stdout: string): { status: number; body: unknown } {
  const lines = stdout.trim().split('\n');
  const status = Number(lines.pop());
  return { status, body: JSON.parse(lines.join('\n')) };
}

/**
 * Issue 15, "old clients unchanged": a hub configured from the one YAML file the README shows
 * (examples/adoption/hookhub.yaml), and each reference system's documented client run as the document
 * writes it, against the path it has always used; only the host and port are the hub's. Each answer is
 * compared whole with what the old receiver answered.
 */
describe('old clients unchanged (examples/adoption/hookhub.yaml)', () => {
  let t: TestApp;
  let admin: string;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hookhub-adoption-'));
    // The file as the README shows it, with its scripts where this checkout has them.
    const file = join(dir, 'hookhub.yaml');
    writeFileSync(
      file,
      readFileSync(join(ADOPTION, 'hookhub.yaml'), 'utf8').replaceAll(
        '/opt/hookhub/programs',
        join(ADOPTION, 'programs'),
      ),
    );
    Object.assign(process.env, SECRETS);
    t = await bootApp({
      HOOKHUB_CONFIG: file,
      HOOKHUB_PROGRAM_DIRS: join(ADOPTION, 'programs'),
      HOOKHUB_QUEUE_POLL_MS: '200',
    });
    admin = await t.login();
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    for (const name of Object.keys(SECRETS)) delete process.env[name];
    rmSync(dir, { recursive: true, force: true });
  });

  describe('the docker backup callback server (POST /backup)', () => {
    /** The document's one-line cURL client, run from go/callback with backup.conf two levels up. */
    const curlClient = (body: string, secretLine = `callback_secret="${SECRETS.BACKUP_CALLBACK_SECRET}"`) => {
      const root = mkdtempSync(join(dir, 'backup-'));
      const cwd = join(root, 'go', 'callback');
      mkdirSync(cwd, { recursive: true });
      writeFileSync(join(root, 'backup.conf'), `${secretLine}\nDEFAULT_BACKUP_DIR="/backups"\n`);
      const script = `
SECRET=$(grep 'callback_secret' ../../backup.conf | cut -d '"' -f 2)
BODY='${body}'
SIGNATURE=$(echo -n "$BODY" | openssl dgst -sha256 -hmac "$SECRET" -binary | base64)

curl -s -w '\\n%{http_code}' -X POST \\
  -H "Content-Type: application/json" \\
  -H "X-Signature: $SIGNATURE" \\
  -d "$BODY" \\
  ${t.baseUrl}/backup`;
      return run('bash', ['-c', script], cwd);
    };

    it('answers the cURL client 200 {"message", "output"} once the backup has run', async () => {
      const { stdout } = await curlClient('{"args": ["-a", "--volumes"]}');
      const { status, body } = statusAndBody(stdout);
      expect(status).toBe(200);
      expect(body).toEqual({
        message: 'Backup initiated successfully',
        output: 'backup started with: -a --volumes\nbackup done\n',
      });
    });

    it('answers 500 with the output when the backup script fails', async () => {
      const { stdout } = await curlClient('{"args": ["-a", "--fail"]}');
      const { status, body } = statusAndBody(stdout);
      expect(status).toBe(500);
      expect(body).toEqual({ error: 'Backup failed (exit code 3)', output: 'backup started with: -a --fail\n' });
    });

    it('answers {"error": "Invalid signature"}, "Method not allowed" and "Invalid JSON in request body" as it did', async () => {
      const wrong = statusAndBody((await curlClient('{"args": ["-a"]}', 'callback_secret="not-the-secret"')).stdout);
      expect(wrong).toEqual({ status: 401, body: { error: 'Invalid signature' } });

      const get = await fetch(`${t.baseUrl}/backup`);
      expect(get.status).toBe(405);
      expect(await get.json()).toEqual({ error: 'Method not allowed' });

      const bad = '{"args": [';
      const res = await t.request({
        method: 'POST',
        url: '/backup',
        headers: {
          'content-type': 'application/json',
          'x-signature': createHmac('sha256', SECRETS.BACKUP_CALLBACK_SECRET).update(bad).digest('base64'),
        },
        payload: bad,
      });
      expect(res.statusCode).toBe(400);
      expect(res.json).toEqual({ error: 'Invalid JSON in request body' });

      // Each refusal still has its receipt with Hookhub's own code, under the source (not the alias).
      const receipts = await t.request<{ items: Array<{ status_code: number; reason: string | null }> }>({
        url: '/api/receipts?verdict=rejected&limit=50',
        token: admin,
      });
      const reasons = receipts.json.items.map((r) => `${r.status_code} ${r.reason?.split(':')[0]}`);
      expect(reasons).toEqual(
        expect.arrayContaining(['401 signature_invalid', '405 method_not_allowed', '400 bad_request']),
      );
    });
  });

  describe('the git manage service (POST /api/webhooks/task-sync)', () => {
    /** The document's Python client, word for word but for its URL's host and port. */
    const pythonClient = (secret: string, data: string) => `
import hmac
import hashlib
import json
import requests
SECRET = b'${secret}'
URL = '${t.baseUrl}/api/webhooks/task-sync'
DATA = ${data}
body = json.dumps(DATA).encode('utf-8')
signature = 'sha256=' + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
headers = {
'Content-Type': 'application/json',
'X-Hub-Signature-256': signature
}
response = requests.post(URL, data=body, headers=headers)
print(response.status_code, response.text)
`;
    const runPython = async (secret: string, data: string) => {
      const { stdout, stderr, code } = await run('python3', ['-c', pythonClient(secret, data)]);
      if (code !== 0) throw new Error(`the Python client failed: ${stderr}`);
      const space = stdout.indexOf(' ');
      return { status: Number(stdout.slice(0, space)), body: JSON.parse(stdout.slice(space + 1)) as unknown };
    };

    it('answers 200 {"message": "Sync triggered successfully", "task_id": 1} and runs sync task 1', async () => {
      const { status, body } = await runPython(SECRETS.GIT_SYNC_SECRET, "{'task_id': 1}");
      expect(status).toBe(200);
      expect(body).toEqual({ message: 'Sync triggered successfully', task_id: 1 });
      const runs = await t.request<{ items: Array<{ id: string; program_name: string }> }>({
        url: '/api/tasks?limit=50',
        token: admin,
      });
      const sync = runs.json.items.find((r) => r.program_name === 'git-sync');
      expect(sync).toBeDefined();
      expect((await waitForTask(t, admin, sync!.id)).stdout).toBe('synced task 1\n');
    });

    it('answers 401 for a wrong secret, 404 for an unknown task and 400 without task_id, as its table says', async () => {
      expect((await runPython('wrong-secret', "{'task_id': 1}")).status).toBe(401);
      expect((await runPython(SECRETS.GIT_SYNC_SECRET, "{'task_id': 99}")).status).toBe(404);
      expect((await runPython(SECRETS.GIT_SYNC_SECRET, "{'task': 1}")).status).toBe(400);
    });

    it('leaves the admin API its own routes at the same path: GET /api/webhooks/task-sync is not the receiver', async () => {
      const res = await t.request<{ code: string }>({ url: '/api/webhooks/task-sync' });
      expect(res.statusCode).toBe(401);
      expect(res.json.code).toBe('unauthenticated');
    });
  });

  describe('the FastAPI task runner (POST /api/webhooks/{source})', () => {
    it('runs deploy for a GitHub push to main sent as GitHub sends it, and answers with the task id', async () => {
      const body = JSON.stringify({ ref: 'refs/heads/main', after: 'abc123' });
      const res = await t.request<{ task_ids: string[]; matched: boolean }>({
        method: 'POST',
        url: '/api/webhooks/github',
        headers: {
          'content-type': 'application/json',
          'x-github-event': 'push',
          'x-github-delivery': 'f2b8a1c0-0000-4000-8000-000000000001',
          'x-hub-signature-256': githubSignature(SECRETS.GITHUB_WEBHOOK_SECRET, body),
        },
        payload: body,
      });
      expect(res.statusCode).toBe(202);
      expect(res.json.matched).toBe(true);
      const task = await waitForTask(t, admin, res.json.task_ids[0]);
      expect(task.stdout).toBe('deploying branch=main commit=abc123\n');
    });

    it("runs analyze for the custom system's data_update with its token, and refuses a wrong token", async () => {
      const body = JSON.stringify({ event: 'data_update', data: 'sales-2026' });
      const send = (token: string) =>
        t.request<{ task_ids: string[] }>({
          method: 'POST',
          url: '/api/webhooks/custom',
          headers: { 'content-type': 'application/json', 'x-webhook-token': token },
          payload: body,
        });
      const ok = await send(SECRETS.CUSTOM_WEBHOOK_TOKEN);
      expect(ok.statusCode).toBe(202);
      expect((await waitForTask(t, admin, ok.json.task_ids[0])).stdout).toBe('analyzing sales-2026\n');
      expect((await send('not-the-token')).statusCode).toBe(401);
    });
  });

  describe('aliases and answers, as saved', () => {
    it('refuses an alias that Hookhub answers, one under its own pages, and one another source has', async () => {
      const attempt = (aliases: string[]) =>
        t.request<{ code: string; details?: Array<{ field: string; errors: string[] }> }>({
          method: 'POST',
          url: '/api/sources',
          token: admin,
          body: { slug: `alias-${aliases.length}-${Date.now()}`, scheme: 'github', secrets: ['s'], aliases },
        });
      const route = await attempt(['/api/webhooks']);
      expect(route.statusCode).toBe(400);
      expect(route.json.details).toEqual([
        { field: 'aliases.0', errors: ["/api/webhooks is answered by Hookhub's route POST /api/webhooks"] },
      ]);
      const page = await attempt(['/x', '/hooks/backup']);
      expect(page.statusCode).toBe(400);
      expect(page.json.details?.[0].field).toBe('aliases.1');
      const odd = await attempt(['/a/../b']);
      expect(odd.statusCode).toBe(400);
      const taken = await attempt(['/backup']);
      expect(taken.statusCode).toBe(409);
      expect(JSON.stringify(taken.json)).toContain('/backup (docker-backup)');
    });

    it('a file applied through the API may move an alias between the sources it lists, but not give one twice', async () => {
      const apply = (yaml: string, dry = false) =>
        t.request<{ code: string; details: Array<{ errors: string[] }>; sources: { created: string[] } }>({
          method: 'POST',
          url: '/api/config/apply',
          token: admin,
          body: { yaml, env: { S: 'a-source-secret' }, dry_run: dry },
        });
      const two = (first: string[], second: string[]) =>
        `sources:\n  - slug: mover-a\n    scheme: github\n    secrets: ["\${S}"]\n    aliases: ${JSON.stringify(first)}\n` +
        `  - slug: mover-b\n    scheme: github\n    secrets: ["\${S}"]\n    aliases: ${JSON.stringify(second)}\n`;
      const twice = await apply(two(['/legacy/moved'], ['/legacy/moved']), true);
      expect(twice.statusCode).toBe(400);
      expect(twice.json.details[0].errors[0]).toBe(
        'config:9: sources[1].aliases[0]: /legacy/moved is also an alias of mover-a here',
      );
      // Held by a source the file does not list: found by the dry run, before anything is written.
      const held = await apply(two([], ['/backup']), true);
      expect(held.statusCode).toBe(400);
      expect(held.json.details[0].errors[0]).toContain('/backup is already an alias of source docker-backup');

      // Admins only: an operator may not apply a file (nor learn what it would change).
      const operator = await t.userWithRole('operator');
      const refused = await t.request<{ code: string }>({
        method: 'POST',
        url: '/api/config/apply',
        token: operator.token,
        body: { yaml: two([], []), dry_run: true },
      });
      expect([refused.statusCode, refused.json.code]).toEqual([403, 'forbidden']);

      expect((await apply(two(['/legacy/moved'], []))).statusCode).toBe(200);
      // B listed after A, taking A's alias in the same file: A gives it up first.
      expect((await apply(two([], ['/legacy/moved']))).statusCode).toBe(200);
      const sources = await t.request<{ items: Array<{ slug: string; aliases: string[] }> }>({
        url: '/api/sources?q=mover',
        token: admin,
      });
      expect(Object.fromEntries(sources.json.items.map((s) => [s.slug, s.aliases]))).toEqual({
        'mover-a': [],
        'mover-b': ['/legacy/moved'],
      });
    });

    it('answers a duplicate with the template of what the original was, and simple errors with their overrides', async () => {
      await create(t, admin, '/api/sources', {
        slug: 'shaped-dups',
        scheme: 'github',
        secrets: ['dups-secret'],
        dedup: 'body',
        answer: {
          status: 201,
          body: { ran: '{{task_ids}}' },
          unmatched_status: 200,
          unmatched_body: 'nothing to do (again: {{duplicate}})',
          errors: 'simple',
          error_messages: { signature_invalid: 'Bad signature, go away' },
        },
      });
      const send = (body: string, secret = 'dups-secret') =>
        t.request({
          method: 'POST',
          url: '/hooks/shaped-dups',
          headers: { 'content-type': 'application/json', 'x-hub-signature-256': githubSignature(secret, body) },
          payload: body,
        });
      // No rule: unmatched, then the same body again is a duplicate of an unmatched trigger.
      expect([(await send('{"n": 1}')).body, (await send('{"n": 1}')).body]).toEqual([
        'nothing to do (again: false)',
        'nothing to do (again: true)',
      ]);
      const refused = await send('{"n": 2}', 'another-secret');
      expect(refused.statusCode).toBe(401);
      expect(refused.json).toEqual({ error: 'Bad signature, go away' });
      const notText = await t.request<{ details: Array<{ field: string }> }>({
        method: 'POST',
        url: '/api/sources',
        token: admin,
        body: { slug: 'bad-messages', scheme: 'github', secrets: ['s'], answer: { error_messages: { not_found: 5 } } },
      });
      expect(notText.statusCode).toBe(400);
      expect(notText.json.details[0].field).toBe('answer.error_messages.not_found');
    });

    it('shows each alias in the served OpenAPI document as its own receiver operation', async () => {
      const doc = await t.request<{
        paths: Record<string, Record<string, { summary: string; parameters: Array<{ name: string }> }>>;
      }>({
        url: '/docs-json',
      });
      const backup = doc.json.paths['/backup'].post;
      expect(backup.summary).toBe('Send a trigger to source docker-backup (an alias of /hooks/docker-backup)');
      expect(backup.parameters.map((p) => p.name)).not.toContain('slug');
      expect(doc.json.paths['/api/webhooks/task-sync'].post.summary).toContain('task-sync');
      // Hookhub's own operations stay as they were.
      expect(Object.keys(doc.json.paths['/api/webhooks/{id}'])).not.toContain('post');
      expect(doc.json.paths['/hooks/{slug}'].post.parameters.map((p) => p.name)).toContain('slug');
    });

    it('refuses a template that reads something answers do not have, naming the field', async () => {
      const res = await t.request<{ details: Array<{ field: string; errors: string[] }> }>({
        method: 'POST',
        url: '/api/sources',
        token: admin,
        body: {
          slug: 'bad-template',
          scheme: 'github',
          secrets: ['s'],
          answer: { status: 200, body: { leak: '{{headers.authorization}}' } },
        },
      });
      expect(res.statusCode).toBe(400);
      expect(res.json.details[0].field).toBe('answer.body.leak');
      expect(res.json.details[0].errors[0]).toContain('"headers" is not one of');
    });

    it('an alias moves with its source: renamed, it is free; the export keeps aliases and answers', async () => {
      const source = await create<{ id: string }>(t, admin, '/api/sources', {
        slug: 'moving',
        scheme: 'github',
        secrets: ['moving-secret'],
        aliases: ['/legacy/moving'],
        answer: { unmatched_status: 200, unmatched_body: 'Hook rules were not satisfied.' },
      });
      const body = '{}';
      const hit = () =>
        t.request({
          method: 'POST',
          url: '/legacy/moving?from=old',
          headers: {
            'content-type': 'application/json',
            'x-hub-signature-256': githubSignature('moving-secret', body),
          },
          payload: body,
        });
      const first = await hit();
      expect(first.statusCode).toBe(200);
      expect(first.body).toBe('Hook rules were not satisfied.');
      expect(first.headers['content-type']).toContain('text/plain');
      expect(first.headers['x-content-type-options']).toBe('nosniff');

      const exported = await t.request<string>({ url: '/api/config/export', token: admin });
      const doc = parse(exported.body) as { sources: Array<{ slug: string; aliases: string[]; answer: unknown }> };
      expect(doc.sources.find((s) => s.slug === 'docker-backup')?.aliases).toEqual(['/backup']);
      expect(doc.sources.find((s) => s.slug === 'task-sync')?.answer).toEqual({
        status: 200,
        body: { message: 'Sync triggered successfully', task_id: '{{program.number}}' },
      });

      await t.request({ method: 'PATCH', url: `/api/sources/${source.id}`, token: admin, body: { aliases: [] } });
      const gone = await hit();
      expect(gone.statusCode).toBe(404);
    });
  });
});
