import { type AnchorHTMLAttributes, useEffect, useState } from 'react';

/**
 * Hash routes (`#/webhooks/<id>`): the hub serves one index.html, so links, reloads and the back button work
 * without a server-side fallback.
 */
export interface Route {
  /** The path's segments: `#/webhooks/abc` is ['webhooks', 'abc']. */
  parts: string[];
  query: URLSearchParams;
}

function read(): Route {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path, search = ''] = raw.split('?');
  return { parts: path.split('/').filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(search) };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const changed = () => setRoute(read());
    window.addEventListener('hashchange', changed);
    return () => window.removeEventListener('hashchange', changed);
  }, []);
  return route;
}

/** The href of a console page: `href('webhooks', id)` is `#/webhooks/<id>`; `query` drops empty values. */
export function href(...parts: Array<string | Record<string, string | undefined>>): string {
  const query = new URLSearchParams();
  const path: string[] = [];
  for (const p of parts) {
    if (typeof p === 'string') path.push(encodeURIComponent(p));
    else for (const [k, v] of Object.entries(p)) if (v) query.set(k, v);
  }
  const search = query.toString();
  return `#/${path.join('/')}${search ? `?${search}` : ''}`;
}

export function navigate(to: string): void {
  location.hash = to.replace(/^#/, '');
}

export function Link(props: AnchorHTMLAttributes<HTMLAnchorElement> & { to: string }) {
  const { to, ...rest } = props;
  return <a href={to} {...rest} />;
}
