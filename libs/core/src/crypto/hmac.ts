import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export type HmacAlgorithm = 'sha1' | 'sha256' | 'sha512';
export type DigestEncoding = 'hex' | 'base64';

export function hmac(
  algorithm: HmacAlgorithm,
  key: string | Buffer,
  data: string | Buffer,
  encoding: DigestEncoding,
): string {
  return createHmac(algorithm, key).update(data).digest(encoding);
}

export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * Constant-time string comparison. Both sides are hashed first so inputs of different lengths take the
 * same time and never throw.
 */
export function constantTimeEqual(a: string | Buffer, b: string | Buffer): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

/**
 * Constant-time comparison of a presented signature with the expected one. The expected value's length is
 * public (a digest's, in a known encoding), so a presented value of another length is refused at once; equal
 * lengths are compared in constant time. For secrets whose length is itself secret (tokens, passwords), use
 * {@link constantTimeEqual}.
 */
export function digestEqual(presented: string, expected: string): boolean {
  const a = Buffer.from(presented);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

const WHSEC = 'whsec_';

/**
 * Why `secret` cannot be a Standard Webhooks secret, or null. The standardwebhooks and svix libraries read a
 * secret as base64 (after `whsec_`), so only `whsec_` and standard base64 of 16 to 64 bytes signs and verifies
 * the same on both sides; anything else would be read one way here and another way there.
 */
export function standardWebhooksSecretProblem(secret: string): string | null {
  const ok =
    /^whsec_[A-Za-z0-9+/]+={0,2}$/.test(secret) &&
    (secret.length - WHSEC.length) % 4 === 0 &&
    standardWebhooksKey(secret).length >= 16 &&
    standardWebhooksKey(secret).length <= 64;
  return ok
    ? null
    : 'a Standard Webhooks secret is whsec_ followed by the base64 of 16 to 64 bytes, as its libraries read it';
}

/** The key of a `whsec_<base64>` secret (Standard Webhooks); any other secret is its UTF-8 bytes. */
export function standardWebhooksKey(secret: string): Buffer {
  return secret.startsWith(WHSEC) ? Buffer.from(secret.slice(WHSEC.length), 'base64') : Buffer.from(secret, 'utf8');
}

/** A Standard Webhooks signature (base64, without `v1,`): HMAC-SHA256 of `<id>.<timestamp>.<body>` under the secret's key. */
export function standardWebhooksSignature(secret: string, id: string, timestamp: string, body: Buffer): string {
  return createHmac('sha256', standardWebhooksKey(secret)).update(`${id}.${timestamp}.`).update(body).digest('base64');
}

/** A URL-safe random token with `bytes` of entropy. */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}
