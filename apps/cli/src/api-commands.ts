import { CliError, EXIT } from './cli-error';
import type { Context } from './context';
import { removeCredentials, saveCredentials } from './credentials';
import { HubClient, refusal } from './client';
import { type Column, Progress, record, table } from './output';

type Row = Record<string, unknown>;
interface Page {
  items: Row[];
  total: number;
  next_cursor: string | null;
}

const col = (name: string): Column<Row> => [name, (r) => r[name]];

/** The lists and records the CLI shows, in the API's words. */
export const RESOURCES: Record<string, { path: string; columns: Array<Column<Row>> }> = {
  sources: { path: '/api/sources', columns: ['id', 'slug', 'scheme', 'enabled', 'url_path', 'aliases'].map(col) },
  programs: { path: '/api/programs', columns: ['id', 'number', 'name', 'command', 'enabled', 'queue'].map(col) },
  webhooks: { path: '/api/webhooks', columns: ['id', 'url', 'events', 'enabled', 'failing_since'].map(col) },
  tasks: {
    path: '/api/tasks',
    columns: ['id', 'program_name', 'status', 'exit_code', 'trigger', 'created_at'].map(col),
  },
  receipts: {
    path: '/api/receipts',
    columns: ['id', 'slug', 'verdict', 'status_code', 'event', 'created_at'].map(col),
  },
  events: { path: '/api/events', columns: ['id', 'type', 'created_at'].map(col) },
};

/** `hookhub login`: a password login (the token is saved) or an API key (checked, then saved). */
export async function login(ctx: Context): Promise<void> {
  const url = ctx.hubUrl();
  const apiKey = ctx.opts.value('api-key');
  if (apiKey) {
    const me = await new HubClient(url, { apiKey }).call<{ username: string; role: string }>('GET', '/api/auth/me');
    const file = saveCredentials({ url, api_key: apiKey, username: me.username }, ctx.io.env);
    return ctx.print(
      { url, username: me.username, role: me.role, saved: file },
      () => `logged in to ${url} as ${me.username} (${me.role}) with an API key; saved in ${file}\n`,
    );
  }
  const username = ctx.opts.value('username', 'u') ?? ctx.io.env.HOOKHUB_USERNAME;
  if (!username) throw new CliError('login needs --username (or --api-key)', EXIT.usage);
  // Never an option: a password on the command line is in `ps` and the shell's history.
  let password = ctx.io.env.HOOKHUB_PASSWORD;
  if (password === undefined && ctx.opts.flag('password-stdin'))
    password = (await ctx.io.stdin()).replace(/\r?\n$/, '');
  if (!password) throw new CliError('login needs --password-stdin (or HOOKHUB_PASSWORD)', EXIT.usage);
  const token = await new HubClient(url, {}).call<{ access_token: string; expires_in: number }>(
    'POST',
    '/api/auth/login',
    {
      body: { username, password },
    },
  );
  const expiresAt = new Date(Date.now() + token.expires_in * 1000).toISOString();
  const file = saveCredentials({ url, token: token.access_token, username, expires_at: expiresAt }, ctx.io.env);
  ctx.print(
    { url, username, expires_at: expiresAt, saved: file },
    () => `logged in to ${url} as ${username} until ${expiresAt}; saved in ${file}\n`,
  );
}

export function logout(ctx: Context): void {
  const removed = removeCredentials(ctx.io.env);
  ctx.print({ removed }, () => (removed ? 'logged out\n' : 'was not logged in\n'));
}

/** `<resource> list`: a page (or every page with --all), filtered by any other option (`--status failed`). */
export async function list(ctx: Context, resource: string): Promise<void> {
  const { path, columns } = RESOURCES[resource];
  const client = ctx.client();
  const all = ctx.opts.flag('all');
  const limit = ctx.opts.int('limit', all ? 100 : 20);
  let cursor = ctx.opts.value('cursor');
  // Every option not read so far (--json and --url were) is a filter.
  const filters = ctx.opts.rest();
  const items: Row[] = [];
  let page: Page;
  let progress: Progress | undefined;
  do {
    page = await client.call<Page>('GET', path, { query: { ...filters, limit: String(limit), cursor } });
    items.push(...page.items);
    if (all && page.total > limit) {
      progress ??= new Progress(ctx.io, resource, Math.ceil(page.total / limit));
      progress.tick();
    }
    cursor = page.next_cursor ?? undefined;
  } while (all && cursor);
  if (ctx.json) return ctx.print(all ? items : page, () => '');
  ctx.io.out(table(items, columns));
  if (!all && page.next_cursor)
    ctx.io.err(`${items.length} of ${page.total}; next page: --cursor ${page.next_cursor}\n`);
}

