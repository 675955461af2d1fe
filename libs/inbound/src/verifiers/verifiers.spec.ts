import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { hmac } from '@hookhub/core';
import { VERIFIERS, type VerificationOptions, type VerificationScheme, type VerifyInput } from './index';

interface Vector {
  scheme: string;
  secret?: string;
  secrets?: string[];
  timestamp?: number;
  body: string;
  headers: Record<string, string>;
}

const vectors = (
  JSON.parse(readFileSync(join(process.cwd(), 'test/fixtures/signatures.json'), 'utf8')) as { vectors: Vector[] }
).vectors;

/** How each vector's scheme maps to a Hookhub verification scheme and its options. */
const MAPPING: Record<string, { scheme: VerificationScheme; options?: VerificationOptions }> = {
  github: { scheme: 'github' },
  'github-sha1-legacy': { scheme: 'github', options: { allow_sha1: true } },
  slack: { scheme: 'slack' },
  'standard-webhooks': { scheme: 'standard-webhooks' },
  'standard-webhooks-rotation': { scheme: 'standard-webhooks' },
  stripe: { scheme: 'stripe' },
  shopify: { scheme: 'shopify' },
  'gitlab-token': { scheme: 'gitlab' },
  'hmac-sha256-base64-body': { scheme: 'hmac', options: { header: 'X-Signature', encoding: 'base64' } },
  'hmac-sha256-hex-prefixed': { scheme: 'hmac', options: { header: 'X-Hub-Signature-256', prefix: 'sha256=' } },
};

function inputFor(v: Vector, overrides: Partial<VerifyInput> = {}): VerifyInput {
  const headers = Object.fromEntries(Object.entries(v.headers).map(([k, val]) => [k.toLowerCase(), val]));
  return {
    headers,
    rawBody: Buffer.from(v.body, 'utf8'),
    secrets: v.secrets ?? [v.secret ?? ''],
    options: MAPPING[v.scheme].options ?? {},
    now: new Date((v.timestamp ?? 1_700_000_000) * 1000),
    toleranceSeconds: 300,
    ...overrides,
  };
}

describe('verifiers against the known-answer vectors', () => {
  it('has a mapping for every vector in the fixture', () => {
    expect(vectors.length).toBeGreaterThanOrEqual(10);
    for (const v of vectors) expect(MAPPING[v.scheme]).toBeDefined();
  });

  describe.each(vectors.map((v) => [v.scheme, v] as const))('%s', (_name, v) => {
    const verifier = VERIFIERS[MAPPING[v.scheme].scheme];

    it('accepts the vector', () => {
      expect(verifier.verify(inputFor(v))).toMatchObject({ ok: true });
    });

    it('rejects a body changed by one byte', () => {
      const body = Buffer.from(v.body, 'utf8');
      body[body.length - 1] ^= 1;
      const result = verifier.verify(inputFor(v, { rawBody: body }));
      // A token scheme does not sign the body; every other scheme must notice.
      if (v.scheme === 'gitlab-token') expect(result.ok).toBe(true);
      else expect(result).toMatchObject({ ok: false, failure: 'invalid' });
    });

    it('rejects another secret', () => {
      expect(
        verifier.verify(
          inputFor(v, { secrets: ['whsec_' + Buffer.from('another secret entirely').toString('base64')] }),
        ),
      ).toMatchObject({
        ok: false,
        failure: 'invalid',
      });
    });

    it('reports missing headers as missing', () => {
      expect(verifier.verify(inputFor(v, { headers: {} }))).toMatchObject({ ok: false, failure: 'missing' });
    });

    if (v.timestamp !== undefined) {
      it('rejects the vector outside the replay window', () => {
        const late = new Date((v.timestamp! + 301) * 1000);
        expect(verifier.verify(inputFor(v, { now: late }))).toMatchObject({ ok: false, failure: 'expired' });
        const early = new Date((v.timestamp! - 301) * 1000);
        expect(verifier.verify(inputFor(v, { now: early }))).toMatchObject({ ok: false, failure: 'expired' });
      });
    }
  });
});

describe('verifier details', () => {
  const body = Buffer.from('{"task_id": 1}');
  const base = { rawBody: body, options: {}, now: new Date(), toleranceSeconds: 300 };

  it('accepts any of several secrets during a rotation', () => {
    const sig = 'sha256=' + hmac('sha256', 'new-secret', body, 'hex');
    expect(
      VERIFIERS.github.verify({
        ...base,
        headers: { 'x-hub-signature-256': sig },
        secrets: ['old-secret', 'new-secret'],
      }).ok,
    ).toBe(true);
  });

  it('github ignores the sha1 header unless allowed', () => {
    const sig = 'sha1=' + hmac('sha1', 's', body, 'hex');
    expect(VERIFIERS.github.verify({ ...base, headers: { 'x-hub-signature': sig }, secrets: ['s'] })).toMatchObject({
      ok: false,
      failure: 'missing',
    });
  });

  it('hmac supports sha512 base64 and hex case-insensitively', () => {
    const b64 = hmac('sha512', 'k', body, 'base64');
    expect(
      VERIFIERS.hmac.verify({
        ...base,
        options: { algorithm: 'sha512', encoding: 'base64' },
        headers: { 'x-signature': b64 },
        secrets: ['k'],
      }).ok,
    ).toBe(true);
    const hex = hmac('sha1', 'k', body, 'hex').toUpperCase();
    expect(
      VERIFIERS.hmac.verify({
        ...base,
        options: { algorithm: 'sha1', header: 'X-Sig' },
        headers: { 'x-sig': hex },
        secrets: ['k'],
      }).ok,
    ).toBe(true);
  });

  it('token reads a bearer token or a named header', () => {
    expect(VERIFIERS.token.verify({ ...base, headers: { authorization: 'Bearer t0k' }, secrets: ['t0k'] }).ok).toBe(
      true,
    );
    expect(VERIFIERS.token.verify({ ...base, headers: { authorization: 't0k' }, secrets: ['t0k'] })).toMatchObject({
      ok: false,
      failure: 'invalid',
    });
    expect(
      VERIFIERS.token.verify({
        ...base,
        options: { header: 'X-Token' },
        headers: { 'x-token': 't0k' },
        secrets: ['t0k'],
      }).ok,
    ).toBe(true);
  });

  it('basic checks user:password', () => {
    const header = 'Basic ' + Buffer.from('ci:pa:ss').toString('base64');
    expect(VERIFIERS.basic.verify({ ...base, headers: { authorization: header }, secrets: ['ci:pa:ss'] }).ok).toBe(
      true,
    );
    expect(VERIFIERS.basic.verify({ ...base, headers: { authorization: header }, secrets: ['ci:other'] }).ok).toBe(
      false,
    );
  });

  it('standard-webhooks returns webhook-id as the delivery id and rejects a non-numeric timestamp', () => {
    const v = vectors.find((x) => x.scheme === 'standard-webhooks')!;
    // The replay key is what the signature covers but the secret: id, timestamp and the body's SHA-256.
    const digest = createHash('sha256').update(inputFor(v).rawBody).digest('hex');
    expect(VERIFIERS['standard-webhooks'].verify(inputFor(v))).toEqual({
      ok: true,
      deliveryId: v.headers['webhook-id'],
      replayKey: `${v.headers['webhook-id']}.${v.headers['webhook-timestamp']}.${digest}`,
    });
    const headers = { ...inputFor(v).headers, 'webhook-timestamp': 'soon' };
    expect(VERIFIERS['standard-webhooks'].verify(inputFor(v, { headers }))).toMatchObject({
      ok: false,
      failure: 'invalid',
    });
  });
});
