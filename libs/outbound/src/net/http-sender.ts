import { isIP } from 'node:net';
import { Agent, buildConnector } from 'undici';
import { Clock } from '@hookhub/core';
import type { AddressGuard } from './address-guard';

/** Bytes of a response body that are kept. */
export const RESPONSE_BODY_CAP = 16 * 1024;

export interface SendRequest {
  url: string;
  headers: Record<string, string>;
  /** The exact bytes to send (they are what was signed). */
  body: Buffer;
  /** For the whole exchange: connect, headers and body. */
  timeoutMs: number;
}

export type SendErrorKind = 'blocked' | 'timeout' | 'connect' | 'tls' | 'protocol';

export interface SendResult {
  /** A 2xx answer. Redirects are not followed and count as failures. */
  ok: boolean;
  status: number | null;
  headers: Record<string, string>;
  /** The response body, cut at {@link RESPONSE_BODY_CAP} bytes. */
  body: string;
  bodyTruncated: boolean;
  durationMs: number;
  error: string | null;
  errorKind: SendErrorKind | null;
  /** `Retry-After` in seconds (from seconds or an HTTP date), when the receiver sent one. */
  retryAfterSeconds: number | null;
}

/** `Retry-After` as seconds from now: a number of seconds or an HTTP date; null when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | null {
  if (!value) return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - now) / 1000));
}

function kindOf(err: Error): SendErrorKind {
  const codeOf = (e: unknown) =>
    typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'string'
      ? (e as { code: string }).code
      : undefined;
  const code = codeOf(err) ?? codeOf(err.cause) ?? '';
  if (code === 'EHOOKHUB_ADDRESS_BLOCKED') return 'blocked';
  if (err.name === 'TimeoutError' || err.name === 'AbortError' || /TIMEOUT/.test(code)) return 'timeout';
  if (/^(ERR_TLS|CERT_|UNABLE_TO|DEPTH_ZERO|SELF_SIGNED|ERR_SSL)/.test(code)) return 'tls';
  if (/^(ECONN|ENOTFOUND|EAI_|EHOST|ENETUNREACH|EPIPE|UND_ERR_SOCKET|UND_ERR_CLOSED)/.test(code)) return 'connect';
  return 'protocol';
}

/**
 * The outbound HTTP client, behind an injectable so delivery code is testable. Every new connection resolves
 * its host through the {@link AddressGuard} and connects to the address that was checked (TLS still verifies
 * the certificate against the host name); redirects are never followed; the timeout covers the whole
 * exchange; response bodies are kept up to 16 KiB.
 */
export class HttpSender {
  private readonly agent: Agent;
  private readonly clock: Clock;

  constructor(guard: AddressGuard, options: { connections?: number; clock?: Clock } = {}) {
    this.clock = options.clock ?? new Clock();
    const connect = buildConnector({});
    this.agent = new Agent({
      connections: options.connections ?? 32,
      connect: (opts, callback) => {
        guard.resolve(opts.hostname).then(
          ([target]) =>
            connect(
              {
                ...opts,
                hostname: target.address,
                servername: opts.servername ?? (isIP(opts.hostname) ? undefined : opts.hostname),
              },
              callback,
            ),
          (err: Error) => callback(err, null),
        );
      },
    });
  }

  async send(request: SendRequest): Promise<SendResult> {
    const started = performance.now();
    const result = (partial: Partial<SendResult>): SendResult => ({
      ok: false,
      status: null,
      headers: {},
      body: '',
      bodyTruncated: false,
      error: null,
      errorKind: null,
      retryAfterSeconds: null,
      ...partial,
      durationMs: Math.round((performance.now() - started) * 10) / 10,
    });
    let url: URL;
    try {
      url = new URL(request.url);
      if (url.protocol !== 'http:' && url.protocol !== 'https:')
        throw new Error(`${url.protocol} is not http or https`);
    } catch (err) {
      return result({ error: `invalid URL: ${(err as Error).message}`, errorKind: 'protocol' });
    }
    const signal = AbortSignal.timeout(request.timeoutMs);
    try {
      const res = await this.agent.request({
        origin: url.origin,
        path: url.pathname + url.search,
        method: 'POST',
        headers: { ...request.headers, 'content-length': String(request.body.length) },
        body: request.body,
        signal,
        headersTimeout: request.timeoutMs,
        bodyTimeout: request.timeoutMs,
      });
      const chunks: Buffer[] = [];
      let size = 0;
      let truncated = false;
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        if (size + chunk.length > RESPONSE_BODY_CAP) {
          chunks.push(chunk.subarray(0, RESPONSE_BODY_CAP - size));
          truncated = true;
          break;
        }
        chunks.push(chunk);
        size += chunk.length;
      }
      if (truncated) res.body.destroy();
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(res.headers))
        if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
      return result({
        ok: res.statusCode >= 200 && res.statusCode < 300,
        status: res.statusCode,
        headers,
        body: Buffer.concat(chunks).toString('utf8'),
        bodyTruncated: truncated,
        retryAfterSeconds: parseRetryAfter(headers['retry-after'], this.clock.nowMs()),
      });
    } catch (err) {
      const e = err as Error;
      const kind = kindOf(e);
      return result({
        error: kind === 'timeout' ? `no complete answer within ${request.timeoutMs} ms` : e.message,
        errorKind: kind,
      });
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}
