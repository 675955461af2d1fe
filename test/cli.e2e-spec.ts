import { type ChildProcess, spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADMIN_PASSWORD, type TestApp, bootApp } from './helpers/app';
import { buildApps } from './helpers/build';
import { createTestDatabase } from './helpers/database';
import { VERIFICATION_SCHEMES } from '@hookhub/inbound';
import { PROGRAMS_DIR, create } from './helpers/inbound';
import { Receiver, eventually } from './helpers/receiver';

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * The `hookhub` command line (issue 15, item 5), built from the sources and run as a real child process
 * against a live hub: login, lists, config apply/export, send/sign/verify, task logs, tail, import, and the
 * offline commands on the hub's store. Each checks the output and the exit code scripts rely on.
 */
describe('the hookhub command line (e2e)', () => {
  let cli: string;
  let t: TestApp;
  let home: string;
  const running: ChildProcess[] = [];

  /** Runs the CLI with its own config dir (never the user's), the hub's URL, and `stdin` if given. */
  const hookhub = (args: string[], o: { stdin?: string; env?: Record<string, string> } = {}): Promise<Ran> =>
    new Promise((resolve) => {
      const child = spawn(process.execPath, [cli, ...args], {
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          HOOKHUB_CONFIG_DIR: home,
          HOOKHUB_URL: t.baseUrl,
          ...o.env,
        },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
      child.stdin.end(o.stdin ?? '');
    });
  const json = <T>(ran: Ran): T => {
    if (ran.code !== 0) throw new Error(`exit ${ran.code}: ${ran.stderr}`);
    return JSON.parse(ran.stdout) as T;
  };

  beforeAll(async () => {
    cli = buildApps('cli').cli;
    home = mkdtempSync(join(tmpdir(), 'hookhub-cli-'));
    t = await bootApp({
      HOOKHUB_PROGRAM_DIRS: PROGRAMS_DIR,
      HOOKHUB_QUEUE_POLL_MS: '200',
      HOOKHUB_OUTBOUND_ALLOW: '127.0.0.1/32',
    });
  }, 180_000);
  afterAll(async () => {
    for (const c of running) c.kill('SIGKILL');
    await t?.close();
    rmSync(home, { recursive: true, force: true });
  });

  describe('login', () => {
    it('refuses a wrong password with exit code 3 and saves nothing', async () => {
      const ran = await hookhub(['login', '--username', 'admin', '--password-stdin'], { stdin: 'wrong-password\n' });
      expect(ran.code).toBe(3);
      expect(ran.stderr).toContain('401 invalid_credentials');
      expect((await hookhub(['sources', 'list'])).code).toBe(3);
    });

    it('saves the token readable by the user only (0600), and later commands use it', async () => {
      const ran = await hookhub(['login', '--username', 'admin', '--password-stdin', '--json'], {
        stdin: `${ADMIN_PASSWORD}\n`,
      });
      const answer = json<{ username: string; saved: string }>(ran);
      expect(answer.username).toBe('admin');
      expect(statSync(answer.saved).mode & 0o777).toBe(0o600);
      expect(JSON.parse(readFileSync(answer.saved, 'utf8'))).toMatchObject({ url: t.baseUrl, username: 'admin' });
      expect((await hookhub(['sources', 'list'])).code).toBe(0);
    });

    it('says the hub is unreachable with exit code 6', async () => {
      const ran = await hookhub(['sources', 'list', '--url', 'http://127.0.0.1:9'], {
        env: { HOOKHUB_TOKEN: 'x' },
      });
      expect(ran.code).toBe(6);
      expect(ran.stderr).toContain('cannot reach the hub at http://127.0.0.1:9');
    });
  });

  describe('with a configuration applied', () => {
    const SECRET = 'cli-github-secret';
    const yaml = `
programs:
  - name: cli-deploy
    command: ${join(PROGRAMS_DIR, 'deploy.sh')}
    args: ["{{body.ref}}", cli]
  - name: cli-fail
    command: ${join(PROGRAMS_DIR, 'fail.sh')}
sources:
  - slug: cli-github
    scheme: github
    secrets: ["\${CLI_GITHUB_SECRET}"]
    rules:
      - name: push deploys
        condition: { path: event, eq: push }
        program: cli-deploy
      - name: anything else fails
        program: cli-fail
`;
    let file: string;

    beforeAll(async () => {
      await hookhub(['login', '--username', 'admin', '--password-stdin'], { stdin: ADMIN_PASSWORD });
      file = join(home, 'hub.yaml');
      writeFileSync(file, yaml);
    });

    it('config apply: refuses a file whose ${NAME} is not set, dry-runs, then applies', async () => {
      const unset = await hookhub(['config', 'apply', file]);
      expect(unset.code).toBe(2);
      expect(unset.stderr).toContain('CLI_GITHUB_SECRET');

      const env = { CLI_GITHUB_SECRET: SECRET };
      const dry = json<{ dry_run: boolean; sources: { created: string[] } }>(
        await hookhub(['config', 'apply', file, '--dry-run', '--json'], { env }),
      );
      expect(dry).toMatchObject({ dry_run: true, sources: { created: ['cli-github'] } });
      expect(json<{ total: number }>(await hookhub(['sources', 'list', '--json'])).total).toBe(0);

      const applied = await hookhub(['config', 'apply', file], { env });
      expect(applied.code).toBe(0);
      expect(applied.stdout).toContain('sources:  1 created (cli-github)');
      expect(applied.stdout).toContain('rules:    2 created');
    });

    it('config apply: a file with problems exits 5 and lists each with its line', async () => {
      const bad = join(home, 'bad.yaml');
      writeFileSync(bad, 'sources:\n  - slug: Not A Slug\n    scheme: github\n');
      const ran = await hookhub(['config', 'apply', bad]);
      expect(ran.code).toBe(5);
      expect(ran.stderr).toMatch(/yaml: config:2: sources\[0\]\.slug: /);
    });

    it('lists and gets in a table or JSON, filters by any option, and exits 4 for an unknown id', async () => {
      const table = await hookhub(['sources', 'list']);
      expect(table.stdout.split('\n')[0]).toMatch(/^ID\s+SLUG\s+SCHEME\s+ENABLED\s+URL_PATH/);
      expect(table.stdout).toContain('/hooks/cli-github');
      const page = json<{ items: Array<{ id: string; slug: string }> }>(await hookhub(['sources', 'list', '--json']));
      const got = json<{ slug: string; secret_count: number }>(
        await hookhub(['sources', 'get', page.items[0].id, '--json']),
      );
      expect(got).toMatchObject({ slug: 'cli-github', secret_count: 1 });
      const programs = json<{ items: Array<{ name: string }> }>(
        await hookhub(['programs', 'list', '--q', 'deploy', '--json']),
      );
      expect(programs.items.map((p) => p.name)).toEqual(['cli-deploy']);
      const missing = await hookhub(['sources', 'get', '00000000-0000-4000-8000-000000000000']);
      expect(missing.code).toBe(4);
      expect(missing.stderr).toContain('404 not_found');
    });

    it('config export writes what apply reads, secrets as references', async () => {
      const out = join(home, 'export.yaml');
      expect((await hookhub(['config', 'export', '-o', out])).code).toBe(0);
      const text = readFileSync(out, 'utf8');
      expect(text).toContain('slug: cli-github');
      expect(text).toContain('${HOOKHUB_SOURCE_CLI_GITHUB_SECRET_1}');
      expect(text).not.toContain(SECRET);
      // And it applies again as it is, with only its references set: nothing else is read from the shell.
      const again = await hookhub(['config', 'apply', out, '--dry-run', '--json'], {
        env: { HOOKHUB_SOURCE_CLI_GITHUB_SECRET_1: SECRET, HOOKHUB_PROGRAM_CLI_DEPLOY_X: 'unused' },
      });
      expect(json<{ sources: { updated: string[] } }>(again).sources.updated).toEqual(['cli-github']);
    });

    it('send signs and posts a trigger (exit 0 on 2xx, 3 on 401), and tasks logs -f follows its output to the end', async () => {
      const body = '{"ref": "refs/heads/main"}';
      const wrong = await hookhub(['send', 'cli-github', '--secret', 'not-it', '--body', body]);
      expect(wrong.code).toBe(3);
      expect(wrong.stdout).toContain('status 401');

      const sent = json<{ status: number; body: { task_ids: string[] } }>(
        await hookhub(['send', 'cli-github', '--scheme', 'github', '--secret', SECRET, '--body', body, '--json']),
      );
      expect(sent.status).toBe(202);
      const followed = await hookhub(['tasks', 'logs', sent.body.task_ids[0], '-f']);
      expect(followed.code).toBe(0);
      expect(followed.stdout).toContain('deploying ref=refs/heads/main commit=cli');
      expect(followed.stderr).toContain('[succeeded, exit code 0]');

      // Another event runs the failing program: following it ends with exit code 1.
      const other = json<{ body: { task_ids: string[] } }>(
        await hookhub(['send', 'cli-github', '--secret', SECRET, '--event', 'ping', '--body', '{}', '--json']),
      );
      const failed = await hookhub(['tasks', 'logs', other.body.task_ids[0], '-f']);
      expect(failed.code).toBe(1);
      expect(failed.stderr).toMatch(/\[failed, exit code \d+\]/);
      const listed = json<{ items: Array<{ id: string; status: string }> }>(
        await hookhub(['tasks', 'list', '--status', 'failed', '--json']),
      );
      expect(listed.items.map((r) => r.id)).toEqual([other.body.task_ids[0]]);
    });

    it('tail prints receipts and task runs as they happen, not what came before', async () => {
      const child = spawn(process.execPath, [cli, 'tail', '--interval', '200', '--count', '2'], {
        env: { PATH: process.env.PATH ?? '', HOOKHUB_CONFIG_DIR: home, HOOKHUB_URL: t.baseUrl },
      });
      running.push(child);
      let out = '';
      let err = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr.on('data', (c: Buffer) => (err += c.toString()));
      const exited = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? -1)));
      // Never wait past the test: a tail that misses its lines is killed and shows what it printed.
      const guard = setTimeout(() => child.kill('SIGKILL'), 20_000);
      // Its first poll has seen the history when the first line comes: wait a little more than one poll.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const body = '{"ref": "refs/heads/tail"}';
      await hookhub(['send', 'cli-github', '--secret', SECRET, '--body', body]);
      const code = await exited;
      clearTimeout(guard);
      expect({ code, out, err }).toMatchObject({ code: 0 });
      const lines = out.trim().split('\n');
      // The receipt and the run (in whatever state a poll found it), in the order of their times, which are
      // taken a few ms apart by different statements.
      expect(lines).toHaveLength(2);
      expect(lines.filter((l) => / receipt\s+POST \/hooks\/cli-github 202 accepted$/.test(l))).toHaveLength(1);
      expect(lines.filter((l) => / task\s+\S+ cli-deploy (queued|running|succeeded)/.test(l))).toHaveLength(1);
      expect(out).not.toContain('refs/heads/main');
    });
  });

  describe('sign, send and verify in every scheme', () => {
    const SECRETS: Record<string, string> = {
      github: 'sign-github-secret',
      gitlab: 'sign-gitlab-token',
      stripe: 'whsec_sign-stripe-secret',
      slack: 'sign-slack-signing-secret',
      shopify: 'sign-shopify-secret',
      'standard-webhooks': 'whsec_' + Buffer.from('sign-standard-webhooks-key-32byt').toString('base64'),
      hmac: 'sign-hmac-secret',
      token: 'sign-token-value',
      basic: 'ci:sign-basic-password',
    };

    beforeAll(async () => {
      const admin = await t.login();
      for (const [scheme, secret] of Object.entries(SECRETS))
        await create(t, admin, '/api/sources', { slug: `sign-${scheme}`, scheme, secrets: [secret] });
    });

    it('covers every inbound scheme but none (which signs nothing)', () => {
      expect(Object.keys(SECRETS).sort()).toEqual(VERIFICATION_SCHEMES.filter((s) => s !== 'none').sort());
    });

    it.each(Object.keys(SECRETS))(
      'a trigger signed by hookhub send for %s is accepted, and refused with another secret',
      async (scheme) => {
        const body = '{"type": "sign.check", "id": "evt_1"}';
        const ok = await hookhub([
          'send',
          `sign-${scheme}`,
          '--scheme',
          scheme,
          '--secret',
          SECRETS[scheme],
          '--body',
          body,
        ]);
        expect(ok.stdout).toContain('status 202');
        expect(ok.code).toBe(0);
        const other =
          scheme === 'basic'
            ? 'ci:another'
            : scheme === 'stripe' || scheme === 'standard-webhooks'
              ? 'whsec_' + Buffer.from('another-key-of-sixteen-bytes').toString('base64')
              : 'another-secret';
        const bad = await hookhub(['send', `sign-${scheme}`, '--scheme', scheme, '--secret', other, '--body', body]);
        expect(bad.stdout).toContain('status 401');
        expect(bad.code).toBe(3);
      },
    );

    it('sign prints the headers a sender sends: the known-answer github signature', async () => {
      const body = '{"task_id": 1}';
      const ran = await hookhub(['sign', '--scheme', 'github', '--secret', 'my-secret-key', '--body', body, '--json']);
      const expected = createHmac('sha256', 'my-secret-key').update(body).digest('hex');
      expect(json<Record<string, string>>(ran)['X-Hub-Signature-256']).toBe(`sha256=${expected}`);
      const unknown = await hookhub(['sign', '--scheme', 'carrier-pigeon', '--secret', 's', '--body', '{}']);
      expect(unknown.code).toBe(2);
    });

    it("verify checks a delivery Hookhub sent: exit 0 with the webhook's secret, 1 for a changed body or another secret", async () => {
      const receiver = await Receiver.start();
      try {
        const admin = await t.login();
        const webhook = await create<{ id: string; secret: string }>(t, admin, '/api/webhooks', {
          url: receiver.url,
          events: ['cli.verify'],
        });
        await hookhub(['events', 'publish', 'cli.verify', '--data', '{"n": 1}']);
        const [delivery] = await receiver.waitFor(1);
        const headersFile = join(home, 'headers.txt');
        writeFileSync(
          headersFile,
          Object.entries(delivery.headers)
            .map(([k, v]) => `${k}: ${String(v)}`)
            .join('\n'),
        );
        const bodyFile = join(home, 'body.json');
        writeFileSync(bodyFile, delivery.raw);
        const verify = (secret: string) =>
          hookhub(['verify', '--secret', secret, '--headers-file', headersFile, '--body-file', bodyFile]);
        const valid = await verify(webhook.secret);
        expect(valid.stdout).toBe('valid (standard-webhooks): a v1 signature matches\n');
        expect(valid.code).toBe(0);
        writeFileSync(bodyFile, Buffer.concat([delivery.raw, Buffer.from(' ')]));
        const changed = await verify(webhook.secret);
        expect(changed.code).toBe(1);
        expect(changed.stdout).toContain('invalid (standard-webhooks)');
        writeFileSync(bodyFile, delivery.raw);
        const otherSecret = 'whsec_' + Buffer.from('another-key-of-sixteen-bytes').toString('base64');
        expect((await verify(otherSecret)).code).toBe(1);
        await eventually(
          async () => {
            const res = await t.request<{ items: Array<{ status: string }> }>({
              url: `/api/webhooks/${webhook.id}/deliveries`,
              token: admin,
            });
            return res.json.items[0]?.status === 'succeeded' ? true : undefined;
          },
          10_000,
          'the delivery to succeed',
        );
      } finally {
        await receiver.close();
      }
    });
  });

  describe('webhooks recover', () => {
    it('queues the failed deliveries of a window again and, with --wait, follows them to delivered', async () => {
      let up = false;
      const receiver = await Receiver.start(() => (up ? { status: 200, body: 'ok' } : { status: 500, body: 'down' }));
      try {
        const admin = await t.login();
        const since = new Date(Date.now() - 1000).toISOString();
        const webhook = await create<{ id: string }>(t, admin, '/api/webhooks', {
          url: receiver.url,
          events: ['cli.recover'],
          retry_enabled: false,
        });
        for (let n = 0; n < 3; n++) await hookhub(['events', 'publish', 'cli.recover', '--data', `{"n": ${n}}`]);
        await eventually(
          async () => {
            const res = await t.request<{ total: number }>({
              url: `/api/webhooks/${webhook.id}/deliveries?status=failed`,
              token: admin,
            });
            return res.json.total === 3 ? true : undefined;
          },
          15_000,
          'three failed deliveries',
        );
        up = true;
        const ran = await hookhub(['webhooks', 'recover', webhook.id, '--from', since, '--wait']);
        expect(ran.stdout).toBe('requeued and delivered 3\n');
        expect(ran.code).toBe(0);
        expect(ran.stderr).toMatch(/recovering \[#{24}\] 3\/3/);
        expect(receiver.received.filter((r) => r.json.type === 'cli.recover')).toHaveLength(6);
        const none = await hookhub(['webhooks', 'recover', webhook.id, '--from', since, '--json']);
        expect(json<{ requeued: number }>(none)).toEqual({ requeued: 0 });
        expect((await hookhub(['webhooks', 'recover', webhook.id])).code).toBe(2);
      } finally {
        await receiver.close();
      }
    });
  });

  describe('import adnanh', () => {
    /** adnanh/webhook hooks as its docs show them, with this checkout's scripts. */
    const hooks = () => [
      {
        id: 'Redeploy_Web',
        'execute-command': join(PROGRAMS_DIR, 'deploy.sh'),
        'command-working-directory': PROGRAMS_DIR,
        'include-command-output-in-response': true,
        'pass-arguments-to-command': [
          { source: 'payload', name: 'ref' },
          { source: 'string', name: 'adnanh' },
        ],
        'trigger-rule': {
          and: [
            {
              match: {
                type: 'payload-hmac-sha256',
                secret: 'adnanh-push-secret',
                parameter: { source: 'header', name: 'X-Hub-Signature-256' },
              },
            },
            { match: { type: 'value', value: 'refs/heads/main', parameter: { source: 'payload', name: 'ref' } } },
          ],
        },
        'trigger-rule-mismatch-http-response-code': 400,
        'response-headers': [{ name: 'X-Served-By', value: 'webhook' }],
      },
    ];

    it('a dry run reports each hook and what cannot be mapped, and writes nothing', async () => {
      const file = join(home, 'hooks.json');
      writeFileSync(file, JSON.stringify(hooks()));
      const ran = await hookhub(['import', 'adnanh', file]);
      expect(ran.code).toBe(0);
      expect(ran.stdout).toContain(`1 hook(s) in ${file}: 1 program(s), 1 source(s)`);
      expect(ran.stdout).toMatch(/not mapped \(1\)[^]*Redeploy_Web: response-headers: /);
      expect(ran.stdout).toContain('dry run: nothing was written');
      // The file it prints holds the secret as a reference, never its value.
      expect(ran.stdout).toContain('${ADNANH_REDEPLOY_WEB_SECRET}');
      expect(ran.stdout).not.toContain('adnanh-push-secret');
      const strict = await hookhub(['import', 'adnanh', file, '--strict']);
      expect(strict.code).toBe(1);
      const sources = json<{ items: Array<{ slug: string }> }>(await hookhub(['sources', 'list', '--json']));
      expect(sources.items.map((s) => s.slug)).not.toContain('redeploy-web');
    });

    it('--apply creates the hook with its secret; a signed push runs it and answers its output as adnanh did', async () => {
      const file = join(home, 'hooks-apply.json');
      writeFileSync(file, JSON.stringify(hooks()));
      const ran = await hookhub(['import', 'adnanh', file, '--apply']);
      expect(ran.code).toBe(0);
      expect(ran.stdout).toContain('1 source(s) created');
      expect(ran.stderr).toMatch(/importing \[#+\] 1\/1 redeploy-web/);

      // Signed as GitHub signs (X-Hub-Signature-256: sha256=<hex>), which the imported hmac rule checks.
      const push = (ref: string) =>
        hookhub([
          'send',
          'redeploy-web',
          ...['--scheme', 'hmac', '--header', 'X-Hub-Signature-256', '--prefix', 'sha256='],
          ...['--secret', 'adnanh-push-secret', '--body', JSON.stringify({ ref })],
        ]);
      expect((await push('refs/heads/main')).stdout).toBe(
        'status 200\ndeploying ref=refs/heads/main commit=adnanh GIT_REF= HOME=unset\n',
      );
      const other = await push('refs/heads/dev');
      expect(other.stdout).toBe('status 400\nHook rules were not satisfied.\n');
    });
  });

  describe('offline commands on the store', () => {
    it('migrate says the store is up to date; admin reset-password lets a locked-out operator in again', async () => {
      // A hub of its own, stopped for the offline commands (the embedded store has one owner at a time).
      const db = await createTestDatabase();
      let hub: TestApp | undefined = await bootApp({}, { db });
      try {
        const admin = await hub.login();
        const operator = await hub.userWithRole('operator');
        // The operator is disabled and forgot the password.
        await hub.request({
          method: 'PATCH',
          url: `/api/users/${operator.id}`,
          token: admin,
          body: { disabled: true },
        });
        await hub.close();
        hub = undefined;
        const offline = { ...db.env, NODE_ENV: 'test', HOOKHUB_LOG_LEVEL: 'silent' };
        const migrated = await hookhub(['migrate', '--json'], { env: offline });
        expect(json<{ applied: string[] }>(migrated).applied).toEqual([]);

        const short = await hookhub(['admin', 'reset-password', operator.username, '--password-stdin'], {
          env: offline,
          stdin: 'short',
        });
        expect(short.code).toBe(5);
        const nobody = await hookhub(['admin', 'reset-password', 'nobody-here', '--password-stdin'], {
          env: offline,
          stdin: 'a-long-enough-password',
        });
        expect(nobody.code).toBe(4);
        const reset = await hookhub(
          ['admin', 'reset-password', operator.username, '--password-stdin', '--enable', '--json'],
          { env: offline, stdin: 'recovered-password-1\n' },
        );
        expect(json<{ username: string; disabled: boolean }>(reset)).toEqual({
          username: operator.username,
          role: 'operator',
          disabled: false,
        });

        hub = await bootApp({}, { db });
        expect(await hub.login(operator.username, 'recovered-password-1')).toEqual(expect.any(String));
        const audit = await hub.request<{ items: Array<{ action: string; actor_name: string; target_id: string }> }>({
          url: '/api/audit?action=user.password_reset_offline',
          token: await hub.login(),
        });
        expect(audit.json.items).toEqual([
          expect.objectContaining({
            action: 'user.password_reset_offline',
            actor_name: 'system',
            target_id: operator.id,
          }),
        ]);
        // The token from before the reset no longer works.
        const old = await hub.request({ url: '/api/auth/me', token: operator.token });
        expect(old.statusCode).toBe(401);
      } finally {
        await hub?.close();
        await db.drop();
      }
    }, 120_000);
  });
});
