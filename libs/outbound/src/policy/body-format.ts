import type { BodyFormat } from '../entities/webhook.entity';

/** Escapes what Python's `ensure_ascii` escapes and JSON.stringify leaves: everything outside space..~. */
function asciiOnly(json: string): string {
  return json.replace(/[\u007f-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}

/**
 * JSON as Python's `json.dumps(value, sort_keys=True)` writes it: keys sorted, `", "` and `": "` separators,
 * non-ASCII escaped. Receivers that check a signature over their own re-serialization (the scenario 4
 * reference does) compute these bytes, so a `sorted` webhook sends and signs exactly them.
 */
export function pythonSortedJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return asciiOnly(JSON.stringify(value) ?? 'null');
  if (Array.isArray(value)) return '[' + value.map(pythonSortedJson).join(', ') + ']';
  const keys = Object.keys(value).sort();
  return (
    '{' +
    keys
      .map((k) => asciiOnly(JSON.stringify(k)) + ': ' + pythonSortedJson((value as Record<string, unknown>)[k]))
      .join(', ') +
    '}'
  );
}

/** The bytes sent for an event body (stored compact) in a webhook's body format. */
export function formatBody(body: string, format: BodyFormat): Buffer {
  return Buffer.from(format === 'sorted' ? pythonSortedJson(JSON.parse(body)) : body, 'utf8');
}
