export enum Role {
  Admin = 'admin',
  Operator = 'operator',
  Viewer = 'viewer',
}

export const ROLES = [Role.Admin, Role.Operator, Role.Viewer] as const;

const RANK: Record<Role, number> = { [Role.Viewer]: 1, [Role.Operator]: 2, [Role.Admin]: 3 };

/** Roles are ordered: admin can do what operator can, operator what viewer can. */
export function roleAtLeast(role: Role, required: Role): boolean {
  return RANK[role] >= RANK[required];
}

/** API key scopes. `*` grants every scope; scopes narrow what a key may do within its role. */
export const API_KEY_SCOPES = [
  '*',
  'events:publish',
  'webhooks:read',
  'webhooks:write',
  'tasks:read',
  'tasks:run',
  'sources:read',
  'sources:write',
] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];

/** Marks an endpoint any valid API key may call whatever its scopes (e.g. `GET /api/auth/me`). */
export const SCOPE_ANY = 'any';

/** What an endpoint may require of an API key (see `@Auth`): a scope, or {@link SCOPE_ANY}. */
export type RequiredScope = Exclude<ApiKeyScope, '*'> | typeof SCOPE_ANY;

/** Who is calling: a logged-in user (JWT) or a script with an API key. */
export interface Principal {
  type: 'user' | 'api_key';
  userId: string;
  username: string;
  role: Role;
  /** The API key's scopes; null for users (a user has every scope of their role). */
  scopes: ApiKeyScope[] | null;
  apiKeyId?: string;
}
