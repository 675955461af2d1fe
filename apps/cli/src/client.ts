import { CliError, EXIT, exitCodeForStatus } from './cli-error';

export interface Auth {
  token?: string;
  apiKey?: string;
}

/** The hub's error body (see the README: `{statusCode, error, code, message, details?, requestId}`). */
interface ErrorBody {
  code?: string;
  message?: string;
  details?: Array<{ field: string; errors: string[] }>;
}

/** The hub's admin API over HTTP, with the saved credential. Refusals become {@link CliError}s with exit codes. */
export class HubClient {
  constructor(
    readonly url: string,
    private readonly auth: Auth,
  ) {}

  headers(extra: Record<string, string> = {}): Record<string, string> {
    const headers: Record<string, string> = { ...extra };
    if (this.auth.token) headers.authorization = `Bearer ${this.auth.token}`;
    else if (this.auth.apiKey) headers['x-api-key'] = this.auth.apiKey;
    return headers;
  }

  /** A request whose answer is not read here (streams, raw bodies); only a failed connection is an error. */
  async fetch(path: string, init: RequestInit = {}): Promise<Response> {
    try {
      return await fetch(new URL(path, this.url), init);
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new CliError(
        `cannot reach the hub at ${this.url}: ${cause?.code ?? cause?.message ?? (err as Error).message}`,
        EXIT.unavailable,
      );
    }
  }

  /** A JSON call; a refusal throws with the hub's message and per-field details. */
  async call<T>(
    method: string,
    path: string,
    options: { body?: unknown; query?: Record<string, string | undefined> } = {},
  ): Promise<T> {
    const query = Object.entries(options.query ?? {}).filter(([, v]) => v !== undefined) as Array<[string, string]>;
    const target = query.length ? `${path}?${new URLSearchParams(query).toString()}` : path;
    const res = await this.fetch(target, {
      method,
      redirect: 'manual',
      headers: this.headers(options.body === undefined ? {} : { 'content-type': 'application/json' }),
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
    const text = await res.text();
    // A redirect is not followed: it would carry the credential to wherever it points.
    if (res.status >= 300 && res.status < 400)
      throw new CliError(
        `${method} ${path}: the hub answered ${res.status} to ${res.headers.get('location') ?? '?'}; give that address with --url`,
        EXIT.refused,
      );
    if (!res.ok) throw refusal(res.status, text, `${method} ${path}`);
    if (!text) return undefined as T;
    return (res.headers.get('content-type') ?? '').includes('json') ? (JSON.parse(text) as T) : (text as T);
  }
}

/** A CliError for a refused call: the hub's message, its fields' problems as details, the status's exit code. */
export function refusal(status: number, text: string, what: string): CliError {
  let body: ErrorBody;
  try {
    body = JSON.parse(text) as ErrorBody;
  } catch {
    body = { message: text.slice(0, 300) };
  }
  const fields = (body.details ?? [])
    .filter((d) => d && typeof d.field === 'string')
    .map((d) => `\n  ${d.field}: ${(d.errors ?? []).join('; ')}`)
    .join('');
  const hint = status === 401 ? ' (log in again: hookhub login)' : '';
  return new CliError(
    `${what}: ${status} ${body.code ?? ''}${body.code ? ': ' : ''}${body.message ?? ''}${hint}${fields}`,
    exitCodeForStatus(status),
    body,
  );
}
