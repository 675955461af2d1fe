import { randomBytes } from 'node:crypto';
import { hmac, standardWebhooksSignature } from '@hookhub/core';

/** How a delivery is signed. */
export type SignatureFormat = 'standard-webhooks' | 'github' | 'hmac-hex';
export const SIGNATURE_FORMATS: readonly SignatureFormat[] = ['standard-webhooks', 'github', 'hmac-hex'];

/** A new subscription secret: `whsec_` and the base64 of 32 random bytes. */
export function generateSecret(): string {
  return 'whsec_' + randomBytes(32).toString('base64');
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

/**
 * The headers that sign one delivery. The signature covers exactly `body`, the bytes sent.
 *
 * - `standard-webhooks`: `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64>` over
 *   `id.timestamp.body`, one signature per secret, space separated.
 * - `github`: `X-Hub-Signature-256: sha256=<hex>` over the body (the secret's UTF-8 bytes are the key, as on
 *   GitHub), with `<prefix>-Event` and `<prefix>-Delivery`.
 * - `hmac-hex`: `<header>: <hex>` over the body, and `<eventHeader>` when set.
 */
export function signatureHeaders(input: SignInput): Record<string, string> {
  if (!input.secrets.length) throw new Error('a delivery needs at least one secret to sign with');
  const options = input.options ?? {};
  switch (input.format) {
    case 'standard-webhooks': {
      const timestamp = String(input.timestamp);
      const signatures = input.secrets.map((s) => 'v1,' + standardWebhooksSignature(s, input.id, timestamp, input.body));
      return { 'webhook-id': input.id, 'webhook-timestamp': timestamp, 'webhook-signature': signatures.join(' ') };
    }
    case 'github': {
      const prefix = options.headerPrefix ?? 'X-GitHub';
      return {
        'X-Hub-Signature-256': 'sha256=' + hmac('sha256', input.secrets[0], input.body, 'hex'),
        [`${prefix}-Event`]: input.eventType,
        [`${prefix}-Delivery`]: input.id,
      };
    }
    case 'hmac-hex': {
      const headers: Record<string, string> = { [options.header ?? 'X-Signature']: hmac('sha256', input.secrets[0], input.body, 'hex') };
      if (options.eventHeader) headers[options.eventHeader] = input.eventType;
      return headers;
    }
  }
}
