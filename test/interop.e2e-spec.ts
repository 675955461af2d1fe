import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { Webhook as StandardWebhook, WebhookVerificationError } from 'standardwebhooks';
import Stripe from 'stripe';
import { Webhook as SvixWebhook } from 'svix';
// Types only, by path: tsconfig.json resolves modules the node10 way, which reads no package.json `exports`, and
// this ESM-only package declares its types nowhere else. The module itself is loaded by name at run time, where
// Jest does read `exports` (see beforeAll).
import type * as OctokitMethods from '../node_modules/@octokit/webhooks-methods/dist-types/index';
import { type Reply, type TestApp, bootApp } from './helpers/app';
import { type ReceiptView, create, expectRefused } from './helpers/inbound';
import { type Received, Receiver } from './helpers/receiver';

/** A variable, so that tsc (node10 resolution) does not look the package up; Jest resolves it as Node does. */
const OCTOKIT_METHODS = '@octokit/webhooks-methods';

/** A new Standard Webhooks secret, as the spec writes it: `whsec_` and the base64 of random bytes. */
const whsec = (): string => 'whsec_' + randomBytes(32).toString('base64');

/** The headers a receiver got, one string each (what the libraries take). */
function flatHeaders(received: Received): Record<string, string> {
  return Object.fromEntries(
    Object.entries(received.headers).map(([name, value]) => [name, Array.isArray(value) ? value.join(', ') : value!]),
  );
}

/**
 * The delivered body with one byte changed inside the event's data, so that it is still JSON of the same
 * length and only the signature can tell it apart.
 */
function tamper(raw: Buffer): Buffer {
  const copy = Buffer.from(raw);
  const at = copy.indexOf('"amount":') + '"amount":'.length;
  if (at < '"amount":'.length) throw new Error(`no amount to tamper with in ${raw.toString('utf8')}`);
  copy[at] = copy[at] === 0x39 ? 0x38 : copy[at] + 1;
  return copy;
}

/**
 * Hookhub against the ecosystem's own webhook libraries, over real HTTP: what Hookhub signs must verify
 * with the library a receiver would use (and fail with a wrong secret or a changed body), and what a
 * sender's library signs must be accepted by a source of that scheme (and refused with a wrong secret).
 * No signature is computed by hand here except Slack's, whose SDK is not a dependency.
 */
