import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestApp, bootApp } from './helpers/app';
import { PROGRAMS_DIR, create, program, waitForTask } from './helpers/inbound';
import { Receiver, eventually } from './helpers/receiver';

const EXAMPLES = join(process.cwd(), 'examples');
const SECRET = 'examples-secret';
const TMP = mkdtempSync(join(tmpdir(), 'hookhub-examples-'));

function run(command: string, args: string[], env: Record<string, string>): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, timeout: 30_000 },
      (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, output: `${stdout}\n${stderr}` });
      },
    );
  });
}

/**
 * The Go examples are compiled once per run (standard library only: no network, no go.sum). Without `go` on
 * PATH only the Go cases are skipped; CI installs it.
 */
const HAS_GO = spawnSync('go', ['version'], { stdio: 'ignore' }).status === 0;
const GO_SKIPPED = 'skipped, go is not on PATH (CI installs it)';
const GO_BIN = join(TMP, 'go-bin');
let goBuild: Promise<void> | undefined;

function writable(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

function buildGo(): Promise<void> {
  goBuild ??= (async () => {
    const home = process.env.HOME ?? homedir();
    const env: Record<string, string> = {
      HOME: home,
      GOFLAGS: '-mod=mod',
      GOPROXY: 'off',
      GOTOOLCHAIN: 'local',
      CGO_ENABLED: '0',
    };
    if (process.env.GOCACHE) env.GOCACHE = process.env.GOCACHE;
    else if (!writable(home)) Object.assign(env, { GOCACHE: join(TMP, 'go-cache'), GOPATH: join(TMP, 'go-path') });
    const built = await new Promise<{ code: number; output: string }>((resolve) =>
      execFile(
        'go',
        ['build', '-o', GO_BIN + '/', './send-trigger', './receiver'],
        { cwd: join(EXAMPLES, 'go'), env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, timeout: 240_000 },
        (err, stdout, stderr) =>
          resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, output: `${stdout}\n${stderr}` }),
      ),
    );
    if (built.code !== 0) throw new Error(`go build of examples/go failed: ${built.output}`);
  })();
  return goBuild;
}

if (HAS_GO) beforeAll(() => buildGo(), 240_000);
else console.warn(`examples: the Go client and receiver cases are ${GO_SKIPPED}`);
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

/** Standard Webhooks, as the tests forge and re-sign deliveries: `v1,` base64 HMAC-SHA256 of `id.timestamp.body`. */
function sign(secret: string, id: string, timestamp: number | string, body: Buffer): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  return 'v1,' + createHmac('sha256', key).update(`${id}.${timestamp}.`).update(body).digest('base64');
}

const now = () => Math.floor(Date.now() / 1000);

interface Webhook {
  id: string;
  secret: string;
}
interface Published {
  id: string;
  deliveries: number;
}
interface Delivery {
  id: string;
  event_id: string;
  status: string;
}
interface Attempt {
  delivery_id: string;
  status_code: number | null;
  success: boolean;
}

/** Waits until a receiver has printed `line` (its output is read as it comes, after its answers at times). */
async function printed(receiver: { stdout(): string[] }, line: string): Promise<void> {
  await eventually(async () => (receiver.stdout().includes(line) ? true : undefined), 5000, `the line "${line}"`);
}

