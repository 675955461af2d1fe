import { readFileSync, writeFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import type { AdnanhImport } from './importer';
import { CliError, EXIT, exitCodeForStatus } from './cli-error';
import type { Context } from './context';
import { Progress } from './output';
import { type SignInput, signHeaders, verifyDelivery } from './signing';

function signInput(ctx: Context, body: Buffer): SignInput {
  const scheme = ctx.opts.value('scheme') ?? 'github';
  const secret = ctx.opts.value('secret') ?? ctx.io.env.HOOKHUB_SECRET;
  if (!secret && scheme !== 'none') throw new CliError('--secret (or HOOKHUB_SECRET) is required', EXIT.usage);
  const algorithm = ctx.opts.value('algorithm');
  if (algorithm && !['sha1', 'sha256', 'sha512'].includes(algorithm))
    throw new CliError('--algorithm is sha1, sha256 or sha512', EXIT.usage);
  const encoding = ctx.opts.value('encoding');
  if (encoding && !['hex', 'base64'].includes(encoding)) throw new CliError('--encoding is hex or base64', EXIT.usage);
  const timestamp = ctx.opts.value('timestamp');
  return {
    scheme,
    secret: secret ?? '',
    body,
    header: ctx.opts.value('header'),
    algorithm: algorithm as SignInput['algorithm'],
    encoding: encoding as SignInput['encoding'],
    prefix: ctx.opts.value('prefix'),
    event: ctx.opts.value('event'),
    id: ctx.opts.value('id'),
    timestamp: timestamp === undefined ? undefined : Number(timestamp),
  };
}

/** `sign`: the headers a sender of a scheme would send with this body (for testing senders). */
export async function sign(ctx: Context): Promise<void> {
  const headers = signHeaders(signInput(ctx, await ctx.body()));
  ctx.print(headers, () =>
    Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}\n`)
      .join(''),
  );
}

/**
 * `send SLUG`: signs the body under the scheme and posts it to `/hooks/SLUG` (or `--path`, an alias), as a
 * sender would. Prints the status and the answer; exits 0 on a 2xx, else with the status's exit code.
 */
export async function send(ctx: Context): Promise<number> {
  const slug = ctx.opts.value('path') === undefined ? ctx.word(1, 'the source slug') : undefined;
  const path = ctx.opts.value('path') ?? `/hooks/${encodeURIComponent(slug!)}`;
  const method = (ctx.opts.value('method') ?? 'POST').toUpperCase();
  // GET and HEAD carry no body (fetch refuses one): the signature covers the empty body.
  const body = method === 'GET' || method === 'HEAD' ? Buffer.alloc(0) : await ctx.body();
  const headers = {
    'content-type': ctx.opts.value('content-type') ?? 'application/json',
    ...signHeaders(signInput(ctx, body)),
  };
  const url = `${ctx.hubUrl()}${path}`;
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers,
      body: method === 'GET' || method === 'HEAD' ? undefined : body,
      redirect: 'manual',
    });
  } catch (err) {
    throw new CliError(`cannot reach ${url}: ${(err as Error).message}`, EXIT.unavailable);
  }
  const text = await res.text();
  if (ctx.json) {
    let answer: unknown = text;
    try {
      answer = JSON.parse(text);
    } catch {
      // a text answer stays text
    }
    ctx.print({ status: res.status, body: answer }, () => '');
  } else ctx.io.out(`status ${res.status}\n${text}${text.endsWith('\n') ? '' : '\n'}`);
  return res.ok ? EXIT.ok : exitCodeForStatus(res.status);
}

/** `Name: value` lines, or a JSON object. */
function parseHeaderText(text: string): Record<string, string> {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) return JSON.parse(trimmed) as Record<string, string>;
  const headers: Record<string, string> = {};
  for (const line of trimmed.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
  }
  return headers;
}

/** `verify`: whether a delivery's signature (its headers and exact body) holds under a webhook's secret. Exit 0 or 1. */
export async function verify(ctx: Context): Promise<number> {
  const secret = ctx.opts.value('secret') ?? ctx.io.env.HOOKHUB_WEBHOOK_SECRET;
  if (!secret) throw new CliError('--secret (or HOOKHUB_WEBHOOK_SECRET) is required', EXIT.usage);
  const headers: Record<string, string> = {};
  const file = ctx.opts.value('headers-file');
  if (file) Object.assign(headers, parseHeaderText(readFileSync(file, 'utf8')));
  Object.assign(headers, parseHeaderText(ctx.opts.all('H').join('\n')));
  const result = verifyDelivery(headers, await ctx.body(), secret, {
    header: ctx.opts.value('header'),
    toleranceSeconds: ctx.opts.int('tolerance', 300),
  });
  ctx.print(result, () => `${result.valid ? 'valid' : 'invalid'} (${result.format}): ${result.reason}\n`);
  return result.valid ? EXIT.ok : EXIT.failed;
}

/** `config export [-o FILE]`. */
export async function configExport(ctx: Context): Promise<void> {
  const text = await ctx.client().call<string>('GET', '/api/config/export');
  const out = ctx.opts.value('output', 'o');
  if (out) {
    writeFileSync(out, text);
    ctx.io.err(`wrote ${out}\n`);
  } else ctx.io.out(text);
}

interface ApplySummary {
  dry_run: boolean;
  programs: { created: string[]; updated: string[] };
  sources: { created: string[]; updated: string[] };
  rules: { created: number; updated: number; deleted: number };
}

function summaryText(s: ApplySummary): string {
  const names = (list: string[]) => (list.length ? ` (${list.join(', ')})` : '');
  return (
    `${s.dry_run ? 'would apply (dry run, nothing written)' : 'applied'}:\n` +
    `  programs: ${s.programs.created.length} created${names(s.programs.created)}, ${s.programs.updated.length} updated${names(s.programs.updated)}\n` +
    `  sources:  ${s.sources.created.length} created${names(s.sources.created)}, ${s.sources.updated.length} updated${names(s.sources.updated)}\n` +
    `  rules:    ${s.rules.created} created, ${s.rules.updated} updated, ${s.rules.deleted} deleted\n`
  );
}

/**
 * The `${NAME}` references of a config file, where the hub reads them (source `secrets`, program `env`
 * values), with their values from `env`: only those are sent, never other variables the text mentions.
 */
function referencedEnv(text: string, env: NodeJS.ProcessEnv): Record<string, string> {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new CliError(`the file is not YAML: ${(err as Error).message.split('\n')[0]}`, EXIT.refused);
  }
  const root = (doc ?? {}) as { sources?: unknown; programs?: unknown };
  const values: unknown[] = [];
  for (const source of Array.isArray(root.sources) ? root.sources : [])
    values.push(
      ...(Array.isArray((source as { secrets?: unknown })?.secrets) ? (source as { secrets: unknown[] }).secrets : []),
    );
  for (const program of Array.isArray(root.programs) ? root.programs : []) {
    const vars = (program as { env?: unknown })?.env;
    if (vars && typeof vars === 'object') values.push(...Object.values(vars));
  }
  const names = [
    ...new Set(
      values.flatMap((v) =>
        typeof v === 'string' ? [...v.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => m[1]) : [],
      ),
    ),
  ];
  const missing = names.filter((n) => env[n] === undefined);
  if (missing.length) throw new CliError(`set these environment variables first: ${missing.join(', ')}`, EXIT.usage);
  return Object.fromEntries(names.map((n) => [n, env[n]!]));
}

/** `config apply FILE [--dry-run]`: `${NAME}` references are filled from this shell's environment. */
export async function configApply(ctx: Context): Promise<void> {
  const file = ctx.word(2, 'the file to apply');
  const yaml = readFileSync(file, 'utf8');
  const summary = await ctx.client().call<ApplySummary>('POST', '/api/config/apply', {
    body: { yaml, env: referencedEnv(yaml, ctx.io.env), dry_run: ctx.opts.flag('dry-run') },
  });
  ctx.print(summary, () => summaryText(summary));
}

/**
 * `import adnanh FILE [--apply]`: reports what each hook becomes and what cannot be mapped, and prints the
 * Hookhub file (secrets as `${NAME}` references). Nothing is written to the hub without --apply; with it, the
 * hook definitions are applied one source at a time (a progress bar), their secrets sent with them.
 */
export async function importHooks(ctx: Context): Promise<number> {
  const kind = ctx.word(1, 'what to import from (adnanh)');
  if (kind !== 'adnanh') throw new CliError(`cannot import from ${kind}; only adnanh is known`, EXIT.usage);
  const file = ctx.word(2, 'the hooks file (JSON or YAML)');
  // Loaded when used: the rest of the command line starts without it.
  const { importAdnanh } = await import('./importer');
  let result: AdnanhImport;
  try {
    result = importAdnanh(readFileSync(file, 'utf8'), file);
  } catch (err) {
    throw new CliError(`${file}: ${(err as Error).message}`, EXIT.refused);
  }
  const { config, unmapped, notes, secrets } = result;
  const yaml = stringify(config, { lineWidth: 0 });
  const out = ctx.opts.value('output', 'o');
  if (out) writeFileSync(out, yaml);
  const apply = ctx.opts.flag('apply');
  const applied: ApplySummary[] = [];
  if (apply) {
    const client = ctx.client();
    const progress = new Progress(ctx.io, 'importing', config.sources.length);
    for (const source of config.sources) {
      const used = new Set(((source.rules as Array<{ program: string }> | undefined) ?? []).map((r) => r.program));
      const programs = config.programs.filter((p) => used.has(String(p.name)));
      const chunk = stringify({ programs, sources: [source] }, { lineWidth: 0 });
      applied.push(
        await client.call<ApplySummary>('POST', '/api/config/apply', { body: { yaml: chunk, env: secrets } }),
      );
      progress.tick(String(source.slug));
    }
  }
  const report = { hooks: result.hooks, config, unmapped, notes, applied: apply ? applied : null };
  ctx.print(report, () => {
    const lines = [
      `${result.hooks} hook(s) in ${file}: ${config.programs.length} program(s), ${config.sources.length} source(s)`,
    ];
    if (unmapped.length) {
      lines.push(`\nnot mapped (${unmapped.length}): these parts of the hooks are left out`);
      for (const u of unmapped) lines.push(`  ${u.hook}: ${u.field}: ${u.message}`);
    }
    if (notes.length) {
      lines.push(`\nnotes (${notes.length}):`);
      for (const n of notes) lines.push(`  ${n.hook}: ${n.field}: ${n.message}`);
    }
    if (apply) {
      const sum = (pick: (s: ApplySummary) => number) => applied.reduce((n, s) => n + pick(s), 0);
      lines.push(
        `\napplied to ${ctx.hubUrl()}: ${sum((s) => s.sources.created.length)} source(s) created, ${sum((s) => s.sources.updated.length)} updated; ${sum((s) => s.programs.created.length)} program(s) created; ${sum((s) => s.rules.created)} rule(s) created`,
      );
    } else {
      lines.push(`\ndry run: nothing was written. Run again with --apply to create these in the hub.`);
      if (!out) lines.push(`\n${yaml}`);
    }
    if (out) lines.push(`wrote ${out}`);
    return `${lines.join('\n')}\n`;
  });
  return unmapped.length && ctx.opts.flag('strict') ? EXIT.failed : EXIT.ok;
}

export async function migrateCommand(ctx: Context): Promise<void> {
  const { migrate } = await import('./offline');
  const applied = await migrate(ctx.io.env);
  ctx.print({ applied }, () =>
    applied.length ? `applied ${applied.length} migration(s): ${applied.join(', ')}\n` : 'migrations up to date\n',
  );
}

/** `admin reset-password USERNAME`: the new password from --password-stdin (or HOOKHUB_NEW_PASSWORD). */
export async function adminResetPassword(ctx: Context): Promise<void> {
  const username = ctx.word(2, 'the username');
  let password = ctx.io.env.HOOKHUB_NEW_PASSWORD;
  if (ctx.opts.flag('password-stdin')) password = (await ctx.io.stdin()).replace(/\r?\n$/, '');
  if (!password)
    throw new CliError(
      'give the new password on standard input with --password-stdin (or HOOKHUB_NEW_PASSWORD)',
      EXIT.usage,
    );
  const { resetPassword } = await import('./offline');
  const user = await resetPassword(ctx.io.env, username, password, ctx.opts.flag('enable'));
  ctx.print(
    user,
    () =>
      `password reset for ${user.username} (${user.role}${user.disabled ? ', still disabled: add --enable' : ''}); their old tokens no longer work\n`,
  );
}
