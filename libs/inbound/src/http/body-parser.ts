/** The start of the message for a JSON body that does not parse. */
export const MALFORMED_BODY = 'Malformed JSON body';

export class BodyParseError extends Error {}

/** Parses a body by content type: JSON (throws BodyParseError when malformed), form fields, or text. */
export function parseBody(raw: Buffer, contentType: string | undefined): unknown {
  const type = (contentType ?? '').split(';')[0].trim().toLowerCase();
  if (raw.length === 0) return {};
  if (type === 'application/json' || type.endsWith('+json')) {
    try {
      return JSON.parse(raw.toString('utf8')) as unknown;
    } catch (err) {
      throw new BodyParseError(`${MALFORMED_BODY}: ${(err as Error).message}`);
    }
  }
  if (type === 'application/x-www-form-urlencoded') {
    const fields: Record<string, string> = Object.create(null) as Record<string, string>;
    for (const [k, v] of new URLSearchParams(raw.toString('utf8'))) {
      if (k === '__proto__' || k === 'constructor' || k === 'prototype') continue;
      fields[k] = v;
    }
    return { ...fields };
  }
  return raw.toString('utf8');
}
