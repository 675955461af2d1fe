import createClient, { type Middleware } from 'openapi-fetch';
import type { components, paths } from './api/schema';

/** The hub's schemas, by the names its OpenAPI document gives them. */
export type Schemas = components['schemas'];
export type Role = 'admin' | 'operator' | 'viewer';

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };
const TOKEN_KEY = 'hookhub.token';

/** A field's problems, as the hub's 400 answers list them. */
export interface FieldProblem {
  field: string;
  errors: string[];
}

/** An error answer of the hub: `{statusCode, error, code, message, details?, requestId}`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: unknown,
    readonly requestId?: string,
  ) {
    super(message);
  }

  /** The per-field problems of a validation error (none for other errors). */
  get fields(): FieldProblem[] {
    if (!Array.isArray(this.details)) return [];
    return this.details.filter(
      (d): d is FieldProblem => typeof d === 'object' && d !== null && typeof (d as FieldProblem).field === 'string',
    );
  }

  /** The messages for one field (its nested fields included: `rules.0.when` counts for `rules`). */
  forField(name: string): string[] {
    return this.fields
      .filter((f) => f.field === name || f.field.startsWith(`${name}.`) || f.field.startsWith(`${name}[`))
      .flatMap((f) => f.errors);
  }
}

type Listener = () => void;

/**
 * The signed-in session: the JWT in sessionStorage (gone when the tab closes), the user it belongs to, and the
 * reason the last session ended (expired, signed out), shown on the login page.
 */
class Session {
  private token: string | null = sessionStorage.getItem(TOKEN_KEY);
  private expiryTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly listeners = new Set<Listener>();
  me: Schemas['MeDto'] | null = null;
  endedBecause: string | null = null;

  constructor() {
    this.scheduleExpiry();
  }

  get current(): string | null {
    return this.token;
  }

  get role(): Role {
    return (this.me?.role as Role | undefined) ?? 'viewer';
  }

  /** Whether the signed-in user has at least `role`. */
  can(role: Role): boolean {
    return this.me !== null && RANK[this.role] >= RANK[role];
  }

  start(token: string, me: Schemas['MeDto']): void {
    this.token = token;
    this.me = me;
    this.endedBecause = null;
    sessionStorage.setItem(TOKEN_KEY, token);
    this.scheduleExpiry();
    this.emit();
  }

  setMe(me: Schemas['MeDto']): void {
    this.me = me;
    this.emit();
  }

  end(reason: string | null): void {
    if (this.token === null && this.me === null) return;
    this.token = null;
    this.me = null;
    this.endedBecause = reason;
    sessionStorage.removeItem(TOKEN_KEY);
    clearTimeout(this.expiryTimer);
    this.emit();
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(): void {
    for (const l of this.listeners) l();
  }

  /** Ends the session when the token expires (its `exp` claim), so no page acts on a dead token. */
  private scheduleExpiry(): void {
    clearTimeout(this.expiryTimer);
    const exp = this.token ? expiryOf(this.token) : null;
    if (exp === null) return;
    const left = exp * 1000 - Date.now();
    if (left <= 0) {
      this.token = null;
      sessionStorage.removeItem(TOKEN_KEY);
      this.endedBecause = 'Your session expired: sign in again.';
      return;
    }
    // setTimeout holds at most ~24.8 days.
    this.expiryTimer = setTimeout(() => this.end('Your session expired: sign in again.'), Math.min(left, 2 ** 31 - 1));
  }
}

function expiryOf(token: string): number | null {
  try {
    const payload = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const claims = JSON.parse(atob(payload)) as { exp?: unknown };
    return typeof claims.exp === 'number' ? claims.exp : null;
  } catch {
    return null;
  }
}

export const session = new Session();

const auth: Middleware = {
  onRequest({ request }) {
    const token = session.current;
    if (token) request.headers.set('authorization', `Bearer ${token}`);
    return request;
  },
  onResponse({ response, request }) {
    // A token the hub no longer takes (expired, user disabled, secret rotated) ends the session.
    if (response.status === 401 && !new URL(request.url).pathname.endsWith('/api/auth/login')) {
      session.end('Your session ended: sign in again.');
    }
    return response;
  },
};

/** The typed client of the hub's admin API (types generated from its OpenAPI document by the build). */
export const api = createClient<paths>({ baseUrl: location.origin });
api.use(auth);

/**
 * The data of an openapi-fetch answer, or an {@link ApiError} thrown with the hub's message and details.
 */
export async function call<T>(
  pending: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<NonNullable<T>> {
  const { data, error, response } = await pending;
  if (response.ok) return data as NonNullable<T>;
  const body = (error ?? {}) as Partial<{ code: string; message: string; details: unknown; requestId: string }>;
  throw new ApiError(
    response.status,
    body.code ?? 'http_error',
    body.message ?? `The hub answered ${response.status} ${response.statusText}`,
    body.details,
    body.requestId,
  );
}

/** The message to show for anything thrown by a call. */
export function messageOf(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  if (err instanceof TypeError) return 'The hub cannot be reached: check that it is running.';
  return err instanceof Error ? err.message : String(err);
}
