import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { type Server, createServer, get } from 'node:http';
import { join } from 'node:path';
import { AddressGuard, BlockedAddressError, embeddedIpv4 } from './net/address-guard';
import { standardWebhooksKey } from '@hookhub/core';
import { generateSecret, signatureHeaders } from './signing/signing';

interface Vector {
  scheme: string;
  secret?: string;
  secrets?: string[];
  id?: string;
  timestamp?: number;
  body: string;
  headers: Record<string, string>;
}
const VECTORS = (
  JSON.parse(readFileSync(join(process.cwd(), 'test/fixtures/signatures.json'), 'utf8')) as { vectors: Vector[] }
).vectors;
const vector = (scheme: string) => VECTORS.find((v) => v.scheme === scheme)!;

describe('outbound signing', () => {
  it('signs standard-webhooks exactly as the reference vector, and with every key during a rotation', () => {
    for (const scheme of ['standard-webhooks', 'standard-webhooks-rotation']) {
      const v = vector(scheme);
      const headers = signatureHeaders({
        format: 'standard-webhooks',
        id: v.id!,
        timestamp: v.timestamp!,
        body: Buffer.from(v.body),
        eventType: 'x',
        secrets: v.secrets ?? [v.secret!],
      });
      expect(headers).toEqual(v.headers);
    }
  });

  it('signs the github form as GitHub documents it, with event and delivery headers under a prefix', () => {
    for (const scheme of ['github', 'hmac-sha256-hex-prefixed']) {
      const v = vector(scheme);
      const headers = signatureHeaders({
        format: 'github',
        id: 'd-1',
        timestamp: 0,
        body: Buffer.from(v.body),
        eventType: 'push',
        secrets: [v.secret!],
      });
      expect(headers['X-Hub-Signature-256']).toBe(v.headers['X-Hub-Signature-256']);
    }
    const custom = signatureHeaders({
      format: 'github',
      id: 'd-2',
      timestamp: 0,
      body: Buffer.from('{}'),
      eventType: 'service.started',
      secrets: ['k'],
      options: { headerPrefix: 'X-Hookhub' },
    });
    expect(custom).toMatchObject({ 'X-Hookhub-Event': 'service.started', 'X-Hookhub-Delivery': 'd-2' });
  });

  it('signs hmac-hex under a chosen header (scenario 4: X-ATLAS-Signature and X-ATLAS-Event), checked with plain node:crypto', () => {
    const body = Buffer.from('{"event":"service.started","data":{"id":"svc-1"}}');
    const secret = generateSecret();
    const headers = signatureHeaders({
      format: 'hmac-hex',
      id: 'm',
      timestamp: 0,
      body,
      eventType: 'service.started',
      secrets: [secret],
      options: { header: 'X-ATLAS-Signature', eventHeader: 'X-ATLAS-Event' },
    });
    expect(headers).toEqual({
      'X-ATLAS-Signature': createHmac('sha256', secret).update(body).digest('hex'),
      'X-ATLAS-Event': 'service.started',
    });
    // One changed byte changes the signature.
    const other = signatureHeaders({
      format: 'hmac-hex',
      id: 'm',
      timestamp: 0,
      body: Buffer.from(body.toString().replace('1', '2')),
      eventType: 'x',
      secrets: [secret],
      options: { header: 'X-ATLAS-Signature' },
    });
    expect(other['X-ATLAS-Signature']).not.toBe(headers['X-ATLAS-Signature']);
  });

  it('generates whsec_ secrets of 32 random bytes, and refuses to sign without one', () => {
    const a = generateSecret();
    expect(a).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(standardWebhooksKey(a)).toHaveLength(32);
    expect(generateSecret()).not.toBe(a);
    expect(standardWebhooksKey('plain')).toEqual(Buffer.from('plain'));
    expect(() =>
      signatureHeaders({ format: 'github', id: 'x', timestamp: 0, body: Buffer.alloc(0), eventType: 'x', secrets: [] }),
    ).toThrow('at least one secret');
  });
});

