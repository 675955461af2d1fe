import { createHmac } from 'node:crypto';
import { join } from 'node:path';
import type { TestApp } from './app';

export const PROGRAMS_DIR = join(process.cwd(), 'test/fixtures/programs');

export function program(name: string): string {
  return join(PROGRAMS_DIR, name);
}

export function githubSignature(secret: string, body: string | Buffer): string {
  return 'sha256=' + createHmac('sha256', secret).update(body).digest('hex');
}

/** Creates something through the admin API and returns its JSON, failing loudly on a non-201. */
export async function create<T = { id: string; number: number }>(t: TestApp, token: string, url: string, body: unknown): Promise<T> {
  const res = await t.request<T>({ method: 'POST', url, token, body });
  if (res.statusCode !== 201) throw new Error(`POST ${url} gave ${res.statusCode}: ${res.body}`);
  return res.json;
}

export interface TaskView {
  id: string;
  status: string;
  exit_code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  error: string | null;
  argv: string[];
  attempt: number;
  trigger: string;
  retry_of: string | null;
  started_at: string | null;
  finished_at: string | null;
}

const FINAL = ['succeeded', 'failed', 'timed_out', 'canceled'];

/** Polls a task run until it reaches a final status (or `until` matches). */
export async function waitForTask(t: TestApp, token: string, id: string, until: (task: TaskView) => boolean = (x) => FINAL.includes(x.status), timeoutMs = 30_000): Promise<TaskView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await t.request<TaskView>({ url: `/api/tasks/${id}`, token });
    if (res.statusCode !== 200) throw new Error(`GET task gave ${res.statusCode}: ${res.body}`);
    if (until(res.json)) return res.json;
    if (Date.now() > deadline) throw new Error(`task ${id} still ${res.json.status} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
