import type { SendResult } from './http-sender';

/** A failed send as the delivery's `last_error`: the status and the start of the body, or why there was no answer. Null when it succeeded. */
export function errorText(result: SendResult): string | null {
  if (result.ok) return null;
  if (result.status !== null) {
    const excerpt = result.body.trim().slice(0, 200);
    return `HTTP ${result.status}${excerpt ? `: ${excerpt}` : ''}`;
  }
  return result.error ?? 'no answer';
}
