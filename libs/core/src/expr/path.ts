/** Path segments that would reach an object's prototype machinery; refused everywhere. */
const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);
const SEGMENT = /^[A-Za-z0-9_\-$@]+$/;
export const MAX_PATH_LENGTH = 256;
export const MAX_PATH_DEPTH = 16;

/** Why a dot path was refused; thrown by {@link parsePath}. */
export class PathError extends Error {
  constructor(
    readonly path: string,
    reason: string,
  ) {
    super(`Invalid path "${path}": ${reason}`);
    this.name = 'PathError';
  }
}

/**
 * Splits a dot path (`body.repository.full_name`, `headers.x-github-event`, `body.commits.0.id`) into
 * segments. Refuses empty segments, odd characters and `__proto__`, `constructor`, `prototype`.
 */
export function parsePath(path: string): string[] {
  if (typeof path !== 'string' || path.length === 0) throw new PathError(String(path), 'it is empty');
  if (path.length > MAX_PATH_LENGTH)
    throw new PathError(path.slice(0, 40) + '...', `it is longer than ${MAX_PATH_LENGTH} characters`);
  const segments = path.split('.');
  if (segments.length > MAX_PATH_DEPTH) throw new PathError(path, `it is deeper than ${MAX_PATH_DEPTH} segments`);
  for (const segment of segments) {
    if (!segment) throw new PathError(path, 'it has an empty segment');
    if (FORBIDDEN.has(segment)) throw new PathError(path, `"${segment}" is not allowed`);
    if (!SEGMENT.test(segment))
      throw new PathError(path, `"${segment}" has characters other than letters, digits, _ - $ @`);
  }
  return segments;
}

/** Reads `segments` from `root` through own properties only; undefined when any step is missing. */
export function readPath(root: unknown, segments: readonly string[]): unknown {
  let current: unknown = root;
  for (const segment of segments) {
    if (current === null || typeof current !== 'object') return undefined;
    if (Array.isArray(current)) {
      if (!/^\d+$/.test(segment)) return undefined;
      current = current[Number(segment)];
      continue;
    }
    if (!Object.prototype.hasOwnProperty.call(current, segment)) return undefined;
    current = (current as Record<string, unknown>)[segment];
  }
  return current;
}

export function getPath(root: unknown, path: string): unknown {
  return readPath(root, parsePath(path));
}
