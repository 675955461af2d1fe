const SECRET_KEY = /pass(word)?|secret|token|^key$|api_?key|authorization|cookie|signature|credential/i;
/** Maps whose values are secrets whatever their names: webhook custom headers, program env values. */
const SECRET_VALUES = new Set(['headers', 'env']);

/** Whole documents sent to the API (a config file may hold literal secrets): only their size is kept. */
const DOCUMENTS = new Set(['yaml']);

/** Removes secret-looking fields, at any depth, before anything is written to the audit log. */
export function redactDetails(value: unknown, depth = 0): unknown {
  if (depth > 6) return '[truncated]';
  if (Array.isArray(value)) return value.slice(0, 50).map((v) => redactDetails(v, depth + 1));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (SECRET_KEY.test(k)) out[k] = '[redacted]';
      else if (DOCUMENTS.has(k) && typeof v === 'string') out[k] = `[a document of ${v.length} characters]`;
      else if (SECRET_VALUES.has(k) && v && typeof v === 'object' && !Array.isArray(v))
        out[k] = Object.fromEntries(
          Object.keys(v)
            .slice(0, 50)
            .map((name) => [name, '[redacted]']),
        );
      else out[k] = redactDetails(v, depth + 1);
    }
    return out;
  }
  if (typeof value === 'string' && value.length > 2000) return `${value.slice(0, 2000)}...`;
  return value;
}
