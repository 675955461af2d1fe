import type { EntityManager } from 'typeorm';
import { Clock, ErrorCode, HookhubError, sha256Hex } from '@hookhub/core';
import type { Db } from '@hookhub/store';
import type { ApiKey } from '../entities/api-key.entity';
import type { User } from '../entities/user.entity';
import { Role, type Principal } from '../roles';
import type { ApiKeyStore, ApiKeyWithOwner } from '../stores/api-key.store';
import type { AuditStore, NewAuditEntry } from '../stores/audit.store';
import type { UserStore } from '../stores/user.store';
import { ApiKeysService } from './api-keys.service';
import { AuditService } from './audit.service';
import type { PasswordHasher } from './password-hasher';
import { UsersService } from './users.service';

/** The auth services with fake stores: the use-case rules, no database. */

const T0 = Date.parse('2030-01-02T03:04:05.678Z');
const PREFIX = 'hk_Abcd1234';
const KEY = `${PREFIX}_${'k'.repeat(43)}`;
const OWNER_ID = '11111111-1111-4111-8111-111111111111';
const OTHER_ID = '22222222-2222-4222-8222-222222222222';
const KEY_ID = '33333333-3333-4333-8333-333333333333';

class FakeClock extends Clock {
  constructor(public t: number) {
    super();
  }
  override now(): Date {
    return new Date(this.t);
  }
  override nowMs(): number {
    return this.t;
  }
}

function keyRow(overrides: Partial<ApiKeyWithOwner> = {}): ApiKeyWithOwner {
  return {
    id: KEY_ID,
    key_hash: sha256Hex(KEY),
    role: Role.Operator,
    scopes: ['*'],
    expires_at: null,
    revoked_at: null,
    last_used_at: null,
    last_used_ip: null,
    owner_id: OWNER_ID,
    owner_name: 'alice',
    owner_role: Role.Admin,
    owner_disabled: false,
    ...overrides,
  };
}

class FakeApiKeyStore implements Pick<ApiKeyStore, 'findByPrefixWithOwner' | 'setLastUsed' | 'findById' | 'revoke'> {
  readonly lookups: string[] = [];
  readonly lastUsed: Array<{ id: string; at: Date; ip: string | null }> = [];
  readonly revoked: Array<{ id: string; at: Date }> = [];
  constructor(
    public row: ApiKeyWithOwner | undefined,
    public entity: ApiKey | null = null,
  ) {}
  findByPrefixWithOwner(prefix: string): Promise<ApiKeyWithOwner | undefined> {
    this.lookups.push(prefix);
    return Promise.resolve(this.row && prefix === PREFIX ? this.row : undefined);
  }
  setLastUsed(id: string, at: Date, ip: string | null): Promise<void> {
    this.lastUsed.push({ id, at, ip });
    if (this.row) this.row = { ...this.row, last_used_at: at, last_used_ip: ip };
    return Promise.resolve();
  }
  findById(id: string): Promise<ApiKey | null> {
    return Promise.resolve(this.entity?.id === id ? this.entity : null);
  }
  revoke(id: string, at: Date): Promise<void> {
    this.revoked.push({ id, at });
    return Promise.resolve();
  }
}

async function rejection(promise: Promise<unknown>): Promise<HookhubError> {
  const err = await promise.then(
    () => new Error('expected a rejection'),
    (e: unknown) => e,
  );
  if (!(err instanceof HookhubError)) throw err;
  return err;
}

