/**
 * A webhook filter: an event type (dot-separated segments of letters, digits, `_` and `-`), `prefix.*`
 * (that prefix and anything below it), or `*`.
 */
export const EVENT_FILTER_PATTERN = /^(\*|[a-z0-9_-]+(\.[a-z0-9_-]+)*(\.\*)?)$/i;

/** Why `filter` is not a valid event filter, or null. */
export function eventFilterProblem(filter: string): string | null {
  if (filter.length > 200) return 'an event filter is at most 200 characters';
  return EVENT_FILTER_PATTERN.test(filter) ? null : `${filter} is not an event type, a prefix.* wildcard or *`;
}

/** The event types a filter list accepts, for `event_filters && candidates` at fan-out: the type, its prefixes with `.*`, and `*`. */
export function filterCandidates(eventType: string): string[] {
  const type = eventType.toLowerCase();
  const parts = type.split('.');
  const candidates = ['*', type];
  for (let i = 1; i < parts.length; i++) candidates.push(parts.slice(0, i).join('.') + '.*');
  return candidates;
}

/**
 * Matches event types against a webhook's filters: `service.started` exactly, `service.*` for
 * `service.started` and `service.db.failed` (not `service` itself, nor `services.x`), `*` for everything.
 * Case-insensitive, as event type names are.
 */
export class EventFilter {
  private readonly exact = new Set<string>();
  private readonly prefixes: string[] = [];
  private readonly all: boolean;

  constructor(filters: readonly string[]) {
    let all = false;
    for (const raw of filters) {
      const f = raw.toLowerCase();
      if (f === '*') all = true;
      else if (f.endsWith('.*')) this.prefixes.push(f.slice(0, -1));
      else this.exact.add(f);
    }
    this.all = all;
  }

  matches(eventType: string): boolean {
    if (this.all) return true;
    const type = eventType.toLowerCase();
    return this.exact.has(type) || this.prefixes.some((p) => type.startsWith(p));
  }
}
