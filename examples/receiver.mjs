// Receives Hookhub's deliveries and verifies their Standard Webhooks signature, with node:http and
// node:crypto alone (Node 18 or later, no packages).
//
//   HOOKHUB_WEBHOOK_SECRET=whsec_... PORT=8000 node receiver.mjs
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';

const TOLERANCE_SECONDS = 5 * 60;
const MAX_BODY_BYTES = 1024 * 1024;

const secret = process.env.HOOKHUB_WEBHOOK_SECRET;
if (!secret) throw new Error('set HOOKHUB_WEBHOOK_SECRET to the secret Hookhub returned when the webhook was created');
// A `whsec_` secret's key is the base64 after the prefix; any other secret (set by hand) is its UTF-8 bytes.
const key = secret.startsWith('whsec_') ? Buffer.from(secret.slice(6), 'base64') : Buffer.from(secret, 'utf8');

/** Returns null when the delivery is genuine and fresh, else why not. */
function verify(headers, body) {
  const id = headers['webhook-id'];
  const timestamp = headers['webhook-timestamp'];
  const signatures = headers['webhook-signature'];
  if (typeof id !== 'string' || typeof timestamp !== 'string' || typeof signatures !== 'string') {
    return 'missing webhook-id, webhook-timestamp or webhook-signature';
  }
  if (!/^\d+$/.test(timestamp)) return 'bad webhook-timestamp';
  if (Math.abs(Date.now() / 1000 - Number(timestamp)) > TOLERANCE_SECONDS)
    return 'webhook-timestamp too old or too new';
  const expected = Buffer.from(
    'v1,' + createHmac('sha256', key).update(`${id}.${timestamp}.`).update(body).digest('base64'),
  );
  // During a secret rotation Hookhub sends one `v1,<base64>` per live secret, space separated: any may match.
  // timingSafeEqual compares in constant time (it needs equal lengths; a signature's length is no secret).
  for (const signature of signatures.split(' ').map((s) => Buffer.from(s))) {
    if (signature.length === expected.length && timingSafeEqual(signature, expected)) return null;
  }
  return 'no signature matches';
}

const server = createServer((req, res) => {
  const answer = (status, text = '') => {
    res.writeHead(status, { 'content-type': 'text/plain' });
    res.end(text);
  };
  if (req.method !== 'POST') return answer(405, 'POST only\n');
  const chunks = [];
  let size = 0;
  req.on('data', (chunk) => {
    size += chunk.length;
    if (size <= MAX_BODY_BYTES) chunks.push(chunk);
  });
  req.on('end', () => {
    if (size > MAX_BODY_BYTES) return answer(413, 'too large\n');
    const body = Buffer.concat(chunks); // the raw bytes, exactly as sent: verify them before parsing
    const refused = verify(req.headers, body);
    if (refused) {
      console.error(`refused: ${refused}`);
      return answer(401, 'invalid signature\n');
    }
    let event;
    try {
      event = JSON.parse(body.toString('utf8'));
    } catch {
      return answer(400, 'not JSON\n');
    }
    // Handle the event here. Hookhub retries until it gets a 2xx, so the same webhook-id can arrive twice.
    console.log(`verified ${req.headers['webhook-id']} ${event.type}`);
    answer(204);
  });
});

server.listen(Number(process.env.PORT ?? 8000), process.env.HOST ?? '127.0.0.1', () => {
  const { address, port } = server.address();
  console.log(`listening on http://${address}:${port}`);
});
