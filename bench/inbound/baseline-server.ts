/**
 * The inbound benchmark's baseline: a bare Node HTTP server that does the least a trigger receiver must do.
 * It reads the body, verifies the GitHub-style HMAC (`X-Hub-Signature-256`) in constant time, parses the
 * JSON and inserts one row per request (its own commit), then answers 202. No framework, no logging.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import { Pool } from 'pg';

const secret = process.env.BENCH_SECRET ?? '';
const port = Number(process.env.PORT);
const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.BENCH_POOL_SIZE ?? 10) });

async function main(): Promise<void> {
  await pool.query(`CREATE TABLE IF NOT EXISTS baseline_triggers (
    id bigserial PRIMARY KEY, delivery_id text NOT NULL, event text, body jsonb NOT NULL, received_at timestamptz NOT NULL DEFAULT now())`);
  const server = createServer((req, res) => {
    if (req.url === '/ready') {
      res.writeHead(200).end('ok');
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const given = Buffer.from(String(req.headers['x-hub-signature-256'] ?? ''));
      const expected = Buffer.from('sha256=' + createHmac('sha256', secret).update(body).digest('hex'));
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"signature"}');
        return;
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(body.toString('utf8'));
      } catch {
        res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"json"}');
        return;
      }
      pool
        .query('INSERT INTO baseline_triggers (delivery_id, event, body) VALUES ($1, $2, $3) RETURNING id', [
          String(req.headers['x-github-delivery'] ?? ''),
          String(req.headers['x-github-event'] ?? ''),
          parsed,
        ])
        .then((r) =>
          res.writeHead(202, { 'content-type': 'application/json' }).end(JSON.stringify({ id: r.rows[0].id })),
        )
        .catch((err: Error) =>
          res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: err.message })),
        );
    });
  });
  server.keepAliveTimeout = 65_000;
  server.listen(port, '127.0.0.1');
  process.on('SIGTERM', () => {
    server.close();
    void pool.end().then(() => process.exit(0));
  });
}

void main();
