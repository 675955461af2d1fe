import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { Client } from 'pg';

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  server.close();
  await once(server, 'close');
  return port;
}

export interface Started {
  child: ChildProcess;
  url: string;
  stop: () => Promise<void>;
}

/**
 * Starts `node <script>` with the given env and waits until `readyPath` answers 200. The child's output is
 * kept (the last 64 KiB) and printed if it dies or never gets ready.
 */
export async function startNode(
  script: string,
  env: Record<string, string>,
  port: number,
  readyPath: string,
  nodeArgs: string[] = [],
  timeoutMs = 60_000,
): Promise<Started> {
  const child = spawn(process.execPath, [...nodeArgs, script], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-65_536);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${script} exited with ${child.exitCode}:\n${output}`);
    try {
      const res = await fetch(url + readyPath);
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${script} not ready within ${timeoutMs} ms:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  };
  return { child, url, stop };
}

/** Creates a fresh database next to `adminUrl`'s and returns its URL and a function that drops it. */
export async function freshDatabase(
  adminUrl: string,
  name: string,
): Promise<{ url: string; drop: () => Promise<void> }> {
  const admin = new Client({ connectionString: adminUrl });
  try {
    await admin.connect();
  } catch (err) {
    throw new Error(
      `cannot reach Postgres at ${adminUrl} (${(err as Error).message}); set BENCH_DATABASE_URL or start Postgres`,
      { cause: err },
    );
  }
  await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await c.end();
    },
  };
}

const TICKS = 100; // USER_HZ on Linux

function statCpu(pid: number | string): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS;
  } catch {
    return 0;
  }
}

/** CPU seconds (user + system) used so far by a process; 0 where /proc is not available. */
export function processCpuSeconds(pid: number): number {
  return statCpu(pid);
}

/**
 * CPU seconds used so far by a process and by its children that are still running (the task spawner a
 * worker starts), each its own CPU only: programs that ended are not counted, as the spawn baseline does
 * not count its programs either.
 */
export function processTreeCpuSeconds(pid: number): number {
  let total = statCpu(pid);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) total += statCpu(entry);
    } catch {
      // gone meanwhile
    }
  }
  return total;
}

function postgresPids(): string[] {
  try {
    return readdirSync('/proc').filter((e) => /^\d+$/.test(e) && commOf(e) === 'postgres');
  } catch {
    return [];
  }
}

function commOf(pid: string): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

/**
 * CPU seconds used by every local `postgres` process (server and backends) between start() and stop().
 * Backends come and go (a pool closes idle connections), so each is sampled every 200 ms and counted
 * from its first sample (or its birth, if it started during the window) to its last.
 */
export class PostgresCpuMeter {
  private readonly first = new Map<string, number>();
  private readonly last = new Map<string, number>();
  private timer?: NodeJS.Timeout;

  start(): void {
    this.first.clear();
    this.last.clear();
    for (const pid of postgresPids()) this.first.set(pid, statCpu(pid));
    this.sample();
    this.timer = setInterval(() => this.sample(), 200);
  }

  stop(): number {
    if (this.timer) clearInterval(this.timer);
    this.sample();
    let total = 0;
    for (const [pid, seconds] of this.last) total += seconds - (this.first.get(pid) ?? 0);
    return total;
  }

  private sample(): void {
    for (const pid of postgresPids()) {
      const seconds = statCpu(pid);
      if (seconds > 0) this.last.set(pid, seconds);
    }
  }
}
