/**
 * The outbound benchmark's receiver: a bare Node HTTP server standing in for the webhooks' endpoints, used by
 * the hub and the baseline alike. For every POST it notes when the request arrived (a wall clock with
 * sub-millisecond resolution, comparable with the benchmark process's), reads the body, verifies the
 * Standard Webhooks signature with BENCH_SECRET in constant time and answers 200.
 *
 * `GET /_stats` gives the counts (received, bad signatures, repeats of a path + webhook-id already seen);
 * `GET /_receipts` gives `[path, webhook-id, arrival ms]` per request; `POST /_reset` forgets everything.
 * Requests to paths under `/hold` are counted when their body is read but not answered until `POST /_release`
 * (an endpoint that hangs, to keep a webhook at its in-flight limit); after it they are answered at once.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';

const port = Number(process.env.PORT);
const key = Buffer.from((process.env.BENCH_SECRET ?? '').replace(/^whsec_/, ''), 'base64');
const now = (): number => performance.timeOrigin + performance.now();

let receipts: [string, string, number][] = [];
let seen = new Set<string>();
let bad = 0;
let repeats = 0;
/** The answers held back (paths under /hold), until /_release. */
let held: Array<() => void> | null = [];

function verified(id: string, timestamp: string, body: Buffer, header: string): boolean {
  const expected = Buffer.from(createHmac('sha256', key).update(`${id}.${timestamp}.`).update(body).digest('base64'));
  return header.split(' ').some((entry) => {
    const given = Buffer.from(entry.startsWith('v1,') ? entry.slice(3) : '');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}

const server = createServer((req, res) => {
  const arrived = now();
  const path = req.url ?? '/';
  if (req.method === 'GET' && path === '/_ready') {
    res.writeHead(200).end('ok');
    return;
  }
  if (req.method === 'GET' && path === '/_stats') {
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ received: receipts.length, bad, repeats }));
    return;
  }
  if (req.method === 'GET' && path === '/_receipts') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(receipts));
    return;
  }
  if (req.method === 'POST' && path === '/_reset') {
    receipts = [];
    seen = new Set();
    bad = repeats = 0;
    held = [];
    res.writeHead(204).end();
    return;
  }
  if (req.method === 'POST' && path === '/_release') {
    const answers = held ?? [];
    held = null;
    for (const answer of answers) answer();
    res.writeHead(204).end();
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const id = String(req.headers['webhook-id'] ?? '');
    if (
      !verified(
        id,
        String(req.headers['webhook-timestamp'] ?? ''),
        Buffer.concat(chunks),
        String(req.headers['webhook-signature'] ?? ''),
      )
    )
      bad++;
    const seenKey = `${path} ${id}`;
    if (seen.has(seenKey)) repeats++;
    else seen.add(seenKey);
    receipts.push([path, id, arrived]);
    const answer = (): void => void res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    if (held && path.startsWith('/hold')) held.push(answer);
    else answer();
  });
});
server.keepAliveTimeout = 65_000;
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
