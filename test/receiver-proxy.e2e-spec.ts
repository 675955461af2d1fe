import { type TestApp, bootApp } from './helpers/app';
import { create } from './helpers/inbound';

/** The receiver's IP allow-list behind a reverse proxy: X-Forwarded-For counts only from trusted proxies. */
describe('receiver IP allow-list and trusted proxies', () => {
  const setUp = async (t: TestApp) => {
    const admin = await t.login();
    await create(t, admin, '/api/sources', { slug: 'lan-only', scheme: 'token', secrets: ['lan-token'], ip_allow: ['192.168.1.0/24', '2001:db8:1::/48'] });
    return admin;
  };
  const send = (t: TestApp, forwardedFor?: string) =>
    t.request<{ code: string; message: string }>({
      method: 'POST',
      url: '/hooks/lan-only',
      headers: { 'content-type': 'application/json', authorization: 'Bearer lan-token', ...(forwardedFor ? { 'x-forwarded-for': forwardedFor } : {}) },
      payload: '{}',
    });

  describe('behind a trusted proxy (HOOKHUB_TRUST_PROXY=127.0.0.1)', () => {
    let t: TestApp;
    let admin: string;
    beforeAll(async () => {
      t = await bootApp({ HOOKHUB_TRUST_PROXY: '127.0.0.1' });
      admin = await setUp(t);
    });
    afterAll(() => t.close());

    it('admits a client the proxy reports inside the list, IPv4 or IPv6, and records its address', async () => {
      expect((await send(t, '192.168.1.7')).statusCode).toBe(202);
      expect((await send(t, '2001:db8:1::42')).statusCode).toBe(202);
      const receipts = await t.request<{ items: Array<{ ip: string; status_code: number }> }>({ url: '/api/receipts?verdict=unmatched', token: admin });
      expect(receipts.json.items.map((r) => r.ip).sort()).toEqual(['192.168.1.7', '2001:db8:1::42']);
    });

    it('refuses a client outside the list with 403, and does not skip an untrusted hop', async () => {
      const outside = await send(t, '10.0.0.1');
      expect(outside.statusCode).toBe(403);
      expect(outside.json.code).toBe('ip_not_allowed');
      expect(outside.json.message).toContain('10.0.0.1');
      // The client claims 192.168.1.7, but the hop that reached the trusted proxy is 10.9.9.9.
      expect((await send(t, '192.168.1.7, 10.9.9.9')).statusCode).toBe(403);
    });
  });

  describe('with no trusted proxy (the default)', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await bootApp();
      await setUp(t);
    });
    afterAll(() => t.close());

    it('ignores X-Forwarded-For, so a caller cannot claim an allowed address', async () => {
      const spoofed = await send(t, '192.168.1.7');
      expect(spoofed.statusCode).toBe(403);
      expect(spoofed.json.message).toContain('127.0.0.1');
    });
  });
});