describe('AddressGuard', () => {
  const guard = new AddressGuard();

  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'link-local'],
    ['100.64.0.1', 'carrier-grade NAT'],
    ['0.0.0.0', 'this network'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'reserved'],
    ['198.18.0.1', 'benchmarking'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['::127.0.0.1', 'IPv4-compatible'],
    ['fe80::1', 'link-local'],
    ['fc00::1', 'unique-local'],
    ['fd12:3456::1', 'unique-local'],
    ['ff02::1', 'multicast'],
    ['2001:db8::1', 'documentation'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:10.0.0.1', 'private'],
    ['::ffff:0:192.168.0.1', 'private'],
    ['64:ff9b::10.0.0.1', 'private'],
    ['2002:a00:1::1', 'private'],
    ['2002:7f00:1::', 'loopback'],
  ])('refuses %s (%s)', (address, why) => {
    expect(guard.refusal(address)).toContain(why);
  });

  it.each([
    '8.8.8.8',
    '1.1.1.1',
    '172.32.0.1',
    '100.128.0.1',
    '2606:4700:4700::1111',
    '::ffff:8.8.8.8',
    '64:ff9b::808:808',
    '2002:808:808::1',
  ])('allows the public address %s', (address) => {
    expect(guard.refusal(address)).toBeNull();
  });

  it('reads the IPv4 address inside mapped, NAT64 and 6to4 forms', () => {
    expect(embeddedIpv4('::ffff:1.2.3.4')).toBe('1.2.3.4');
    expect(embeddedIpv4('::FFFF:0102:0304')).toBe('1.2.3.4');
    expect(embeddedIpv4('64:ff9b::0102:0304')).toBe('1.2.3.4');
    expect(embeddedIpv4('2002:0102:0304::')).toBe('1.2.3.4');
    expect(embeddedIpv4('2606:4700::1')).toBeNull();
  });

  it('lets HOOKHUB_OUTBOUND_ALLOW open exactly what it lists, mapped forms included', () => {
    const open = new AddressGuard(['127.0.0.1', '10.20.0.0/16', 'fd00::/8']);
    expect(open.refusal('127.0.0.1')).toBeNull();
    expect(open.refusal('::ffff:127.0.0.1')).toBeNull();
    expect(open.refusal('127.0.0.2')).toContain('loopback');
    expect(open.refusal('10.20.9.9')).toBeNull();
    expect(open.refusal('10.21.0.1')).toContain('private');
    expect(open.refusal('fd00::5')).toBeNull();
    expect(open.refusal('fc00::5')).toContain('unique-local');
  });

  it('refuses a name that resolves to a private address, and names both', async () => {
    await expect(guard.resolve('localhost')).rejects.toThrow(BlockedAddressError);
    await expect(guard.resolve('localhost')).rejects.toThrow(
      /localhost resolves to (127\.0\.0\.1|::1), which is a loopback address/,
    );
    await expect(guard.resolve('[::1]')).rejects.toThrow('::1 is a loopback address');
  });

  describe('in front of a real HTTP request', () => {
    let server: Server;
    let port: number;
    beforeAll(async () => {
      server = createServer((_req, res) => res.end('reached'));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      port = (server.address() as { port: number }).port;
    });
    afterAll(() => new Promise((resolve) => server.close(resolve)));

    // The pattern a sender follows: resolve through the guard, then connect to the checked address itself.
    const fetchWith = async (g: AddressGuard, host: string) => {
      const [target] = await g.resolve(host);
      return new Promise<string>((resolve, reject) => {
        get(
          {
            host: target.address,
            family: target.family,
            port,
            path: '/',
            headers: { host: `${host}:${port}` },
            agent: false,
          },
          (res) => {
            let body = '';
            res.on('data', (c: Buffer) => (body += c.toString()));
            res.on('end', () => resolve(body));
          },
        ).on('error', reject);
      });
    };

    it('never connects to a refused address, by name or literal', async () => {
      await expect(fetchWith(guard, 'localhost')).rejects.toMatchObject({ code: 'EHOOKHUB_ADDRESS_BLOCKED' });
      await expect(fetchWith(guard, '127.0.0.1')).rejects.toMatchObject({ code: 'EHOOKHUB_ADDRESS_BLOCKED' });
    });

    it('connects when the address is allowed, by literal or by a name that resolves only to allowed addresses', async () => {
      expect(await fetchWith(new AddressGuard(['127.0.0.1']), '127.0.0.1')).toBe('reached');
      const [target] = await new AddressGuard(['127.0.0.1', '::1']).resolve('localhost');
      expect(['127.0.0.1', '::1']).toContain(target.address);
    });
  });
});