/** The client examples in examples/, run as they are against a live hub: each one's signature must be accepted. */
describe('client examples', () => {
  let t: TestApp;
  let admin: string;

  beforeAll(async () => {
    t = await bootApp({ HOOKHUB_PROGRAM_DIRS: PROGRAMS_DIR, HOOKHUB_QUEUE_POLL_MS: '200' });
    admin = await t.login();
    const deploy = await create(t, admin, '/api/programs', {
      name: 'deploy',
      command: program('deploy.sh'),
      args: ['{{body.ref}}', 'example'],
    });
    const source = await create(t, admin, '/api/sources', { slug: 'github', scheme: 'github', secrets: [SECRET] });
    await create(t, admin, `/api/sources/${source.id}/rules`, {
      name: 'push',
      condition: { path: 'event', eq: 'push' },
      program_id: deploy.id,
    });
  });
  afterAll(() => t.close());

  type Client = [name: string, via: string, command: () => [string, string[]]];
  const clients: Client[] = [
    ['send-trigger.sh (curl + openssl)', 'sh', () => ['bash', [join(EXAMPLES, 'send-trigger.sh')]]],
    ['send-trigger.mjs (Node)', 'mjs', () => [process.execPath, [join(EXAMPLES, 'send-trigger.mjs')]]],
    ['send-trigger.ts (TypeScript)', 'ts', () => [process.execPath, [join(EXAMPLES, 'send-trigger.ts')]]],
    ['send_trigger.py (Python)', 'py', () => ['python3', [join(EXAMPLES, 'send_trigger.py')]]],
  ];
  const goClient: Client = ['go/send-trigger (Go)', 'go', () => [join(GO_BIN, 'send-trigger'), []]];

  it.each(HAS_GO ? [...clients, goClient] : clients)(
    '%s is accepted and runs the task; with a wrong secret it fails with 401',
    async (_name, via, command) => {
      const [cmd, args] = command();
      const env = {
        HOOKHUB_URL: t.baseUrl,
        HOOKHUB_SOURCE: 'github',
        HOOKHUB_BODY: `{"ref": "refs/heads/main", "via": "${via}"}`,
      };
      const ok = await run(cmd, args, { ...env, HOOKHUB_SECRET: SECRET });
      expect(ok.output).toContain('status 202');
      expect(ok.code).toBe(0);
      const taskId = /"task_ids":\["([0-9a-f-]{36})"\]/.exec(ok.output)?.[1];
      expect(taskId).toBeDefined();
      expect((await waitForTask(t, admin, taskId!)).stdout).toContain('deploying ref=refs/heads/main commit=example');
      const bad = await run(cmd, args, { ...env, HOOKHUB_SECRET: 'not-the-secret' });
      expect(bad.output).toContain('status 401');
      expect(bad.code).not.toBe(0);
    },
  );
  if (!HAS_GO) it.skip(`go/send-trigger (Go): ${GO_SKIPPED}`, () => undefined);
});

/** A receiver example, started as a real process: what it printed, and where it listens. */
interface Running {
  proc: ChildProcess;
  url: string;
  stdout: () => string[];
  stderr: () => string;
}

