/** Headers a webhook may not set: the transport's, and the ones that carry the signature and identity. */
const RESERVED = new Set([
  'host',
  'content-length',
  'content-type',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
  'te',
  'trailer',
  'expect',
  'proxy-authorization',
  'user-agent',
]);
const RESERVED_PREFIXES = ['webhook-', 'x-hub-signature', 'x-hookhub-'];
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** What is wrong with a webhook's custom headers, per header; empty when they may be sent. */
export function customHeaderProblems(
  headers: Record<string, unknown>,
  signatureHeaders: readonly string[] = [],
): Array<{ field: string; errors: string[] }> {
  const problems: Array<{ field: string; errors: string[] }> = [];
  const signing = new Set(signatureHeaders.map((h) => h.toLowerCase()));
  const entries = Object.entries(headers);
  if (entries.length > 32) problems.push({ field: 'headers', errors: ['at most 32 custom headers'] });
  for (const [name, value] of entries) {
    const lower = name.toLowerCase();
    const error = !TOKEN.test(name)
      ? 'is not a valid header name'
      : RESERVED.has(lower) || RESERVED_PREFIXES.some((p) => lower.startsWith(p)) || signing.has(lower)
        ? 'is set by Hookhub and cannot be overridden'
        : typeof value !== 'string'
          ? 'must be a string'
          : value.length > 4096
            ? 'is longer than 4096 characters'
            : /[\r\n\0]/.test(value)
              ? 'may not contain CR, LF or NUL'
              : null;
    if (error) problems.push({ field: `headers.${name}`, errors: [`${name} ${error}`] });
  }
  return problems;
}
