import { type TestApp, bootApp } from './helpers/app';
import { create, expectRefused } from './helpers/inbound';

/** The receiver's IP allow-list behind a reverse proxy: X-Forwarded-For counts only from trusted proxies. */
describe('receiver IP allow-list and trusted proxies', () => {
  const setUp = async (t: TestApp) => {
    const admin = await t.login();
    const source = await create(t, admin, '/api/sources', {
      slug: 'lan-only',
      scheme: 'token',
      secrets: ['lan-token'],
      ip_allow: ['192.168.1.0/24', '2001:db8:1::/48'],
    });
    return { admin, sourceId: source.id };
  };
  /** Expects the request refused as from outside the list, and its receipt to name the address that was refused. */
  const refusedFrom = async (
    t: TestApp,
    on: { admin: string; sourceId: string },
    ip: string,
    forwardedFor?: string,
  ) => {
    const { res, receipt } = await expectRefused(t, on.admin, () => send(t, forwardedFor), {
      status: 403,
      code: 'ip_not_allowed',
      sourceId: on.sourceId,
    });
    expect(res.json.message).toContain(ip);
    expect(receipt.ip).toBe(ip);
    expect(receipt.reason).toContain(ip);
  };
  const send = (t: TestApp, forwardedFor?: string) =>
    t.request<{ code: string; message: string }>({
      method: 'POST',
      url: '/hooks/lan-only',
      headers: {
        'content-type': 'application/json',
        authorization: 'Bearer lan-token',
        ...(forwardedFor ? { 'x-forwarded-for': forwardedFor } : {}),
      },
      payload: '{}',
    });

  describe('behind a trusted proxy (HOOKHUB_TRUST_PROXY=127.0.0.1)', () => {
    let t: TestApp;
    let on: { admin: string; sourceId: string };
    beforeAll(async () => {
      t = await bootApp({ HOOKHUB_TRUST_PROXY: '127.0.0.1' });
      on = await setUp(t);
    });
    afterAll(() => t.close());

    it('admits a client the proxy reports inside the list, IPv4 or IPv6, and records its address', async () => {
      expect((await send(t, '192.168.1.7')).statusCode).toBe(202);
      expect((await send(t, '2001:db8:1::42')).statusCode).toBe(202);
      const receipts = await t.request<{ items: Array<{ ip: string; status_code: number }> }>({
        url: '/api/receipts?verdict=unmatched',
        token: on.admin,
      });
      expect(receipts.json.items.map((r) => r.ip).sort()).toEqual(['192.168.1.7', '2001:db8:1::42']);
    });

    it('refuses a client outside the list with 403, and does not skip an untrusted hop', async () => {
      await refusedFrom(t, on, '10.0.0.1', '10.0.0.1');
      // The client claims 192.168.1.7, but the hop that reached the trusted proxy is 10.9.9.9.
      await refusedFrom(t, on, '10.9.9.9', '192.168.1.7, 10.9.9.9');
    });
  });

  describe('with no trusted proxy (the default)', () => {
    let t: TestApp;
    let on: { admin: string; sourceId: string };
    beforeAll(async () => {
      t = await bootApp();
      on = await setUp(t);
    });
    afterAll(() => t.close());

    it('ignores X-Forwarded-For, so a caller cannot claim an allowed address', async () => {
      await refusedFrom(t, on, '127.0.0.1', '192.168.1.7');
    });
  });
});