export async function get(ctx: Context, resource: string): Promise<void> {
  const id = ctx.word(2, `the id of one of the ${resource}`);
  const value = await ctx.client().call<Row>('GET', `${RESOURCES[resource].path}/${encodeURIComponent(id)}`);
  ctx.print(value, () => record(value));
}

/** `events publish TYPE --data JSON` (or --data-file, or standard input). */
export async function publish(ctx: Context): Promise<void> {
  const type = ctx.word(2, 'the event type');
  const text =
    ctx.opts.value('data') ?? (ctx.opts.value('data-file') !== undefined ? (await ctx.body()).toString() : '{}');
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new CliError(`--data is not JSON: ${(err as Error).message}`, EXIT.usage);
  }
  const event = await ctx.client().call<Row>('POST', '/api/events', { body: { type, data } });
  ctx.print(event, () => `published ${String(event.id)} (${type}) to ${String(event.deliveries)} webhook(s)\n`);
}

/** An SSE stream's events, as they arrive. */
async function* serverSentEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<{ event: string; data: string }> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      yield { event, data: data.join('\n') };
    }
  }
}

/**
 * `tasks logs ID`: the run's output (stdout to stdout, stderr to stderr); `-f` follows it live until the run
 * ends, and exits 0 when it succeeded, 1 when it did not.
 */
export async function logs(ctx: Context): Promise<number> {
  const id = ctx.word(2, 'the task id');
  const client = ctx.client();
  if (!ctx.opts.flag('follow', 'f')) {
    const run = await client.call<{ stdout: string; stderr: string; status: string }>(
      'GET',
      `/api/tasks/${encodeURIComponent(id)}`,
    );
    if (ctx.json) ctx.print(run, () => '');
    else {
      ctx.io.out(run.stdout);
      if (run.stderr) ctx.io.err(run.stderr);
    }
    return EXIT.ok;
  }
  const res = await client.fetch(`/api/tasks/${encodeURIComponent(id)}/output`, {
    headers: client.headers({ accept: 'text/event-stream' }),
  });
  if (!res.ok || !res.body) throw refusal(res.status, await res.text(), `GET /api/tasks/${id}/output`);
  for await (const { event, data } of serverSentEvents(res.body)) {
    if (ctx.json) ctx.io.out(`${JSON.stringify({ event, data })}\n`);
    else if (event === 'stdout') ctx.io.out(data);
    else if (event === 'stderr') ctx.io.err(data);
    else if (event === 'truncated')
      ctx.io.err(`[... ${(JSON.parse(data) as { skipped_bytes: number }).skipped_bytes} bytes skipped]\n`);
    if (event === 'end') {
      const end = JSON.parse(data) as { status: string; exit_code: number | null };
      if (!ctx.json) ctx.io.err(`[${end.status}${end.exit_code === null ? '' : `, exit code ${end.exit_code}`}]\n`);
      return end.status === 'succeeded' ? EXIT.ok : EXIT.failed;
    }
  }
  return EXIT.failed;
}

/**
 * `tail`: receipts, task runs (each change of status) and delivery attempts as they happen, one line each,
 * oldest first, by polling the API (`--interval` ms, default 1000). What existed when it started is not
 * shown. `--count N` stops after N lines.
 */
