/** Settings of a signature format; each format reads the ones it needs. */
export interface SignOptions {
  /** github: the prefix of the event and delivery headers (default `X-GitHub`: `X-GitHub-Event`, `X-GitHub-Delivery`). */
  headerPrefix?: string;
  /** hmac-hex: the signature header (default `X-Signature`). */
  header?: string;
  /** hmac-hex: the event header (default: none). */
  eventHeader?: string;
}

/** One delivery to sign. */
export interface SignedMessage {
  /** The message id (also the delivery id header). */
  id: string;
  /** Seconds since the epoch. */
  timestamp: number;
  /** The exact bytes that are sent. */
  body: Buffer;
  eventType: string;
  /** The active secrets, newest first; at least one. */
  secrets: readonly string[];
  options: SignOptions;
}

/**
 * A signature format: one file each, one entry in the registry (`SIGNERS` in signing.ts), whose key is the
 * format's name. The header names are declared as data, so a webhook's custom headers are checked
 * against them without signing anything.
 */
export interface Signer {
  /** The names of the headers `sign` returns with these options, spelled as sent. */
  headerNames(options: SignOptions): string[];
  /** Why `secret` cannot sign in this format, or null (any secret can, when absent). */
  secretProblem?(secret: string): string | null;
  /** The headers that sign one delivery. The signature covers exactly `message.body`, the bytes sent. */
  sign(message: SignedMessage): Record<string, string>;
}
