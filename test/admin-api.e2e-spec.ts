import { DataSource } from 'typeorm';
import { bootApp, type Reply, type TestApp } from './helpers/app';

describe('admin API: users, API keys, audit (e2e)', () => {
  let t: TestApp;
  let admin: string;

  beforeAll(async () => {
    t = await bootApp();
    admin = await t.login();
  });
  afterAll(async () => t?.close());

  describe('users', () => {
    it('creates, reads, updates and deletes a user', async () => {
      const created = await t.request({
        method: 'POST',
        url: '/api/users',
        token: admin,
        body: { username: 'crud-user', password: 'crud-password', role: 'viewer' },
      });
      expect(created.statusCode).toBe(201);
      expect(created.json).toMatchObject({ username: 'crud-user', role: 'viewer', disabled: false });
      expect(created.json).not.toHaveProperty('password_hash');
      expect(created.body).not.toContain('crud-password');
      const id = created.json.id as string;
      expect((await t.request({ url: `/api/users/${id}`, token: admin })).json.username).toBe('crud-user');
      const patched = await t.request({
        method: 'PATCH',
        url: `/api/users/${id}`,
        token: admin,
        body: { role: 'operator' },
      });
      expect(patched.json.role).toBe('operator');
      const setPw = await t.request({
        method: 'PUT',
        url: `/api/users/${id}/password`,
        token: admin,
        body: { password: 'another-password' },
      });
      expect(setPw.statusCode).toBe(204);
      expect(await t.login('crud-user', 'another-password')).toEqual(expect.any(String));
      expect((await t.request({ method: 'DELETE', url: `/api/users/${id}`, token: admin })).statusCode).toBe(204);
      expect((await t.request({ url: `/api/users/${id}`, token: admin })).statusCode).toBe(404);
    });

    it('refuses a duplicate username (any case) with 409', async () => {
      await t.request({
        method: 'POST',
        url: '/api/users',
        token: admin,
        body: { username: 'dupe', password: 'password-1', role: 'viewer' },
      });
      const again = await t.request({
        method: 'POST',
        url: '/api/users',
        token: admin,
        body: { username: 'DUPE', password: 'password-1', role: 'viewer' },
      });
      expect(again.statusCode).toBe(409);
      expect(again.json.code).toBe('conflict');
    });

    it('answers 404 for an unknown id and 400 for a malformed one', async () => {
      const unknown = await t.request({ url: '/api/users/00000000-0000-4000-8000-000000000000', token: admin });
      expect(unknown.statusCode).toBe(404);
      expect(unknown.json.code).toBe('not_found');
      expect((await t.request({ url: '/api/users/not-a-uuid', token: admin })).statusCode).toBe(400);
      expect(
        (
          await t.request({
            method: 'PATCH',
            url: '/api/users/00000000-0000-4000-8000-000000000000',
            token: admin,
            body: { role: 'viewer' },
          })
        ).statusCode,
      ).toBe(404);
    });

    it('validates bodies with per-field details and refuses unknown fields', async () => {
      const res = await t.request({
        method: 'POST',
        url: '/api/users',
        token: admin,
        body: { username: '!', password: 'short', role: 'king', extra: true },
      });
      expect(res.statusCode).toBe(400);
      const fields = (res.json.details as Array<{ field: string }>).map((d) => d.field).sort();
      expect(fields).toEqual(['extra', 'password', 'role', 'username']);
    });

    it('keeps one enabled admin: the last one cannot be demoted, disabled or deleted', async () => {
      const me = await t.request({ url: '/api/auth/me', token: admin });
      const demote = await t.request({
        method: 'PATCH',
        url: `/api/users/${me.json.id}`,
        token: admin,
        body: { role: 'viewer' },
      });
      expect(demote.statusCode).toBe(409);
      const disable = await t.request<{ code: string; message: string }>({
        method: 'PATCH',
        url: `/api/users/${me.json.id}`,
        token: admin,
        body: { disabled: true },
      });
      expect([disable.statusCode, disable.json.code]).toEqual([409, 'conflict']);
      expect(disable.json.message).toContain('last enabled admin');
      // Still enabled: its token still works.
      expect((await t.request({ url: '/api/auth/me', token: admin })).statusCode).toBe(200);
      const second = await t.userWithRole('admin');
      // Now there are two admins: the second may demote the first, but then not itself.
      const ok = await t.request({
        method: 'PATCH',
        url: `/api/users/${me.json.id}`,
        token: second.token,
        body: { role: 'operator' },
      });
      expect(ok.statusCode).toBe(200);
      const selfDemote = await t.request({
        method: 'PATCH',
        url: `/api/users/${second.id}`,
        token: second.token,
        body: { role: 'viewer' },
      });
      expect(selfDemote.statusCode).toBe(409);
      const selfDelete = await t.request({ method: 'DELETE', url: `/api/users/${second.id}`, token: second.token });
      expect(selfDelete.statusCode).toBe(409);
      // Restore the bootstrap admin for the other tests.
      expect(
        (
          await t.request({
            method: 'PATCH',
            url: `/api/users/${me.json.id}`,
            token: second.token,
            body: { role: 'admin' },
          })
        ).statusCode,
      ).toBe(200);
      admin = await t.login();
    });

    it('paginates with limit and cursor, returns the total, and filters by role and text', async () => {
      for (let i = 0; i < 5; i++) {
        await t.request({
          method: 'POST',
          url: '/api/users',
          token: admin,
          body: { username: `page-${i}`, password: 'password-1', role: 'operator' },
        });
      }
      const all = await t.request({ url: '/api/users?q=page-&limit=200', token: admin });
      expect(all.json.total).toBe(5);
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        // eslint-disable-next-line @typescript-eslint/no-explicit-any
        const res: Reply<any> = await t.request({
          url: `/api/users?q=page-&limit=2${cursor ? `&cursor=${cursor}` : ''}`,
          token: admin,
        });
        expect(res.statusCode).toBe(200);
        expect(res.json.items.length).toBeLessThanOrEqual(2);
        expect(res.json.total).toBe(5);
        seen.push(...res.json.items.map((u: { username: string }) => u.username));
        cursor = res.json.next_cursor;
        pages++;
      } while (cursor);
      expect(pages).toBe(3);
      expect(seen.sort()).toEqual(['page-0', 'page-1', 'page-2', 'page-3', 'page-4']);
      const viewers = await t.request({ url: '/api/users?role=viewer&q=page-', token: admin });
      expect(viewers.json.total).toBe(0);
      expect((await t.request({ url: '/api/users?cursor=garbage', token: admin })).statusCode).toBe(400);
      expect((await t.request({ url: '/api/users?limit=0', token: admin })).statusCode).toBe(400);
      expect((await t.request({ url: '/api/users?limit=201', token: admin })).statusCode).toBe(400);
    });
  });

  describe('API keys', () => {
    it('shows the key once, stores only a hash, and accepts it as Bearer and X-API-Key', async () => {
      const created = await t.request({
        method: 'POST',
        url: '/api/api-keys',
        token: admin,
        body: { name: 'ci', role: 'operator' },
      });
      expect(created.statusCode).toBe(201);
      const key = created.json.key as string;
      expect(key).toMatch(/^hk_[A-Za-z0-9]{8}_/);
      expect(key.startsWith(created.json.prefix)).toBe(true);
      const stored = (await t.app
        .get(DataSource)
        .query('SELECT key_hash FROM api_keys WHERE id = $1', [created.json.id])) as Array<{ key_hash: string }>;
      expect(stored[0].key_hash).not.toContain(key.slice(12));
      const list = await t.request({ url: '/api/api-keys', token: admin });
      expect(list.body).not.toContain(key);
      expect(list.json.items.find((k: { id: string }) => k.id === created.json.id)).toMatchObject({
        name: 'ci',
        role: 'operator',
        scopes: ['*'],
      });

      const viaBearer = await t.request({ url: '/api/auth/me', token: key });
      expect(viaBearer.json).toMatchObject({ auth_type: 'api_key', role: 'operator', api_key_id: created.json.id });
      const viaHeader = await t.request({ url: '/api/auth/me', headers: { 'x-api-key': key } });
      expect(viaHeader.statusCode).toBe(200);
      const after = await t.request({ url: '/api/api-keys', token: admin });
      expect(after.json.items.find((k: { id: string }) => k.id === created.json.id).last_used_at).not.toBeNull();
      // The key acts with its own role, not its creator's.
      expect((await t.request({ url: '/api/users', token: key })).statusCode).toBe(403);
    });

    it('refuses wrong, revoked, expired keys and keys of a disabled owner', async () => {
      const created = await t.request({ method: 'POST', url: '/api/api-keys', token: admin, body: { name: 'temp' } });
      const key = created.json.key as string;
      const wrong = key.slice(0, -1) + (key.endsWith('A') ? 'B' : 'A');
      expect((await t.request({ url: '/api/auth/me', token: wrong })).statusCode).toBe(401);
      expect(
        (await t.request({ method: 'DELETE', url: `/api/api-keys/${created.json.id}`, token: admin })).json.revoked_at,
      ).not.toBeNull();
      expect((await t.request({ url: '/api/auth/me', token: key })).statusCode).toBe(401);

      const expiring = await t.request({
        method: 'POST',
        url: '/api/api-keys',
        token: admin,
        body: { name: 'exp', expires_in_days: 1 },
      });
      expect((await t.request({ url: '/api/auth/me', token: expiring.json.key })).statusCode).toBe(200);
      await t.app
        .get(DataSource)
        .query(`UPDATE api_keys SET expires_at = now() - interval '1 minute' WHERE id = $1`, [expiring.json.id]);
      expect((await t.request({ url: '/api/auth/me', token: expiring.json.key })).statusCode).toBe(401);

      const owner = await t.userWithRole('operator');
      const ownersKey = await t.request({
        method: 'POST',
        url: '/api/api-keys',
        token: owner.token,
        body: { name: 'owner-key' },
      });
      expect((await t.request({ url: '/api/auth/me', token: ownersKey.json.key })).statusCode).toBe(200);
      await t.request({ method: 'PATCH', url: `/api/users/${owner.id}`, token: admin, body: { disabled: true } });
      expect((await t.request({ url: '/api/auth/me', token: ownersKey.json.key })).statusCode).toBe(401);
    });

    it('caps a key at its creator’s role and scopes, and limits scoped keys to their scopes', async () => {
      const viewer = await t.userWithRole('viewer');
      const tooHigh = await t.request({
        method: 'POST',
        url: '/api/api-keys',
        token: viewer.token,
        body: { name: 'x', role: 'admin' },
      });
      expect(tooHigh.statusCode).toBe(403);
      const badScope = await t.request({
        method: 'POST',
        url: '/api/api-keys',
        token: viewer.token,
        body: { name: 'x', scopes: ['root'] },
      });
      expect(badScope.statusCode).toBe(400);

      const scoped = await t.request({
        method: 'POST',
        url: '/api/api-keys',
        token: admin,
        body: { name: 'publisher', scopes: ['events:publish'] },
      });
      expect(scoped.statusCode).toBe(201);
      // A scoped admin key may still say who it is, but not act as an unrestricted admin.
      expect((await t.request({ url: '/api/auth/me', token: scoped.json.key })).json.scopes).toEqual([
        'events:publish',
      ]);
      const denied = await t.request({ url: '/api/users', token: scoped.json.key });
      expect(denied.statusCode).toBe(403);
      const escalate = await t.request({
        method: 'POST',
        url: '/api/api-keys',
        token: scoped.json.key,
        body: { name: 'wider' },
      });
      expect(escalate.statusCode).toBe(403);
    });

    it('shows each user their own keys; admins see all; others cannot revoke foreign keys', async () => {
      const a = await t.userWithRole('operator');
      const b = await t.userWithRole('operator');
      const aKey = await t.request({ method: 'POST', url: '/api/api-keys', token: a.token, body: { name: 'a-key' } });
      await t.request({ method: 'POST', url: '/api/api-keys', token: b.token, body: { name: 'b-key' } });
      const aList = await t.request({ url: '/api/api-keys', token: a.token });
      expect(aList.json.items.map((k: { name: string }) => k.name)).toEqual(['a-key']);
      const adminList = await t.request({ url: '/api/api-keys?limit=200', token: admin });
      expect(adminList.json.items.map((k: { name: string }) => k.name)).toEqual(
        expect.arrayContaining(['a-key', 'b-key']),
      );
      expect(
        (await t.request({ method: 'DELETE', url: `/api/api-keys/${aKey.json.id}`, token: b.token })).statusCode,
      ).toBe(404);
      expect((await t.request({ url: '/api/auth/me', token: aKey.json.key })).statusCode).toBe(200);
    });
  });

  describe('audit log', () => {
    it('records who changed what, when and from where, without secrets', async () => {
      const created = await t.request({
        method: 'POST',
        url: '/api/users',
        token: admin,
        headers: { 'user-agent': 'audit-test/1.0', 'x-request-id': 'audit-req-1' },
        body: { username: 'audited', password: 'secret-password-xyz', role: 'viewer' },
      });
      const res = await t.request({ url: `/api/audit?action=user.create&target_id=${created.json.id}`, token: admin });
      expect(res.statusCode).toBe(200);
      expect(res.json.total).toBe(1);
      const entry = res.json.items[0];
      expect(entry).toMatchObject({
        actor_type: 'user',
        actor_name: 'admin',
        action: 'user.create',
        target_type: 'user',
        target_id: created.json.id,
        outcome: 'success',
        ip: '127.0.0.1',
        user_agent: 'audit-test/1.0',
        request_id: 'audit-req-1',
      });
      expect(entry.details.request.username).toBe('audited');
      expect(JSON.stringify(entry)).not.toContain('secret-password-xyz');
      expect(Date.parse(entry.created_at)).toBeGreaterThan(Date.now() - 60_000);
    });

    it('records failed logins and API-key changes, filters by outcome, and is admin-only', async () => {
      await t.request({
        method: 'POST',
        url: '/api/auth/login',
        body: { username: 'admin', password: 'definitely-wrong' },
      });
      const failures = await t.request({ url: '/api/audit?action=auth.login&outcome=failure', token: admin });
      expect(failures.json.items[0]).toMatchObject({
        actor_type: 'anonymous',
        actor_name: 'admin',
        outcome: 'failure',
        details: { reason: 'wrong_password' },
      });
      const key = await t.request({
        method: 'POST',
        url: '/api/api-keys',
        token: admin,
        body: { name: 'audited-key' },
      });
      const keyEntries = await t.request({
        url: `/api/audit?action=api_key.create&target_id=${key.json.id}`,
        token: admin,
      });
      expect(keyEntries.json.total).toBe(1);
      expect(JSON.stringify(keyEntries.json)).not.toContain(key.json.key);
      const operator = await t.userWithRole('operator');
      expect((await t.request({ url: '/api/audit', token: operator.token })).statusCode).toBe(403);
      expect((await t.request({ url: '/api/audit?from=yesterday', token: admin })).statusCode).toBe(400);
    });
  });
});
