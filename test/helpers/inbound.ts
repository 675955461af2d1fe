import { createHmac } from 'node:crypto';
import { join } from 'node:path';
import type { Reply, TestApp } from './app';

export const PROGRAMS_DIR = join(process.cwd(), 'test/fixtures/programs');

export function program(name: string): string {
  return join(PROGRAMS_DIR, name);
}

export function githubSignature(secret: string, body: string | Buffer): string {
  return 'sha256=' + createHmac('sha256', secret).update(body).digest('hex');
}

/** Creates something through the admin API and returns its JSON, failing loudly on a non-201. */
export async function create<T = { id: string; number: number }>(
  t: TestApp,
  token: string,
  url: string,
  body: unknown,
): Promise<T> {
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
export async function waitForTask(
  t: TestApp,
  token: string,
  id: string,
  until: (task: TaskView) => boolean = (x) => FINAL.includes(x.status),
  timeoutMs = 30_000,
): Promise<TaskView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await t.request<TaskView>({ url: `/api/tasks/${id}`, token });
    if (res.statusCode !== 200) throw new Error(`GET task gave ${res.statusCode}: ${res.body}`);
    if (until(res.json)) return res.json;
    if (Date.now() > deadline) throw new Error(`task ${id} still ${res.json.status} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface ReceiptView {
  id: string;
  source_id: string | null;
  slug: string;
  method: string;
  ip: string | null;
  verdict: string;
  reason: string | null;
  status_code: number;
  event: string | null;
  delivery_id: string | null;
  task_ids: string[];
}

/** How many receipts there are (of `sourceId` when given), and the newest one. */
export async function newestReceipt(
  t: TestApp,
  token: string,
  sourceId?: string,
): Promise<{ total: number; newest: ReceiptView | undefined }> {
  const res = await t.request<{ items: ReceiptView[]; total: number }>({
    url: `/api/receipts?limit=1${sourceId ? `&source_id=${sourceId}` : ''}`,
    token,
  });
  if (res.statusCode !== 200) throw new Error(`GET /api/receipts gave ${res.statusCode}: ${res.body}`);
  return { total: res.json.total, newest: res.json.items[0] };
}

export interface Refusal {
  status: number;
  code: string;
  /** The source the request was for; omit for a request that names no source (its receipt has none). */
  sourceId?: string;
  /** The slug the receipt records, when there is no source to look it up by. */
  slug?: string;
}

/**
 * Sends a request to /hooks (the requests of one test are sequential, and nothing else writes receipts
 * meanwhile) and expects it refused: the status, the error body's `code`, and exactly one new receipt,
 * `rejected` with that status and a reason naming the code. Returns the answer and the receipt.
 */
export async function expectRefused<T extends { code: string }>(
  t: TestApp,
  token: string,
  send: () => Promise<Reply<T>>,
  refusal: Refusal,
): Promise<{ res: Reply<T>; receipt: ReceiptView }> {
  const before = await newestReceipt(t, token, refusal.sourceId);
  const res = await send();
  expect({ status: res.statusCode, code: res.json?.code }).toEqual({ status: refusal.status, code: refusal.code });
  const after = await newestReceipt(t, token, refusal.sourceId);
  expect(after.total).toBe(before.total + 1);
  const receipt = after.newest!;
  expect(receipt).toMatchObject({
    verdict: 'rejected',
    status_code: refusal.status,
    source_id: refusal.sourceId ?? null,
    ...(refusal.slug ? { slug: refusal.slug } : {}),
  });
  expect(receipt.reason).toMatch(new RegExp(`^${refusal.code}: `));
  return { res, receipt };
}