describe('ApiKeysService with a fake ApiKeyStore', () => {
  function setup(row: ApiKeyWithOwner | 'none' = keyRow(), entity: ApiKey | null = null) {
    const store = new FakeApiKeyStore(row === 'none' ? undefined : row, entity);
    const clock = new FakeClock(T0);
    return { store, clock, service: new ApiKeysService(store as unknown as ApiKeyStore, clock) };
  }

  it('turns a valid key into its principal, never above its owner, and writes last use at most once a minute per IP', async () => {
    const { store, clock, service } = setup(keyRow({ role: Role.Admin, owner_role: Role.Viewer }));
    expect(await service.authenticate(KEY, '10.0.0.1')).toEqual({
      type: 'api_key',
      userId: OWNER_ID,
      username: 'alice',
      role: Role.Viewer,
      scopes: ['*'],
      apiKeyId: KEY_ID,
    });
    expect(store.lookups).toEqual([PREFIX]);
    expect(store.lastUsed).toEqual([{ id: KEY_ID, at: new Date(T0), ip: '10.0.0.1' }]);

    clock.t += 60_000;
    await service.authenticate(KEY, '10.0.0.1');
    expect(store.lastUsed).toHaveLength(1);

    await service.authenticate(KEY, '10.0.0.2');
    expect(store.lastUsed.map((u) => u.ip)).toEqual(['10.0.0.1', '10.0.0.2']);

    clock.t += 60_001;
    await service.authenticate(KEY, '10.0.0.2');
    expect(store.lastUsed).toHaveLength(3);
  });

  it('refuses a malformed, unknown, wrong, revoked, expired or disabled-owner key, without writing last use', async () => {
    expect(await setup().service.authenticate('hk_short_x')).toBeNull();
    const malformed = setup();
    await malformed.service.authenticate('hk_short_x');
    expect(malformed.store.lookups).toEqual([]);

    const unknown = setup('none');
    expect(await unknown.service.authenticate(KEY)).toBeNull();
    expect(unknown.store.lookups).toEqual([PREFIX]);
    expect(await setup().service.authenticate(`${PREFIX}_${'x'.repeat(43)}`)).toBeNull();
    for (const row of [
      keyRow({ revoked_at: new Date(T0 - 1) }),
      keyRow({ expires_at: new Date(T0) }),
      keyRow({ owner_disabled: true }),
    ]) {
      const { store, service } = setup(row);
      expect(await service.authenticate(KEY, '10.0.0.1')).toBeNull();
      expect(store.lastUsed).toEqual([]);
    }
    expect(await setup(keyRow({ expires_at: new Date(T0 + 1) })).service.authenticate(KEY)).not.toBeNull();
  });

  it('revokes a key once, for its owner or an admin, and hides it from anyone else', async () => {
    const entity = {
      id: KEY_ID,
      userId: OWNER_ID,
      revokedAt: null,
      createdAt: new Date(T0 - 1000),
      expiresAt: null,
      lastUsedAt: null,
    } as ApiKey;
    const { store, service } = setup('none', entity);
    const owner: Principal = { type: 'user', userId: OWNER_ID, username: 'alice', role: Role.Viewer, scopes: null };
    const stranger: Principal = { type: 'user', userId: OTHER_ID, username: 'bob', role: Role.Operator, scopes: null };

    expect((await rejection(service.revoke(KEY_ID, stranger))).code).toBe(ErrorCode.NotFound);
    expect((await rejection(service.revoke('not-a-uuid', owner))).code).toBe(ErrorCode.NotFound);
    expect(store.revoked).toEqual([]);

    expect((await service.revoke(KEY_ID, owner)).revoked_at).toBe(new Date(T0).toISOString());
    expect(store.revoked).toEqual([{ id: KEY_ID, at: new Date(T0) }]);
    await service.revoke(KEY_ID, { ...stranger, role: Role.Admin });
    expect(store.revoked).toHaveLength(1);
  });
});

