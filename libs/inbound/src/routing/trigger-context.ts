import { readPath, storableText } from '@hookhub/core';
import type { CompiledSource } from './compiled-source';

/** What conditions and templates see: `event`, `body`, `headers` (lower-case), `query`, `source`. */
export interface TriggerContext {
  event: string | null;
  body: unknown;
  headers: Record<string, string>;
  query: Record<string, string>;
  source: { slug: string };
}

/** The trigger context of a parsed request: its event (by the source's header or body field), body, headers and query. */
export function buildContext(
  compiled: CompiledSource,
  body: unknown,
  headers: Record<string, string>,
  query: Record<string, string>,
): TriggerContext {
  const { source } = compiled;
  let event: unknown = null;
  if (source.eventHeader) event = headers[source.eventHeader] ?? null;
  else if (compiled.eventPath) event = readPath({ body }, compiled.eventPath) ?? null;
  return {
    event: typeof event === 'string' || typeof event === 'number' ? storableText(String(event)).slice(0, 200) : null,
    body,
    headers,
    query,
    source: { slug: source.slug },
  };
}