describe('interoperability with the webhook libraries of the ecosystem (e2e)', () => {
  let t: TestApp;
  let admin: string;
  let octokit: typeof OctokitMethods;
  const receivers: Receiver[] = [];

  beforeAll(async () => {
    octokit = (await import(OCTOKIT_METHODS)) as typeof OctokitMethods;
    t = await bootApp({ HOOKHUB_OUTBOUND_ALLOW: '127.0.0.1/32', HOOKHUB_QUEUE_POLL_MS: '100' });
    admin = await t.login();
  });
  afterAll(async () => {
    await Promise.all(receivers.map((r) => r.close()));
    await t?.close();
  });

  describe('outbound: deliveries verify with the receivers’ libraries', () => {
    interface Delivered {
      webhookId: string;
      secret: string;
      received: Received;
    }

    /**
     * Creates a webhook of `format` to a new receiver, subscribed to an event type of its own (so no other
     * test's event reaches it), publishes one event and returns the request the receiver got. The data holds
     * non-ASCII text, so a library that mixes up bytes and strings would fail to verify.
     */
    const deliverOne = async (
      format: 'standard-webhooks' | 'github',
      extra: Record<string, unknown> = {},
    ): Promise<Delivered> => {
      const receiver = await Receiver.start();
      receivers.push(receiver);
      const type = `interop.${format.replace(/[^a-z]/g, '')}${randomBytes(4).toString('hex')}`;
      const webhook = await create<{ id: string; secret: string }>(t, admin, '/api/webhooks', {
        url: `${receiver.url}/hook`,
        events: [type],
        signature_format: format,
        retry_enabled: false,
        ...extra,
      });
      const published = await t.request({
        method: 'POST',
        url: '/api/events',
        token: admin,
        body: { type, data: { amount: 4200, currency: 'eur', note: 'café ✓ 🚀 «naïve»' } },
      });
      expect(published.statusCode).toBe(202);
      const [received] = await receiver.waitFor(1);
      expect(received.json).toMatchObject({ type, data: { note: 'café ✓ 🚀 «naïve»' } });
      return { webhookId: webhook.id, secret: webhook.secret, received };
    };

    it('generates a whsec_ secret of 32 base64 bytes, which the standardwebhooks library accepts as a key', async () => {
      const { secret } = await create<{ secret: string; signature_format: string }>(t, admin, '/api/webhooks', {
        url: 'http://127.0.0.1:9/never-called',
        events: ['interop.unused'],
      });
      expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
      expect(Buffer.from(secret.slice('whsec_'.length), 'base64')).toHaveLength(32);
      expect(() => new StandardWebhook(secret)).not.toThrow();
    });

    it('signs standard-webhooks deliveries that standardwebhooks Webhook.verify accepts, and refuses with another secret or a changed body', async () => {
      const { secret, received } = await deliverOne('standard-webhooks');
      const headers = flatHeaders(received);

      // verify parses the JSON it verified: the library hands back exactly the event that was sent.
      expect(new StandardWebhook(secret).verify(received.raw, headers)).toEqual(received.json);
      // The signature, not a missing header or a stale timestamp, is what fails below.
      expect(() => new StandardWebhook(whsec()).verify(received.raw, headers)).toThrow(
        new WebhookVerificationError('No matching signature found'),
      );
      expect(() => new StandardWebhook(secret).verify(tamper(received.raw), headers)).toThrow(
        new WebhookVerificationError('No matching signature found'),
      );
      expect(() =>
        new StandardWebhook(secret).verify(received.raw, { ...headers, 'webhook-id': `${headers['webhook-id']}x` }),
      ).toThrow(new WebhookVerificationError('No matching signature found'));
    });

    it('signs standard-webhooks deliveries that svix Webhook.verify accepts, and refuses with another secret or a changed body', async () => {
      const { secret, received } = await deliverOne('standard-webhooks');
      const headers = flatHeaders(received);

      // svix reads the svix-* headers and falls back to the webhook-* ones Hookhub sends; it returns nothing.
      expect(new SvixWebhook(secret).verify(received.raw, headers)).toBeUndefined();
      expect(() => new SvixWebhook(whsec()).verify(received.raw, headers)).toThrow('No matching signature found');
      expect(() => new SvixWebhook(secret).verify(tamper(received.raw), headers)).toThrow(
        'No matching signature found',
      );
    });

    it('signs with a whsec_ secret given at creation so that both libraries verify with it', async () => {
      const given = whsec();
      const { secret, received } = await deliverOne('standard-webhooks', { secret: given });
      expect(secret).toBe(given);
      const headers = flatHeaders(received);
      expect(new StandardWebhook(given).verify(received.raw, headers)).toEqual(received.json);
      expect(new SvixWebhook(given).verify(received.raw, headers)).toBeUndefined();
    });

    it('refuses a standard-webhooks secret the libraries would read another way, at creation, rotation and on a source', async () => {
      // Unprefixed base64 (the libraries decode it; Hookhub would have used its text), plain text (the libraries
      // cannot build a verifier from it), base64url after whsec_, and too few bytes.
      const refused = [
        Buffer.from('thirty-two bytes of key material').toString('base64'),
        'my-plain-secret-1234',
        'whsec_' + Buffer.alloc(32, 0xfb).toString('base64url'),
        'whsec_' + Buffer.from('8 bytes!').toString('base64'),
      ];
      const webhook = await create<{ id: string }>(t, admin, '/api/webhooks', {
        url: 'http://127.0.0.1:9/never-called',
        events: ['interop.unused'],
      });
      for (const secret of refused) {
        const asked = [
          {
            method: 'POST' as const,
            url: '/api/webhooks',
            body: { url: 'http://127.0.0.1:9/x', events: ['a'], secret },
          },
          { method: 'POST' as const, url: `/api/webhooks/${webhook.id}/secret/rotate`, body: { secret } },
          {
            method: 'POST' as const,
            url: '/api/sources',
            body: { slug: 'interop-refused', scheme: 'standard-webhooks', secrets: [secret] },
          },
        ];
        for (const { method, url, body } of asked) {
          const res = await t.request<{ code: string; details: Array<{ field: string; errors: string[] }> }>({
            method,
            url,
            token: admin,
            body,
          });
          expect(res.statusCode).toBe(400);
          expect(res.json.details[0].errors[0]).toContain('whsec_ followed by the base64 of 16 to 64 bytes');
        }
      }
      // The same secrets sign fine in the github format, which uses a secret's text as the key.
      await create(t, admin, '/api/webhooks', {
        url: 'http://127.0.0.1:9/x',
        events: ['a'],
        signature_format: 'github',
        secret: refused[1],
      });
    });

    it('during a rotation, signs so that the libraries verify with the new secret and with the previous one', async () => {
      const receiver = await Receiver.start();
      receivers.push(receiver);
      const type = `interop.rotation${randomBytes(4).toString('hex')}`;
      const webhook = await create<{ id: string; secret: string }>(t, admin, '/api/webhooks', {
        url: `${receiver.url}/hook`,
        events: [type],
        signature_format: 'standard-webhooks',
        retry_enabled: false,
      });
      const rotated = await t.request<{ secret: string }>({
        method: 'POST',
        url: `/api/webhooks/${webhook.id}/secret/rotate`,
        token: admin,
        body: { grace_seconds: 3600 },
      });
      expect(rotated.statusCode).toBe(200);
      const published = await t.request({
        method: 'POST',
        url: '/api/events',
        token: admin,
        body: { type, data: { amount: 1 } },
      });
      expect(published.statusCode).toBe(202);
      const [received] = await receiver.waitFor(1);
      const headers = flatHeaders(received);

      // Two space-separated signatures; a receiver that still holds either secret accepts the delivery.
      expect(headers['webhook-signature'].split(' ')).toHaveLength(2);
      for (const secret of [rotated.json.secret, webhook.secret]) {
        expect(new StandardWebhook(secret).verify(received.raw, headers)).toEqual(received.json);
        expect(new SvixWebhook(secret).verify(received.raw, headers)).toBeUndefined();
      }
      expect(() => new StandardWebhook(whsec()).verify(received.raw, headers)).toThrow(WebhookVerificationError);
    });

    it('signs github deliveries that @octokit/webhooks-methods verify accepts, and not with another secret or a changed body', async () => {
      const { secret, received } = await deliverOne('github');
      const signature = flatHeaders(received)['x-hub-signature-256'];
      // The library takes the payload as a string: the UTF-8 text of the bytes received.
      const payload = received.raw.toString('utf8');

      expect(signature).toMatch(/^sha256=[0-9a-f]{64}$/);
      expect(received.headers['x-github-event']).toBe(received.json.type);
      expect(await octokit.verify(secret, payload, signature)).toBe(true);
      expect(await octokit.verify(whsec(), payload, signature)).toBe(false);
      expect(await octokit.verify(secret, tamper(received.raw).toString('utf8'), signature)).toBe(false);
    });
  });

  describe('inbound: triggers signed by the senders’ libraries are verified by the sources', () => {
    interface HookAnswer {
      receipt_id: string;
      matched: boolean;
      duplicate?: boolean;
      code: string;
    }

    const source = async (body: Record<string, unknown>): Promise<{ id: string; slug: string }> =>
      create<{ id: string; slug: string }>(t, admin, '/api/sources', body);

    type Send = () => Promise<Reply<HookAnswer>>;

    const hook =
      (slug: string, headers: Record<string, string>, payload: string): Send =>
      () =>
        t.request<HookAnswer>({ method: 'POST', url: `/hooks/${slug}`, headers, payload });

    /**
     * Sends a trigger that must be accepted: 202, and a stored receipt for it that passed verification
     * (`unmatched`: the sources have no rules, so nothing runs, but nothing was refused either).
     */
    const expectAccepted = async (sourceId: string, send: Send): Promise<ReceiptView> => {
      const res = await send();
      expect({ status: res.statusCode, body: res.json }).toMatchObject({ status: 202, body: { matched: false } });
      expect(res.json.duplicate).toBeUndefined();
      const listed = await t.request<{ items: ReceiptView[] }>({
        url: `/api/receipts?source_id=${sourceId}&limit=100`,
        token: admin,
      });
      expect(listed.statusCode).toBe(200);
      const receipt = listed.json.items.find((r) => r.id === res.json.receipt_id);
      expect(receipt).toMatchObject({ source_id: sourceId, verdict: 'unmatched', status_code: 202, reason: null });
      return receipt!;
    };

    it('accepts a Stripe event signed by stripe’s generateTestHeaderString, and refuses another secret with 401', async () => {
      // Stripe's secrets start with whsec_ too, but unlike Standard Webhooks the whole string is the HMAC key.
      const secret = 'whsec_' + randomBytes(24).toString('hex');
      const { id, slug } = await source({ slug: 'interop-stripe', scheme: 'stripe', secrets: [secret] });
      const event = { id: `evt_${randomBytes(12).toString('hex')}`, object: 'event', type: 'payment_intent.succeeded' };
      const payload = JSON.stringify({ ...event, api_version: '2026-01-28', data: { object: { amount: 4200 } } });
      const send = (signedWith: string) =>
        hook(
          slug,
          {
            'content-type': 'application/json',
            'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload, secret: signedWith }),
          },
          payload,
        );

      await expectRefused(t, admin, send('whsec_' + randomBytes(24).toString('hex')), {
        status: 401,
        code: 'signature_invalid',
        sourceId: id,
      });
      const receipt = await expectAccepted(id, send(secret));
      // Stripe's event type and id are what the scheme reads by default.
      expect(receipt).toMatchObject({ event: event.type, delivery_id: event.id });
    });

    it('accepts a GitHub push signed by @octokit/webhooks-methods sign, and refuses another secret with 401', async () => {
      const secret = randomBytes(20).toString('hex');
      const { id, slug } = await source({ slug: 'interop-github', scheme: 'github', secrets: [secret] });
      const payload = JSON.stringify({ ref: 'refs/heads/main', repository: { full_name: 'acme/café' } });
      const delivery = randomUUID();
      // The library signs asynchronously, so the request is signed when it is sent.
      const send =
        (signedWith: string): Send =>
        async () =>
          hook(
            slug,
            {
              'content-type': 'application/json',
              'x-github-event': 'push',
              'x-github-delivery': delivery,
              'x-hub-signature-256': await octokit.sign(signedWith, payload),
            },
            payload,
          )();

      await expectRefused(t, admin, send(randomBytes(20).toString('hex')), {
        status: 401,
        code: 'signature_invalid',
        sourceId: id,
      });
      const receipt = await expectAccepted(id, send(secret));
      expect(receipt).toMatchObject({ event: 'push', delivery_id: delivery });
    });

    it('accepts a trigger signed by standardwebhooks Webhook.sign with the webhook-* headers, and refuses another secret with 401', async () => {
      const secret = whsec();
      const { id, slug } = await source({ slug: 'interop-standard', scheme: 'standard-webhooks', secrets: [secret] });
      const msgId = `msg_${randomBytes(12).toString('hex')}`;
      const payload = JSON.stringify({
        type: 'invoice.paid',
        timestamp: new Date().toISOString(),
        data: { amount: 1 },
      });
      const send = (signedWith: string) => {
        // The library signs the whole seconds of the date it is given; the header must carry the same.
        const now = new Date();
        return hook(
          slug,
          {
            'content-type': 'application/json',
            'webhook-id': msgId,
            'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
            'webhook-signature': new StandardWebhook(signedWith).sign(msgId, now, payload),
          },
          payload,
        );
      };

      await expectRefused(t, admin, send(whsec()), { status: 401, code: 'signature_invalid', sourceId: id });
      const receipt = await expectAccepted(id, send(secret));
      expect(receipt).toMatchObject({ event: 'invoice.paid', delivery_id: msgId });
    });

    describe('Slack, signed as Slack documents it (node:crypto: Slack’s SDK is not a dependency)', () => {
      /** https://api.slack.com/authentication/verifying-requests-from-slack: v0=hex HMAC-SHA256 of `v0:{timestamp}:{body}`. */
      const slackHeaders = (signingSecret: string, body: string, contentType: string): Record<string, string> => {
        const timestamp = String(Math.floor(Date.now() / 1000));
        const signature = 'v0=' + createHmac('sha256', signingSecret).update(`v0:${timestamp}:${body}`).digest('hex');
        return {
          'content-type': contentType,
          'x-slack-request-timestamp': timestamp,
          'x-slack-signature': signature,
        };
      };
      const signingSecret = randomBytes(16).toString('hex');
      let sourceId: string;
      let slug: string;

      beforeAll(async () => {
        // Slash commands come form-encoded, the Events API as JSON: the source takes both.
        ({ id: sourceId, slug } = await source({
          slug: 'interop-slack',
          scheme: 'slack',
          secrets: [signingSecret],
          content_types: ['application/x-www-form-urlencoded', 'application/json'],
        }));
      });

      it('accepts a form-encoded slash command, and refuses one signed with another secret with 401', async () => {
        const body = new URLSearchParams({
          token: 'gIkuvaNzQIHg97ATvDxqgjtO',
          team_id: 'T0001',
          team_domain: 'example',
          channel_id: 'C2147483705',
          channel_name: 'test',
          user_id: 'U2147483697',
          user_name: 'Steve',
          command: '/deploy',
          text: 'api to production «now»',
          response_url: 'https://hooks.slack.com/commands/1234/5678',
          trigger_id: '13345224609.738474920.8088930838d88f008e0',
        }).toString();
        const form = 'application/x-www-form-urlencoded';

        await expectRefused(t, admin, hook(slug, slackHeaders(randomBytes(16).toString('hex'), body, form), body), {
          status: 401,
          code: 'signature_invalid',
          sourceId,
        });
        await expectAccepted(sourceId, hook(slug, slackHeaders(signingSecret, body, form), body));
      });

      it('accepts an Events API callback sent as JSON, and refuses one signed with another secret with 401', async () => {
        const eventId = `Ev${randomBytes(6).toString('hex').toUpperCase()}`;
        const body = JSON.stringify({
          token: 'XXYYZZ',
          team_id: 'T0001',
          api_app_id: 'A0001',
          event: { type: 'app_mention', user: 'U2147483697', text: '<@U0LAN0Z89> deploy', channel: 'C2147483705' },
          type: 'event_callback',
          event_id: eventId,
          event_time: Math.floor(Date.now() / 1000),
        });
        const json = 'application/json';

        await expectRefused(t, admin, hook(slug, slackHeaders(randomBytes(16).toString('hex'), body, json), body), {
          status: 401,
          code: 'signature_invalid',
          sourceId,
        });
        const receipt = await expectAccepted(sourceId, hook(slug, slackHeaders(signingSecret, body, json), body));
        expect(receipt).toMatchObject({ event: 'event_callback', delivery_id: eventId });
      });
    });
  });
});