export async function tail(ctx: Context): Promise<void> {
  const client = ctx.client();
  const interval = ctx.opts.int('interval', 1000);
  const count = ctx.opts.int('count', 0);
  const seen = new Set<string>();
  let printed = 0;
  let first = true;
  const sources: Array<{
    kind: string;
    path: string;
    key: (r: Row) => string;
    line: (r: Row) => string;
    at: (r: Row) => string;
  }> = [
    {
      kind: 'receipt',
      path: '/api/receipts',
      key: (r) => String(r.id),
      at: (r) => String(r.created_at),
      line: (r) =>
        `${String(r.method)} /hooks/${String(r.slug)} ${String(r.status_code)} ${String(r.verdict)}${r.reason ? ` (${String(r.reason)})` : ''}`,
    },
    {
      kind: 'task',
      path: '/api/tasks',
      key: (r) => `${String(r.id)}:${String(r.status)}`,
      at: (r) => String(r.finished_at ?? r.started_at ?? r.created_at),
      line: (r) =>
        `${String(r.id)} ${String(r.program_name)} ${String(r.status)}${r.exit_code === null || r.exit_code === undefined ? '' : ` exit ${String(r.exit_code)}`}`,
    },
    {
      kind: 'attempt',
      path: '/api/webhooks/logs/recent',
      key: (r) => String(r.id),
      at: (r) => String(r.created_at),
      line: (r) =>
        `${String(r.url)} ${r.status_code === null ? String(r.error_kind ?? 'error') : String(r.status_code)} ${r.success ? 'ok' : 'failed'} (${String(r.event_type)}, attempt ${String(r.attempt)})`,
    },
  ];
  for (;;) {
    const fresh: Array<{ kind: string; at: string; row: Row; line: string }> = [];
    for (const s of sources) {
      const page = await client.call<Page>('GET', s.path, { query: { limit: '50' } });
      for (const row of page.items) {
        const key = `${s.kind}:${s.key(row)}`;
        if (seen.has(key)) continue;
        seen.add(key);
        if (!first) fresh.push({ kind: s.kind, at: s.at(row), row, line: s.line(row) });
      }
    }
    first = false;
    fresh.sort((a, b) => a.at.localeCompare(b.at));
    for (const f of fresh) {
      ctx.io.out(
        ctx.json
          ? `${JSON.stringify({ kind: f.kind, at: f.at, ...f.row })}\n`
          : `${f.at}  ${f.kind.padEnd(7)}  ${f.line}\n`,
      );
      if (count && ++printed >= count) return;
    }
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}

/**
 * `webhooks recover ID --from T [--to T]`: queues again the webhook's failed deliveries of that window; with
 * `--wait`, follows them with a progress bar until none is left queued or running (exit 1 if some still are
 * after `--timeout` seconds, default 300).
 */
export async function recover(ctx: Context): Promise<number> {
  const id = ctx.word(2, 'the webhook id');
  const from = ctx.opts.value('from');
  if (!from) throw new CliError('--from (a time, e.g. 2026-12-01T10:00:00Z) is required', EXIT.usage);
  const client = ctx.client();
  const path = `/api/webhooks/${encodeURIComponent(id)}`;
  const { requeued } = await client.call<{ requeued: number }>('POST', `${path}/recover`, {
    body: { from, ...(ctx.opts.value('to') ? { to: ctx.opts.value('to') } : {}) },
  });
  if (!ctx.opts.flag('wait') || requeued === 0) {
    ctx.print({ requeued }, () => `requeued ${requeued} failed deliveries\n`);
    return EXIT.ok;
  }
  const progress = new Progress(ctx.io, 'recovering', requeued);
  const deadline = Date.now() + ctx.opts.int('timeout', 300) * 1000;
  const pending = async () => {
    let n = 0;
    for (const status of ['queued', 'running'])
      n += (await client.call<Page>('GET', `${path}/deliveries`, { query: { status, limit: '1' } })).total;
    return n;
  };
  let left = await pending();
  for (;;) {
    progress.update(Math.max(0, requeued - left));
    if (left === 0 || Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 500));
    left = await pending();
  }
  // The window's deliveries that failed again (the requeued ones were all failed before).
  const failed = left
    ? 0
    : (
        await client.call<Page>('GET', `${path}/deliveries`, {
          query: { status: 'failed', from, to: ctx.opts.value('to'), limit: '1' },
        })
      ).total;
  ctx.print({ requeued, pending: left, failed }, () =>
    left
      ? `requeued ${requeued}; ${left} still pending after the timeout\n`
      : failed
        ? `requeued ${requeued}; ${failed} failed again\n`
        : `requeued and delivered ${requeued}\n`,
  );
  return left || failed ? EXIT.failed : EXIT.ok;
}
