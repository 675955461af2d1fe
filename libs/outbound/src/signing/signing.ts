import { randomBytes } from 'node:crypto';
import { githubSigner } from './github.signer';
import { hmacHexSigner } from './hmac-hex.signer';
import type { SignOptions, Signer } from './signer';
import { standardWebhooksSigner } from './standard-webhooks.signer';

export * from './signer';

/**
 * How a delivery is signed, by format name: adding one is its file and its entry here. The API's validation
 * and OpenAPI enum follow this list, and the store keeps any name (no CHECK constraint to migrate).
 */
export const SIGNERS = {
  'standard-webhooks': standardWebhooksSigner,
  github: githubSigner,
  'hmac-hex': hmacHexSigner,
} satisfies Readonly<Record<string, Signer>>;

export type SignatureFormat = keyof typeof SIGNERS;
/** The format names, in registry order. */
export const SIGNATURE_FORMATS = Object.keys(SIGNERS) as readonly SignatureFormat[];
/** A webhook's format when it names none. */
export const DEFAULT_SIGNATURE_FORMAT: SignatureFormat = 'standard-webhooks';

/** A new webhook secret: `whsec_` and the base64 of 32 random bytes. */
export function generateSecret(): string {
  return 'whsec_' + randomBytes(32).toString('base64');
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

/** The headers that sign one delivery, in its format (see each format's file). The signature covers exactly `body`, the bytes sent. */
export function signatureHeaders(input: SignInput): Record<string, string> {
  if (!input.secrets.length) throw new Error('a delivery needs at least one secret to sign with');
  const { format, options, ...message } = input;
  return SIGNERS[format].sign({ ...message, options: options ?? {} });
}

/** The names of the headers a format sends with these options (a webhook's custom headers may not use them). */
export function signatureHeaderNames(format: SignatureFormat, options: SignOptions = {}): string[] {
  return SIGNERS[format].headerNames(options);
}
