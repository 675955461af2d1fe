import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Client } from 'pg';
import { ADMIN_PASSWORD, bootApp } from './helpers/app';
import { buildApps } from './helpers/build';
import { type TestDatabase, createTestDatabase, tempDir, usingRealPostgres } from './helpers/database';
import { PROGRAMS_DIR, program } from './helpers/inbound';

interface Hub {
  child: ChildProcess;
  baseUrl: string;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  request<T = Record<string, unknown>>(
    method: string,
    path: string,
    options?: { token?: string; body?: unknown; headers?: Record<string, string> },
  ): Promise<{ status: number; json: T }>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * The built hub (`dist`-like build of apps/api) run as `npm start` runs it, in its own process: what
 * signals, log lines and the embedded store's lock are about needs a real process.
 */
describe('the built hub as a process (e2e)', () => {
  let apiMain: string;
  const children: ChildProcess[] = [];

  beforeAll(() => {
    apiMain = buildApps('process').api;
  }, 180_000);
  afterAll(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });

  const start = async (env: Record<string, string>, options: { waitReady?: boolean } = {}): Promise<Hub> => {
    const port = await freePort();
    const child = spawn(process.execPath, [apiMain], {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOST: '127.0.0.1',
        PORT: String(port),
        HOOKHUB_ADMIN_PASSWORD: ADMIN_PASSWORD,
        HOOKHUB_PROGRAM_DIRS: PROGRAMS_DIR,
        HOOKHUB_QUEUE_POLL_MS: '200',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let output = '';
    child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    const baseUrl = `http://127.0.0.1:${port}`;
    const hub: Hub = {
      child,
      baseUrl,
      output: () => output,
      request: async <T>(
        method: string,
        path: string,
        o: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
      ) => {
        const headers: Record<string, string> = { ...(o.headers ?? {}) };
        if (o.token) headers.authorization = `Bearer ${o.token}`;
        if (o.body !== undefined) headers['content-type'] ??= 'application/json';
        const res = await fetch(baseUrl + path, {
          method,
          headers,
          body: o.body === undefined ? undefined : typeof o.body === 'string' ? o.body : JSON.stringify(o.body),
        });
        const text = await res.text();
        return { status: res.status, json: (text ? JSON.parse(text) : {}) as T };
      },
    };
    if (options.waitReady === false) return hub;
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`the hub exited with ${child.exitCode}:\n${output}`);
      try {
        if ((await fetch(`${baseUrl}/health/ready`)).status === 200) return hub;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`the hub did not get ready:\n${output}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };

  const login = async (hub: Hub, password = ADMIN_PASSWORD): Promise<string> => {
    const res = await hub.request<{ access_token: string }>('POST', '/api/auth/login', {
      body: { username: 'admin', password },
    });
    if (res.status !== 200) throw new Error(`login: ${res.status}`);
    return res.json.access_token;
  };

  const stop = async (hub: Hub, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> => {
    const exited = once(hub.child, 'exit');
    hub.child.kill(signal);
    const [code] = (await exited) as [number | null];
    return code;
  };

  it('on SIGTERM lets a running task finish, logs when shutdown starts and ends, and exits 0', async () => {
    const db: TestDatabase = await createTestDatabase();
    try {
      const hub = await start({ ...db.env, HOOKHUB_LOG_LEVEL: 'info' });
      const token = await login(hub);
      const p = await hub.request<{ id: string }>('POST', '/api/programs', {
        token,
        body: { name: 'drain', command: program('sleep.sh'), args: ['2'] },
      });
      const run = await hub.request<{ id: string }>('POST', `/api/programs/${p.json.id}/run`, { token, body: {} });
      for (;;) {
        const task = await hub.request<{ stdout: string }>('GET', `/api/tasks/${run.json.id}`, { token });
        if (task.json.stdout.includes('sleeping')) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(await stop(hub)).toBe(0);
      const lines = hub.output().split('\n');
      const started = lines.findIndex((l) => l.includes('SIGTERM: Hookhub API shutting down'));
      const finished = lines.findIndex((l) => l.includes('task finished'));
      const ended = lines.findIndex((l) => /Hookhub API shut down in \d+ ms/.test(l));
      expect(started).toBeGreaterThanOrEqual(0);
      // The run finished during the shutdown, before it ended.
      expect([started < finished, finished < ended]).toEqual([true, true]);

      const after = await bootApp({ HOOKHUB_PROGRAM_DIRS: PROGRAMS_DIR }, { db });
      try {
        const task = await after.request<{ status: string; exit_code: number; error: string | null }>({
          url: `/api/tasks/${run.json.id}`,
          token: await after.login(),
        });
        expect(task.json).toMatchObject({ status: 'succeeded', exit_code: 0, error: null });
      } finally {
        await after.close();
      }
    } finally {
      await db.drop();
    }
  });

  it('keeps every secret out of its log lines, at debug level', async () => {
    const db = await createTestDatabase();
    try {
      const hub = await start({ ...db.env, HOOKHUB_LOG_LEVEL: 'debug' });
      const token = await login(hub);
      const secrets = [
        'whsec_bG9nLXRlc3Qtd2ViaG9vay1zZWNyZXQtMTIzNA==',
        'Bearer hdr-secret-9f3b',
        'src-secret-7c2a',
        'custom-cred-41d0',
        'basic-pass-88e1',
        'env-secret-5a6b',
      ];
      await hub.request('POST', '/api/webhooks', {
        token,
        body: {
          url: 'http://127.0.0.1:9/x',
          events: ['x.*'],
          secret: secrets[0],
          headers: { Authorization: secrets[1] },
        },
      });
      const p = await hub.request<{ id: string }>('POST', '/api/programs', {
        token,
        body: { name: 'envy', command: program('env.sh'), env: { DEPLOY_TOKEN: secrets[5] } },
      });
      for (const [slug, body] of [
        ['logged-hmac', { scheme: 'hmac', secrets: [secrets[2]] }],
        ['logged-token', { scheme: 'token', secrets: [secrets[3]], verification: { header: 'X-Custom-Credential' } }],
        ['logged-basic', { scheme: 'basic', secrets: [`user:${secrets[4]}`] }],
      ] as const) {
        const s = await hub.request<{ id: string }>('POST', '/api/sources', { token, body: { slug, ...body } });
        await hub.request('POST', `/api/sources/${s.json.id}/rules`, {
          token,
          body: { name: 'r', program_id: p.json.id },
        });
      }
      const key = await hub.request<{ key: string }>('POST', '/api/api-keys', { token, body: { name: 'script' } });
      secrets.push(key.json.key, token, ADMIN_PASSWORD);
      expect((await hub.request('GET', '/api/auth/me', { headers: { 'x-api-key': key.json.key } })).status).toBe(200);
      expect(
        (
          await hub.request('POST', '/hooks/logged-token', {
            body: '{}',
            headers: { 'x-custom-credential': secrets[3] },
          })
        ).status,
      ).toBe(202);
      const basic = `Basic ${Buffer.from(`user:${secrets[4]}`).toString('base64')}`;
      secrets.push(basic.slice(6));
      expect(
        (await hub.request('POST', '/hooks/logged-basic', { body: '{}', headers: { authorization: basic } })).status,
      ).toBe(202);
      expect(
        (await hub.request('POST', '/hooks/logged-hmac', { body: '{}', headers: { 'x-signature': 'wrong' } })).status,
      ).toBe(401);
      await hub.request('POST', '/api/auth/login', { body: { username: 'admin', password: 'a-wrong-password' } });
      await new Promise((r) => setTimeout(r, 500));
      expect(await stop(hub)).toBe(0);

      const output = hub.output();
      // The log saw every one of those requests, the receiver's too...
      for (const path of [
        '/api/api-keys',
        '/api/auth/login',
        '/api/auth/me',
        '/hooks/logged-token',
        '/hooks/logged-basic',
        '/hooks/logged-hmac',
      ]) {
        expect(output).toContain(`"path":"${path}"`);
      }
      // ...and none of their secrets.
      for (const secret of [...secrets, 'a-wrong-password'])
        expect({ secret, logged: output.includes(secret) }).toEqual({ secret, logged: false });
    } finally {
      await db.drop();
    }
  });

  it('refuses a second process on the same embedded store', async () => {
    const dir = tempDir();
    const first = await start({ HOOKHUB_DATA_DIR: dir });
    const second = await start({ HOOKHUB_DATA_DIR: dir }, { waitReady: false });
    const [code] = (await once(second.child, 'exit')) as [number | null];
    expect(code).toBe(1);
    expect(second.output()).toContain(`The embedded database in ${dir} is in use by process ${first.child.pid}`);
    // The first one was not disturbed.
    expect((await fetch(`${first.baseUrl}/health/ready`)).status).toBe(200);
    expect(await stop(first)).toBe(0);
  });

  (usingRealPostgres() ? it : it.skip)(
    'logs an unexpected failure once, with its error id and stack, and answers with the id only',
    async () => {
      const db = await createTestDatabase();
      try {
        const hub = await start({ ...db.env, HOOKHUB_LOG_LEVEL: 'info' });
        const token = await login(hub);
        const client = new Client({ connectionString: db.url });
        await client.connect();
        await client.query('DROP TABLE event_types CASCADE');
        await client.end();
        const res = await hub.request<{ errorId: string; message: string }>('GET', '/api/event-types', { token });
        expect(res.status).toBe(500);
        await new Promise((r) => setTimeout(r, 300));
        const line = hub
          .output()
          .split('\n')
          .find((l) => l.includes(res.json.errorId) && l.includes('"level":50'));
        expect(line).toBeDefined();
        expect(line).toContain('relation');
        expect(line).toContain('"stack"');
        expect(res.json.message).not.toContain('relation');
        expect(await stop(hub)).toBe(0);
      } finally {
        await db.drop();
      }
    },
  );
});
