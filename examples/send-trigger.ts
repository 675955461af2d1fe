// Sends a signed trigger to a Hookhub source, in TypeScript that Node runs as is: `node send-trigger.ts`
// (Node 22.18 or later strips the types; no packages, no build step).
import { createHmac, randomUUID } from 'node:crypto';

interface Trigger {
  url: string;
  source: string;
  secret: string;
  event: string;
  body: Buffer;
}

function fromEnv(env: NodeJS.ProcessEnv): Trigger {
  const secret = env.HOOKHUB_SECRET;
  if (!secret) throw new Error("set HOOKHUB_SECRET to the source's secret");
  return {
    url: env.HOOKHUB_URL ?? 'http://localhost:3000',
    source: env.HOOKHUB_SOURCE ?? 'github',
    secret,
    event: env.HOOKHUB_EVENT ?? 'push',
    // The exact bytes that are signed and sent.
    body: Buffer.from(env.HOOKHUB_BODY ?? '{"ref": "refs/heads/main"}'),
  };
}

/** The `github` scheme: `sha256=` and the hex HMAC-SHA256 of the raw body under the source's secret. */
function githubSignature(secret: string, body: Buffer): string {
  return 'sha256=' + createHmac('sha256', secret).update(body).digest('hex');
}

async function send(trigger: Trigger): Promise<{ status: number; text: string }> {
  const res: Response = await fetch(`${trigger.url}/hooks/${trigger.source}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-github-event': trigger.event,
      'x-github-delivery': randomUUID(),
      'x-hub-signature-256': githubSignature(trigger.secret, trigger.body),
    },
    body: trigger.body,
  });
  return { status: res.status, text: await res.text() };
}

const { status, text } = await send(fromEnv(process.env));
console.log(text);
console.log(`status ${status}`);
process.exitCode = status >= 200 && status < 300 ? 0 : 1;
