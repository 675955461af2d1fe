// Sends a signed trigger to a Hookhub source with Node's fetch and crypto (no packages).
import { createHmac, randomUUID } from 'node:crypto';

const url = process.env.HOOKHUB_URL ?? 'http://localhost:3000';
const source = process.env.HOOKHUB_SOURCE ?? 'github';
const secret = process.env.HOOKHUB_SECRET;
if (!secret) throw new Error("set HOOKHUB_SECRET to the source's secret");
const body = Buffer.from(process.env.HOOKHUB_BODY ?? '{"ref": "refs/heads/main"}');

const res = await fetch(`${url}/hooks/${source}`, {
  method: 'POST',
  headers: {
    'content-type': 'application/json',
    'x-github-event': process.env.HOOKHUB_EVENT ?? 'push',
    'x-github-delivery': randomUUID(),
    'x-hub-signature-256': 'sha256=' + createHmac('sha256', secret).update(body).digest('hex'),
  },
  body,
});
console.log(await res.text());
console.log(`status ${res.status}`);
process.exitCode = res.ok ? 0 : 1;
