import { PasswordHasher } from './services/password-hasher';
import { looksLikeApiKey, newApiKey, visiblePrefixOf } from './api-keys/key-format';
import { redactDetails } from './audit/redaction';
import { Role, roleAtLeast } from './roles';

describe('PasswordHasher', () => {
  const hasher = new PasswordHasher();

  it('verifies the right password only, with a fresh salt each time', async () => {
    const a = await hasher.hash('correct horse');
    const b = await hasher.hash('correct horse');
    expect(a).toMatch(/^scrypt\$16384\$8\$1\$/);
    expect(a).not.toBe(b);
    expect(await hasher.verify('correct horse', a)).toBe(true);
    expect(await hasher.verify('correct horsE', a)).toBe(false);
    expect(await hasher.verify('correct horse', 'md5$whatever')).toBe(false);
    expect(await hasher.verifyDummy('anything')).toBe(false);
  });
});

describe('roles', () => {
  it('orders admin > operator > viewer', () => {
    expect(roleAtLeast(Role.Admin, Role.Operator)).toBe(true);
    expect(roleAtLeast(Role.Operator, Role.Operator)).toBe(true);
    expect(roleAtLeast(Role.Viewer, Role.Operator)).toBe(false);
    expect(roleAtLeast(Role.Operator, Role.Admin)).toBe(false);
  });
});

describe('redactDetails', () => {
  it('removes secret-looking fields at any depth and keeps the rest', () => {
    const out = redactDetails({
      username: 'u',
      password: 'p',
      nested: { secret: 's', api_key: 'k', keep: 1, list: [{ token: 't', ok: true }] },
      new_password: 'np',
      authorization: 'Bearer x',
    });
    expect(out).toEqual({
      username: 'u',
      password: '[redacted]',
      nested: { secret: '[redacted]', api_key: '[redacted]', keep: 1, list: [{ token: '[redacted]', ok: true }] },
      new_password: '[redacted]',
      authorization: '[redacted]',
    });
  });
});

describe('API key format', () => {
  it('makes keys that carry their visible prefix, and reads the prefix back only from well-formed keys', () => {
    const a = newApiKey();
    const b = newApiKey();
    expect(a.prefix).toMatch(/^hk_[A-Za-z0-9]{8}$/);
    expect(a.key).toMatch(/^hk_[A-Za-z0-9]{8}_[A-Za-z0-9_-]{43}$/);
    expect(a.key.startsWith(`${a.prefix}_`)).toBe(true);
    expect(b.key).not.toBe(a.key);
    expect(looksLikeApiKey(a.key)).toBe(true);
    expect(looksLikeApiKey('eyJhbGciOiJIUzI1NiJ9.x.y')).toBe(false);
    expect(visiblePrefixOf(a.key)).toBe(a.prefix);
    expect(visiblePrefixOf(`${a.key}x`)).toBeNull();
    expect(visiblePrefixOf(a.prefix)).toBeNull();
    expect(visiblePrefixOf('hk_short_' + 'x'.repeat(43))).toBeNull();
  });
});
