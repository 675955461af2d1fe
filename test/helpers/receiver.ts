import { type IncomingHttpHeaders, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  at: number;
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** The raw bytes, as they arrived. */
  raw: Buffer;
  json: { id: string; type: string; timestamp: string; data: Record<string, unknown> } & Record<string, unknown>;
}

/**
 * How the receiver answers request number `n` (1-based): status, headers, body, or hang (never answer).
 * `until`: answer only once this settles (then after `delayMs`, if any).
 */
export type Answer = {
  status?: number;
  headers?: Record<string, string>;
  body?: string;
  delayMs?: number;
  hang?: boolean;
  until?: Promise<unknown>;
};

/** A real HTTP receiver on 127.0.0.1 that records every request and answers as told. */
export class Receiver {
  readonly received: Received[] = [];
  private server!: Server;
  private readonly hanging = new Set<ServerResponse>();
  private waiters: Array<() => void> = [];

  constructor(private answer: (n: number, req: Received) => Answer = () => ({ status: 200, body: 'ok' })) {}

  static async start(answer?: (n: number, req: Received) => Answer): Promise<Receiver> {
    const r = new Receiver(answer);
    r.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks);
        let json: Received['json'];
        try {
          json = JSON.parse(raw.toString('utf8')) as Received['json'];
        } catch {
          json = {} as Received['json'];
        }
        const entry: Received = {
          at: Date.now(),
          method: req.method ?? '',
          path: req.url ?? '',
          headers: req.headers,
          raw,
          json,
        };
        r.received.push(entry);
        const a = r.answer(r.received.length, entry);
        r.waiters.forEach((w) => w());
        if (a.hang) {
          r.hanging.add(res);
          return;
        }
        const send = () => {
          res.writeHead(a.status ?? 200, { 'content-type': 'text/plain', ...(a.headers ?? {}) });
          res.end(a.body ?? '');
        };
        const later = () => (a.delayMs ? setTimeout(send, a.delayMs) : send());
        if (a.until) void a.until.then(later, later);
        else later();
      });
    });
    await new Promise<void>((resolve) => r.server.listen(0, '127.0.0.1', resolve));
    return r;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  respond(answer: (n: number, req: Received) => Answer): void {
    this.answer = answer;
  }

  /** Waits until at least `count` requests arrived (or throws after `timeoutMs`). */
  async waitFor(count: number, timeoutMs = 20_000): Promise<Received[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.received.length < count) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`expected ${count} requests, got ${this.received.length}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      this.waiters = [];
    }
    return this.received;
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Polls `check` until it returns a value that is not undefined (or throws after `timeoutMs`). */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  timeoutMs = 20_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
