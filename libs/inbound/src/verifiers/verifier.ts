import { createHash } from 'node:crypto';
import type { DigestEncoding, HmacAlgorithm } from '@hookhub/core';

/** Scheme settings; each scheme reads the ones it needs. */
export interface VerificationOptions {
  /** hmac / token: the header that carries the signature or token (token default: Authorization Bearer). */
  header?: string;
  /** hmac: digest algorithm (default sha256). */
  algorithm?: HmacAlgorithm;
  /** hmac: digest encoding (default hex). */
  encoding?: DigestEncoding;
  /** hmac: text before the digest in the header, e.g. `sha256=`. */
  prefix?: string;
  /** github: also accept the legacy `X-Hub-Signature: sha1=` when the sha256 header is absent. */
  allow_sha1?: boolean;
}

export interface VerifyInput {
  /** Request headers with lower-case names. */
  headers: Readonly<Record<string, string | undefined>>;
  /** The exact bytes received; this is what is verified. */
  rawBody: Buffer;
  /** Every active secret (several during a rotation). */
  secrets: readonly string[];
  options: VerificationOptions;
  now: Date;
  /** Replay window for schemes with a signed timestamp. */
  toleranceSeconds: number;
}

export type VerifyFailure = 'missing' | 'invalid' | 'expired';
export interface Verified {
  ok: true;
  /** A delivery id the scheme defines (standard-webhooks' webhook-id). */
  deliveryId?: string;
  /**
   * Schemes with a signed timestamp: what the signature covers, without the secret (timestamp, id, body
   * digest). The same value twice within the replay window is an exact replay, refused like a duplicate.
   */
  replayKey?: string;
}
export type VerifyResult = Verified | { ok: false; failure: VerifyFailure; reason: string };

/** What a source of a scheme reads when it names nothing itself. */
export interface SchemeDefaults {
  /** The header (lower-case) that names the event, e.g. `x-github-event`. */
  eventHeader?: string;
  /** The body path that names the event when the source names no event header or field, e.g. `body.type`. */
  eventField?: string;
  /** The body path of the delivery id, for a scheme whose verifier returns none, e.g. `body.id`. */
  dedupField?: string;
}

/**
 * A verification scheme: one file each, one entry in the registry (`VERIFIERS` in index.ts), whose key is the
 * scheme's name. What the rest of the hub needs to know about a scheme is declared here as data.
 */
export interface Verifier {
  /**
   * Every header (lower-case) this scheme reads a signature, token or password from, with these options.
   * A stored receipt never holds their values: a signature kept in clear could be replayed.
   */
  credentialHeaders(options: VerificationOptions): string[];
  /** Whether the scheme needs at least one secret. A scheme that needs none verifies nothing: its sources are flagged `unverified`. */
  readonly needsSecret: boolean;
  /** What is wrong with one secret for this scheme (its shape), or null; absent when any secret will do. */
  secretProblem?(secret: string): string | null;
  /** The event header or field and the delivery id field a source of this scheme reads by default. */
  readonly defaults?: SchemeDefaults;
  verify(input: VerifyInput): VerifyResult;
}

export const ok = (deliveryId?: string, replay?: string): VerifyResult => ({ ok: true, deliveryId, replayKey: replay });
export const missing = (reason: string): VerifyResult => ({ ok: false, failure: 'missing', reason });
export const invalid = (reason: string): VerifyResult => ({ ok: false, failure: 'invalid', reason });
export const expired = (reason: string): VerifyResult => ({ ok: false, failure: 'expired', reason });

/** Checks a signed unix timestamp (seconds) against the replay window. */
export function checkTimestamp(raw: string | undefined, input: VerifyInput, name: string): VerifyResult | number {
  if (raw === undefined || raw === '') return missing(`${name} is missing`);
  if (!/^\d{1,12}$/.test(raw)) return invalid(`${name} is not a unix timestamp`);
  const ts = Number(raw);
  const skew = Math.abs(input.now.getTime() / 1000 - ts);
  if (skew > input.toleranceSeconds) return expired(`${name} is outside the ${input.toleranceSeconds} s replay window`);
  return ts;
}

/** A replay key: the signed parts that are not the body, and the body's SHA-256. */
export function replayKey(parts: readonly string[], body: Buffer): string {
  return `${parts.join('.')}.${createHash('sha256').update(body).digest('hex')}`;
}
