import { Injectable } from '@nestjs/common';

/** An alias: an absolute path of plain segments, no query, no trailing slash (`/backup`, `/api/webhooks/ci`). */
export const ALIAS_PATTERN = /^(\/[A-Za-z0-9._~@-]+)+$/;
export const MAX_ALIASES = 16;

/** Paths no alias may take or start under: Hookhub's own pages, whatever routes they have at the moment. */
const RESERVED_PREFIXES = ['/hooks', '/console', '/docs', '/docs-json', '/health', '/metrics'];

/** The path of a URL without its query and without a trailing slash (Hookhub's routes ignore one too). */
export function pathOf(url: string): string {
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}

function patternOf(url: string): RegExp {
  const parts = url.split('/').map((part) => {
    if (part === '*') return '.*';
    if (part.startsWith(':')) return '[^/]+';
    return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  });
  return new RegExp(`^${parts.join('/')}/?$`);
}

/**
 * Hookhub's own routes, told by the HTTP layer as they are registered, so an alias can be refused when it
 * would take a path one of them answers (and a request to such a path is always theirs).
 */
@Injectable()
export class HubRoutes {
  private readonly routes: Array<{ methods: Set<string>; url: string; pattern: RegExp }> = [];

  add(methods: string | string[], url: string): void {
    const list = (Array.isArray(methods) ? methods : [methods]).map((m) => m.toUpperCase());
    this.routes.push({ methods: new Set(list), url, pattern: patternOf(url) });
  }

  /** `METHOD /route` of the Hookhub route that answers `method path`, or null. */
  find(method: string, path: string): string | null {
    const m = method.toUpperCase();
    const route = this.routes.find((r) => (r.methods.has(m) || r.methods.has('ALL')) && r.pattern.test(path));
    return route ? `${m} ${route.url}` : null;
  }

  /** Why `alias` cannot be one for a source accepting `methods`, or null when it can. */
  conflict(alias: string, methods: string[]): string | null {
    const reserved = RESERVED_PREFIXES.find((p) => alias === p || alias.startsWith(`${p}/`));
    if (reserved) return `${alias} is under ${reserved}, which Hookhub keeps for itself`;
    for (const method of new Set(['POST', ...methods])) {
      const route = this.find(method, alias);
      if (route) return `${alias} is answered by Hookhub's route ${route}`;
    }
    return null;
  }
}
