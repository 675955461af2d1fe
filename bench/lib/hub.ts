import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from 'pg';
import { freePort, freshDatabase, startNode } from './processes';
import type { BenchContext } from './report';

/** Runs one query on its own connection and returns the first row's `n`. */
export async function count(url: string, sql: string): Promise<number> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    const r = await c.query<{ n: string }>(sql);
    return Number(r.rows[0].n);
  } finally {
    await c.end();
  }
}

/** One admin API call; throws with the answer on anything but 2xx. */
export async function api<T>(
  base: string,
  method: string,
  path: string,
  token: string | null,
  body?: unknown,
): Promise<T> {
  const res = await fetch(base + path, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path} gave ${res.status}: ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

/** The built hub, started in production mode on a fresh database, with an admin token. */
export interface Hub {
  url: string;
  pid: number;
  databaseUrl: string;
  dataDir: string;
  token: string;
  /** The environment it runs with (its secrets and database), for a worker process to share. */
  env: Record<string, string>;
  stop: () => Promise<void>;
}

/**
 * Starts `dist/apps/api/src/main.js` on a fresh database `hookhub_bench_<name>` with generated secrets, logs
 * in as admin and returns it. `env` comes on top of the defaults, and BENCH_HUB_* settings on top of that.
 * `prepare` runs before the start with the data directory (to put programs in it, say).
 */
export async function startHub(
  ctx: BenchContext,
  name: string,
  env: Record<string, string>,
  prepare?: (dataDir: string) => Record<string, string>,
): Promise<Hub> {
  const db = await freshDatabase(ctx.databaseUrl, `hookhub_bench_${name}`);
  const dataDir = mkdtempSync(join(tmpdir(), 'hookhub-bench-'));
  const cleanup = async () => {
    await db.drop();
    rmSync(dataDir, { recursive: true, force: true });
  };
  const port = await freePort();
  const password = 'bench-' + randomBytes(12).toString('hex');
  let hub: Awaited<ReturnType<typeof startNode>>;
  const hubEnv: Record<string, string> = {
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: String(port),
    DATABASE_URL: db.url,
    HOOKHUB_DATA_DIR: dataDir,
    HOOKHUB_JWT_SECRET: randomBytes(48).toString('base64'),
    HOOKHUB_MASTER_KEY: randomBytes(32).toString('base64'),
    HOOKHUB_ADMIN_PASSWORD: password,
    // The benchmarks publish events through /api as fast as the hub takes them: no admin API rate limit.
    HOOKHUB_API_RATE_LIMIT: '0',
  };
  try {
    Object.assign(hubEnv, prepare?.(dataDir), env, ctx.hubEnv);
    hub = await startNode(resolve(ctx.distDir, 'apps/api/src/main.js'), hubEnv, port, '/health/ready', ctx.hubNodeArgs);
  } catch (err) {
    await cleanup();
    throw err;
  }
  const stop = async () => {
    await hub.stop();
    await cleanup();
  };
  try {
    const { access_token: token } = await api<{ access_token: string }>(hub.url, 'POST', '/api/auth/login', null, {
      username: 'admin',
      password,
    });
    return { url: hub.url, pid: hub.child.pid!, databaseUrl: db.url, dataDir, token, env: hubEnv, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
