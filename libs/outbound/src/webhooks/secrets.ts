import type { SealedSecret } from '../entities/webhook.entity';

/** A secret signs until its `expires_at` (set on the previous secret by a rotation). */
export function isLive(secret: SealedSecret, now: number): boolean {
  return !secret.expires_at || Date.parse(secret.expires_at) > now;
}

/**
 * The sealing contexts of a webhook's secrets and header values. They still say `subscription` (the table's
 * old name): values sealed under them are stored, and a different context would no longer open them.
 */
export function secretContext(id: string): string {
  return `subscription:${id}`;
}

export function headerContext(id: string, name: string): string {
  return `subscription-header:${id}:${name.toLowerCase()}`;
}
