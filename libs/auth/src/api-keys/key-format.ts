import { randomBytes } from 'node:crypto';

/** Keys look like `hk_<8 chars>_<43 chars>`: the first part is the stored, visible prefix. */
const KEY_PATTERN = /^(hk_[A-Za-z0-9]{8})_([A-Za-z0-9_-]{43})$/;
const PREFIX_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** Whether a bearer credential is meant as an API key (rather than a JWT). */
export function looksLikeApiKey(token: string): boolean {
  return token.startsWith('hk_');
}

function randomPrefix(): string {
  const bytes = randomBytes(8);
  return 'hk_' + Array.from(bytes, (b) => PREFIX_ALPHABET[b % PREFIX_ALPHABET.length]).join('');
}

/** A fresh key and its visible prefix (the part stored in clear to find it). */
export function newApiKey(): { prefix: string; key: string } {
  const prefix = randomPrefix();
  return { prefix, key: `${prefix}_${randomBytes(32).toString('base64url')}` };
}

/** The visible prefix of a well-formed key, or null when the key does not have the key format. */
export function visiblePrefixOf(presented: string): string | null {
  const match = KEY_PATTERN.exec(presented);
  return match ? match[1] : null;
}