describe('UsersService with a fake UserStore', () => {
  const MANAGER = { fake: 'manager' } as unknown as EntityManager;

  function user(id: string, role: Role, disabled = false): User {
    return {
      id,
      username: id.slice(0, 4),
      passwordHash: 'h',
      role,
      disabled,
      passwordChangedAt: new Date(T0),
      lastLoginAt: null,
      createdAt: new Date(T0),
      updatedAt: new Date(T0),
    };
  }

  function setup(users: User[]) {
    const calls: string[] = [];
    const store: Pick<UserStore, 'findById' | 'lockEnabledAdmins' | 'save' | 'delete'> = {
      findById: (id, manager) => {
        calls.push(`find:${manager === MANAGER ? 'tx' : 'no-tx'}`);
        return Promise.resolve(users.find((u) => u.id === id) ?? null);
      },
      lockEnabledAdmins: (manager) => {
        calls.push(`lock:${manager === MANAGER ? 'tx' : 'no-tx'}`);
        return Promise.resolve(users.filter((u) => u.role === Role.Admin && !u.disabled).map((u) => ({ id: u.id })));
      },
      save: (u, manager) => {
        calls.push(`save:${manager === MANAGER ? 'tx' : 'no-tx'}`);
        return Promise.resolve(u);
      },
      delete: (id, manager) => {
        calls.push(`delete:${manager === MANAGER ? 'tx' : 'no-tx'}`);
        return Promise.resolve();
      },
    };
    const db = {
      transaction: <T>(work: (manager: EntityManager) => Promise<T>): Promise<T> => work(MANAGER),
    } as unknown as Db;
    const service = new UsersService(
      store as unknown as UserStore,
      db,
      {} as PasswordHasher,
      new FakeClock(T0),
      {} as AuditService,
    );
    return { calls, service };
  }

  const actor: Principal = { type: 'user', userId: OWNER_ID, username: 'alice', role: Role.Admin, scopes: null };

  it('refuses to demote or delete the last enabled admin, checking under the lock in the transaction', async () => {
    const { calls, service } = setup([user(OWNER_ID, Role.Admin), user(OTHER_ID, Role.Admin, true)]);
    expect(
      (await rejection(service.update(OWNER_ID, { role: Role.Operator }, { ...actor, userId: OTHER_ID }))).code,
    ).toBe(ErrorCode.Conflict);
    expect((await rejection(service.remove(OWNER_ID, { ...actor, userId: OTHER_ID }))).code).toBe(ErrorCode.Conflict);
    expect(calls).toEqual(['find:tx', 'lock:tx', 'find:tx', 'lock:tx']);
  });

  it('demotes or deletes an admin when another enabled one is left, in the same transaction', async () => {
    const demoting = setup([user(OWNER_ID, Role.Admin), user(OTHER_ID, Role.Admin)]);
    expect((await demoting.service.update(OTHER_ID, { role: Role.Viewer }, actor)).role).toBe(Role.Viewer);
    expect(demoting.calls).toEqual(['find:tx', 'lock:tx', 'save:tx']);

    const deleting = setup([user(OWNER_ID, Role.Admin), user(OTHER_ID, Role.Admin)]);
    await deleting.service.remove(OTHER_ID, actor);
    expect(deleting.calls).toEqual(['find:tx', 'lock:tx', 'delete:tx']);
    expect((await rejection(deleting.service.remove(OWNER_ID, actor))).message).toBe(
      'You cannot delete your own account',
    );
  });
});

describe('AuditService with a fake AuditStore', () => {
  it('writes who did what with secrets redacted, in the caller transaction when given', async () => {
    const written: Array<{ entry: NewAuditEntry; manager?: EntityManager }> = [];
    const store: Pick<AuditStore, 'insert'> = {
      insert: (entry, manager) => {
        written.push({ entry, manager });
        return Promise.resolve();
      },
    };
    const service = new AuditService(store as unknown as AuditStore);
    const manager = {} as EntityManager;
    const principal: Principal = {
      type: 'api_key',
      userId: OWNER_ID,
      username: 'alice',
      role: Role.Operator,
      scopes: ['*'],
      apiKeyId: KEY_ID,
    };
    await service.record(
      {
        actor: principal,
        action: 'webhook.create',
        targetType: 'webhook',
        targetId: 'w1',
        details: { url: 'https://x', secret: 's' },
        origin: { ip: '10.0.0.1', userAgent: 'u'.repeat(600) },
      },
      manager,
    );
    await service.record({ actor: null, actorName: 'mallory', action: 'auth.login', outcome: 'failure' });
    expect(written[0]).toEqual({
      manager,
      entry: {
        actorType: 'api_key',
        actorId: OWNER_ID,
        actorName: 'alice',
        action: 'webhook.create',
        targetType: 'webhook',
        targetId: 'w1',
        outcome: 'success',
        details: { url: 'https://x', secret: '[redacted]', api_key_id: KEY_ID },
        ip: '10.0.0.1',
        userAgent: 'u'.repeat(500),
        requestId: null,
      },
    });
    expect(written[1].manager).toBeUndefined();
    expect(written[1].entry).toMatchObject({
      actorType: 'anonymous',
      actorId: null,
      actorName: 'mallory',
      outcome: 'failure',
      details: {},
    });
  });
});
