import { randomUUID } from 'node:crypto';
import { digestEqual, hmac, standardWebhooksSignature } from '@hookhub/core/crypto/hmac';
import { CliError, EXIT } from './cli-error';

/** What `hookhub sign` and `send` sign with: the scheme's secret and options. */
export interface SignInput {
  scheme: string;
  secret: string;
  body: Buffer;
  /** Seconds since the epoch (default now). */
  timestamp?: number;
  /** hmac: header, algorithm, encoding, prefix; token: header. */
  header?: string;
  algorithm?: 'sha1' | 'sha256' | 'sha512';
  encoding?: 'hex' | 'base64';
  prefix?: string;
  /** Sent as the event header of schemes that have one (github, gitlab). */
  event?: string;
  /** The message id of schemes that sign one (standard-webhooks). */
  id?: string;
}

/**
 * The headers a sender of each inbound scheme sends, as that sender signs (the same formats the hub's
 * verifiers check; see README, "Receiving triggers"). For testing senders and for `hookhub send`.
 */
const SIGNERS: Record<string, (input: SignInput, now: number) => Record<string, string>> = {
  github: (i) => ({
    'X-Hub-Signature-256': `sha256=${hmac('sha256', i.secret, i.body, 'hex')}`,
    'X-GitHub-Event': i.event ?? 'push',
    'X-GitHub-Delivery': i.id ?? randomUUID(),
  }),
  gitlab: (i) => ({ 'X-Gitlab-Token': i.secret, 'X-Gitlab-Event': i.event ?? 'Push Hook' }),
  stripe: (i, now) => ({
    'Stripe-Signature': `t=${now},v1=${hmac('sha256', i.secret, Buffer.concat([Buffer.from(`${now}.`), i.body]), 'hex')}`,
  }),
  slack: (i, now) => ({
    'X-Slack-Request-Timestamp': String(now),
    'X-Slack-Signature': `v0=${hmac('sha256', i.secret, Buffer.concat([Buffer.from(`v0:${now}:`), i.body]), 'hex')}`,
  }),
  shopify: (i) => ({ 'X-Shopify-Hmac-Sha256': hmac('sha256', i.secret, i.body, 'base64') }),
  'standard-webhooks': (i, now) => {
    const id = i.id ?? `msg_${randomUUID()}`;
    return {
      'webhook-id': id,
      'webhook-timestamp': String(now),
      'webhook-signature': `v1,${standardWebhooksSignature(i.secret, id, String(now), i.body)}`,
    };
  },
  hmac: (i) => ({
    [i.header ?? 'X-Signature']:
      `${i.prefix ?? ''}${hmac(i.algorithm ?? 'sha256', i.secret, i.body, i.encoding ?? 'hex')}`,
  }),
  token: (i) => (i.header ? { [i.header]: i.secret } : { Authorization: `Bearer ${i.secret}` }),
  basic: (i) => ({ Authorization: `Basic ${Buffer.from(i.secret).toString('base64')}` }),
  none: () => ({}),
};

export const SIGN_SCHEMES = Object.keys(SIGNERS);

export function signHeaders(input: SignInput): Record<string, string> {
  const signer = SIGNERS[input.scheme];
  if (!signer) throw new CliError(`unknown scheme ${input.scheme}; one of ${SIGN_SCHEMES.join(', ')}`, EXIT.usage);
  if (input.scheme === 'basic' && !input.secret.includes(':'))
    throw new CliError('a basic secret is user:password', EXIT.usage);
  return signer(input, input.timestamp ?? Math.floor(Date.now() / 1000));
}

/** Headers by lower-case name. */
export function lowerHeaders(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}

export interface VerifyResult {
  valid: boolean;
  format: string;
  reason: string;
}

/**
 * Checks a delivery Hookhub sent (its headers and exact body) against a webhook's secret, in the format its
 * headers show: Standard Webhooks (any of the `v1,` signatures; the timestamp within `toleranceSeconds`),
 * github (`X-Hub-Signature-256`) or hmac-hex (`header`, default `X-Signature`).
 */
export function verifyDelivery(
  rawHeaders: Record<string, string>,
  body: Buffer,
  secret: string,
  options: { header?: string; toleranceSeconds?: number; now?: number } = {},
): VerifyResult {
  const headers = lowerHeaders(rawHeaders);
  const now = options.now ?? Math.floor(Date.now() / 1000);
  if (headers['webhook-signature'] !== undefined) {
    const id = headers['webhook-id'];
    const timestamp = headers['webhook-timestamp'];
    if (!id || !timestamp)
      return { valid: false, format: 'standard-webhooks', reason: 'webhook-id and webhook-timestamp are required' };
    const tolerance = options.toleranceSeconds ?? 300;
    if (!/^\d+$/.test(timestamp) || Math.abs(now - Number(timestamp)) > tolerance)
      return {
        valid: false,
        format: 'standard-webhooks',
        reason: `webhook-timestamp ${timestamp} is more than ${tolerance} s from now`,
      };
    const expected = standardWebhooksSignature(secret, id, timestamp, body);
    const match = headers['webhook-signature']
      .split(' ')
      .some((s) => s.startsWith('v1,') && digestEqual(s.slice(3), expected));
    return match
      ? { valid: true, format: 'standard-webhooks', reason: 'a v1 signature matches' }
      : { valid: false, format: 'standard-webhooks', reason: 'no v1 signature matches this secret and body' };
  }
  if (headers['x-hub-signature-256'] !== undefined) {
    const match = digestEqual(headers['x-hub-signature-256'], `sha256=${hmac('sha256', secret, body, 'hex')}`);
    return match
      ? { valid: true, format: 'github', reason: 'X-Hub-Signature-256 matches' }
      : { valid: false, format: 'github', reason: 'X-Hub-Signature-256 does not match this secret and body' };
  }
  const name = (options.header ?? 'X-Signature').toLowerCase();
  if (headers[name] !== undefined) {
    const match = digestEqual(headers[name], hmac('sha256', secret, body, 'hex'));
    return match
      ? { valid: true, format: 'hmac-hex', reason: `${name} matches` }
      : { valid: false, format: 'hmac-hex', reason: `${name} does not match this secret and body` };
  }
  return {
    valid: false,
    format: 'unknown',
    reason: 'no signature header (webhook-signature, X-Hub-Signature-256, or --header)',
  };
}
