import { createHmac, randomBytes } from 'node:crypto';

/** How a delivery is signed. */
export type SignatureFormat = 'standard-webhooks' | 'github' | 'hmac-hex';
export const SIGNATURE_FORMATS: readonly SignatureFormat[] = ['standard-webhooks', 'github', 'hmac-hex'];

const SECRET_PREFIX = 'whsec_';

/** A new subscription secret: `whsec_` and the base64 of 32 random bytes. */
export function generateSecret(): string {
  return SECRET_PREFIX + randomBytes(32).toString('base64');
}

/** The HMAC key of a secret: a `whsec_` secret is base64 (Standard Webhooks); anything else is its UTF-8 bytes. */
export function secretKey(secret: string): Buffer {
  return secret.startsWith(SECRET_PREFIX) ? Buffer.from(secret.slice(SECRET_PREFIX.length), 'base64') : Buffer.from(secret, 'utf8');
}

export interface SignOptions {
  /** github: the prefix of the event and delivery headers (default `X-GitHub`: `X-GitHub-Event`, `X-GitHub-Delivery`). */
  headerPrefix?: string;
  /** hmac-hex: the signature header (default `X-Signature`). */
  header?: string;
  /** hmac-hex: the event header (default: none). */
  eventHeader?: string;
}

export interface SignInput {
  format: SignatureFormat;
  /** The message id (also the delivery id header). */
  id: string;
  /** Seconds since the epoch. */
  timestamp: number;
  /** The exact bytes that are sent. */
  body: Buffer;
  eventType: string;
  /**
   * The active secrets, newest first. standard-webhooks signs with each (receivers accept any); github and
   * hmac-hex carry one signature, so they sign with the first.
   */
  secrets: readonly string[];
  options?: SignOptions;
}

function hmac(algorithm: 'sha256', key: Buffer, parts: ReadonlyArray<Buffer | string>, encoding: 'hex' | 'base64'): string {
  const h = createHmac(algorithm, key);
  for (const part of parts) h.update(part);
  return h.digest(encoding);
}

/**
 * The headers that sign one delivery. The signature covers exactly `body`, the bytes sent.
 *
 * - `standard-webhooks`: `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64>` over
 *   `id.timestamp.body`, one signature per secret, space separated.
 * - `github`: `X-Hub-Signature-256: sha256=<hex>` over the body, with `<prefix>-Event` and `<prefix>-Delivery`.
 * - `hmac-hex`: `<header>: <hex>` over the body, and `<eventHeader>` when set.
 */
export function signatureHeaders(input: SignInput): Record<string, string> {
  if (!input.secrets.length) throw new Error('a delivery needs at least one secret to sign with');
  const options = input.options ?? {};
  switch (input.format) {
    case 'standard-webhooks': {
      const timestamp = String(input.timestamp);
      const signatures = input.secrets.map((s) => 'v1,' + hmac('sha256', secretKey(s), [input.id, '.', timestamp, '.', input.body], 'base64'));
      return { 'webhook-id': input.id, 'webhook-timestamp': timestamp, 'webhook-signature': signatures.join(' ') };
    }
    case 'github': {
      const prefix = options.headerPrefix ?? 'X-GitHub';
      return {
        'X-Hub-Signature-256': 'sha256=' + hmac('sha256', Buffer.from(input.secrets[0], 'utf8'), [input.body], 'hex'),
        [`${prefix}-Event`]: input.eventType,
        [`${prefix}-Delivery`]: input.id,
      };
    }
    case 'hmac-hex': {
      const headers: Record<string, string> = { [options.header ?? 'X-Signature']: hmac('sha256', Buffer.from(input.secrets[0], 'utf8'), [input.body], 'hex') };
      if (options.eventHeader) headers[options.eventHeader] = input.eventType;
      return headers;
    }
  }
}