/** The receiver examples in examples/, receiving real deliveries from a live hub. */
describe('receiver examples', () => {
  let t: TestApp;
  let admin: string;
  const children: ChildProcess[] = [];
  const receivers: Receiver[] = [];

  beforeAll(async () => {
    t = await bootApp({ HOOKHUB_OUTBOUND_ALLOW: '127.0.0.1/32', HOOKHUB_QUEUE_POLL_MS: '100' });
    admin = await t.login();
  });
  afterAll(async () => {
    await Promise.all(
      children.map(
        (proc) =>
          new Promise<void>((resolve) => {
            if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
            proc.once('exit', () => resolve());
            proc.kill('SIGTERM');
          }),
      ),
    );
    await Promise.all(receivers.map((r) => r.close()));
    await t?.close();
  });

  /** Starts a receiver on a free port (PORT=0: it prints where it listens). */
  async function start(command: string, args: string[], secret: string): Promise<Running> {
    const proc = spawn(command, args, {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', PORT: '0', HOST: '127.0.0.1', HOOKHUB_WEBHOOK_SECRET: secret },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(proc);
    let out = '';
    let err = '';
    proc.stdout!.setEncoding('utf8').on('data', (s: string) => (out += s));
    proc.stderr!.setEncoding('utf8').on('data', (s: string) => (err += s));
    const url = await eventually(
      async () => {
        if (proc.exitCode !== null) throw new Error(`${command} ${args.join(' ')} exited ${proc.exitCode}: ${err}`);
        return /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1];
      },
      20_000,
      `${command} ${args.join(' ')} to listen`,
    );
    return { proc, url, stdout: () => out.split('\n').filter(Boolean), stderr: () => err };
  }

  const publish = async (type: string, data: Record<string, unknown>): Promise<Published> => {
    const res = await t.request<Published>({ method: 'POST', url: '/api/events', token: admin, body: { type, data } });
    if (res.statusCode !== 202) throw new Error(`publish: ${res.statusCode} ${res.body}`);
    expect(res.json.deliveries).toBe(1);
    return res.json;
  };

  /** Waits until the delivery of `eventId` to `webhookId` is over: its status and its attempts' status codes. */
  const delivered = async (webhookId: string, eventId: string): Promise<{ status: string; codes: unknown[] }> => {
    const delivery = await eventually(
      async () => {
        const res = await t.request<{ items: Delivery[] }>({
          url: `/api/webhooks/${webhookId}/deliveries`,
          token: admin,
        });
        const found = res.json.items.find((d) => d.event_id === eventId);
        if (found && found.status !== 'queued' && found.status !== 'running') return found;
        return undefined;
      },
      20_000,
      `the delivery of event ${eventId}`,
    );
    const logs = await t.request<{ items: Attempt[] }>({ url: `/api/webhooks/${webhookId}/logs`, token: admin });
    const codes = logs.json.items.filter((a) => a.delivery_id === delivery.id).map((a) => a.status_code);
    return { status: delivery.status, codes };
  };

  const rotate = async (webhookId: string): Promise<string> => {
    const res = await t.request<{ secret: string }>({
      method: 'POST',
      url: `/api/webhooks/${webhookId}/secret/rotate`,
      token: admin,
      body: {},
    });
    if (res.statusCode !== 200) throw new Error(`rotate: ${res.statusCode} ${res.body}`);
    return res.json.secret;
  };

  type ReceiverCase = [name: string, key: string, command: () => [string, string[]]];
  const languages: ReceiverCase[] = [
    ['receiver.mjs (Node)', 'node', () => [process.execPath, [join(EXAMPLES, 'receiver.mjs')]]],
    ['receiver.ts (TypeScript)', 'ts', () => [process.execPath, [join(EXAMPLES, 'receiver.ts')]]],
    ['receiver.py (Python)', 'python', () => ['python3', [join(EXAMPLES, 'receiver.py')]]],
  ];
  const goReceiver: ReceiverCase = ['go/receiver (Go)', 'go', () => [join(GO_BIN, 'receiver'), []]];

  it.each(HAS_GO ? [...languages, goReceiver] : languages)(
    "%s verifies Hookhub's deliveries, also during a secret rotation, and refuses forged, stale and unsigned requests with 401",
    async (_name, key, command) => {
      // The webhook first (Hookhub generates its secret), then the receiver with that secret, then its URL.
      const hook = await create<Webhook>(t, admin, '/api/webhooks', {
        url: 'http://127.0.0.1:9/not-yet',
        events: [`example.${key}.*`],
        retry_schedule: [0.5, 0.5],
      });
      expect(hook.secret).toMatch(/^whsec_/);
      const [cmd, args] = command();
      const receiver = await start(cmd, args, hook.secret);
      const patched = await t.request({
        method: 'PATCH',
        url: `/api/webhooks/${hook.id}`,
        token: admin,
        body: { url: `${receiver.url}/hookhub` },
      });
      expect(patched.statusCode).toBe(200);

      const created = await publish(`example.${key}.created`, { n: 1, note: 'caf\u00e9 \u2713' });
      // Nothing on stderr: no refusal, no warning.
      expect({ ...(await delivered(hook.id, created.id)), stderr: receiver.stderr() }).toEqual({
        status: 'succeeded',
        codes: [204],
        stderr: '',
      });
      await printed(receiver, `verified ${created.id} example.${key}.created`);

      // During a rotation Hookhub signs with the new secret and the previous one: the receiver, still on the
      // previous one, must find its signature among them.
      await rotate(hook.id);
      const rotated = await publish(`example.${key}.rotated`, { n: 2 });
      expect({ ...(await delivered(hook.id, rotated.id)), stderr: receiver.stderr() }).toEqual({
        status: 'succeeded',
        codes: [204],
        stderr: '',
      });
      await printed(receiver, `verified ${rotated.id} example.${key}.rotated`);

      // Requests the receiver must refuse, and one it must accept (so the refusals are for the reason given).
      const id = `msg_forged_${key}`;
      const body = Buffer.from(JSON.stringify({ id, type: `example.${key}.forged`, timestamp: '', data: { n: 3 } }));
      const post = async (headers: Record<string, string>, payload: Buffer = body) =>
        (
          await fetch(`${receiver.url}/hookhub`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', ...headers },
            body: payload,
          })
        ).status;
      const wrongSecret = 'whsec_' + randomBytes(32).toString('base64');
      const signed = (ts: number, secret = hook.secret, payload = body) => ({
        'webhook-id': id,
        'webhook-timestamp': String(ts),
        'webhook-signature': sign(secret, id, ts, payload),
      });
      const statuses = {
        wrongSecret: await post(signed(now(), wrongSecret)),
        tamperedBody: await post(signed(now()), Buffer.from(body.toString().replace('"n":3', '"n":4'))),
        otherId: await post({ ...signed(now()), 'webhook-id': `${id}_2` }),
        stale: await post(signed(now() - 600)),
        future: await post(signed(now() + 600)),
        unsigned: await post({ 'webhook-id': id, 'webhook-timestamp': String(now()) }),
        garbage: await post({ ...signed(now()), 'webhook-signature': 'v1,not-a-signature' }),
        genuine: await (async (ts = now()) =>
          post({
            ...signed(ts),
            'webhook-signature': `${sign(wrongSecret, id, ts, body)} ${sign(hook.secret, id, ts, body)}`,
          }))(),
      };
      expect(statuses).toEqual({
        wrongSecret: 401,
        tamperedBody: 401,
        otherId: 401,
        stale: 401,
        future: 401,
        unsigned: 401,
        garbage: 401,
        genuine: 204,
      });
      // The receiver prints before it answers, but its output may reach this process after the answer.
      await printed(receiver, `verified ${id} example.${key}.forged`);
      await eventually(
        async () => (receiver.stderr().trim().split('\n').length >= 7 ? true : undefined),
        5000,
        'seven refusals printed',
      );
      const refusals = receiver.stderr().trim().split('\n');
      expect([refusals.length, refusals.every((line) => line.startsWith('refused: '))]).toEqual([7, true]);
      expect(receiver.stdout().filter((line) => line.startsWith('verified '))).toEqual([
        `verified ${created.id} example.${key}.created`,
        `verified ${rotated.id} example.${key}.rotated`,
        `verified ${id} example.${key}.forged`,
      ]);
    },
  );
  if (!HAS_GO) it.skip(`go/receiver (Go): ${GO_SKIPPED}`, () => undefined);

  it('verify-delivery.sh (bash + openssl) verifies a captured delivery, also during a rotation, and refuses a tampered, re-addressed, stale or wrongly keyed one', async () => {
    const capture = await Receiver.start();
    receivers.push(capture);
    const hook = await create<Webhook>(t, admin, '/api/webhooks', { url: capture.url, events: ['example.shell.*'] });
    const created = await publish('example.shell.created', { n: 1, note: 'caf\u00e9 \u2713' });
    expect((await delivered(hook.id, created.id)).status).toBe('succeeded');
    const newSecret = await rotate(hook.id);
    const rotated = await publish('example.shell.rotated', { n: 2 });
    expect((await delivered(hook.id, rotated.id)).status).toBe('succeeded');
    const [first, second] = await capture.waitFor(2);

    const header = (r: typeof first, name: string) => String(r.headers[name]);
    const verify = (bodyFile: string, r: typeof first, secret: string, override: Record<string, string> = {}) => {
      const h = {
        id: header(r, 'webhook-id'),
        ts: header(r, 'webhook-timestamp'),
        sig: header(r, 'webhook-signature'),
        ...override,
      };
      return run('bash', [join(EXAMPLES, 'verify-delivery.sh'), bodyFile, h.id, h.ts, h.sig], {
        HOOKHUB_WEBHOOK_SECRET: secret,
      });
    };
    const file = (name: string, bytes: Buffer) => {
      const path = join(TMP, name);
      writeFileSync(path, bytes);
      return path;
    };
    const firstBody = file('first.json', first.raw);
    const secondBody = file('second.json', second.raw);

    const ok = await verify(firstBody, first, hook.secret);
    expect([ok.code, ok.output.trim()]).toEqual([0, `verified ${created.id} example.shell.created`]);
    // The rotated delivery carries two signatures: either secret verifies it.
    expect(header(second, 'webhook-signature').split(' ')).toHaveLength(2);
    for (const secret of [hook.secret, newSecret]) {
      const during = await verify(secondBody, second, secret);
      expect([during.code, during.output.trim()]).toEqual([0, `verified ${rotated.id} example.shell.rotated`]);
    }

    const tampered = await verify(
      file('tampered.json', Buffer.from(first.raw.toString().replace('"n":1', '"n":9'))),
      first,
      hook.secret,
    );
    expect([tampered.code, tampered.output.trim()]).toEqual([1, 'refused: no signature matches']);
    const wrongKey = await verify(firstBody, first, 'whsec_' + randomBytes(32).toString('base64'));
    expect([wrongKey.code, wrongKey.output.trim()]).toEqual([1, 'refused: no signature matches']);
    const otherId = await verify(firstBody, first, hook.secret, { id: rotated.id });
    expect([otherId.code, otherId.output.trim()]).toEqual([1, 'refused: no signature matches']);
    const old = now() - 600;
    const stale = await verify(firstBody, first, hook.secret, {
      ts: String(old),
      sig: sign(hook.secret, created.id, old, first.raw),
    });
    expect([stale.code, stale.output.trim()]).toEqual([1, 'refused: webhook-timestamp too old or too new']);
    // The same re-signed with a fresh timestamp passes, so the refusal above is the timestamp's.
    const ts = now();
    const fresh = await verify(firstBody, first, hook.secret, {
      ts: String(ts),
      sig: sign(hook.secret, created.id, ts, first.raw),
    });
    expect([fresh.code, fresh.output.trim()]).toEqual([0, `verified ${created.id} example.shell.created`]);
  });
});
