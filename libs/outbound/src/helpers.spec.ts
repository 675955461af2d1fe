import { errorText } from './net/error-text';
import type { SendResult } from './net/http-sender';
import { headerContext, isLive, secretContext } from './webhooks/secrets';

function sent(overrides: Partial<SendResult>): SendResult {
  return {
    ok: false,
    status: null,
    headers: {},
    body: '',
    bodyTruncated: false,
    durationMs: 1,
    error: null,
    errorKind: null,
    retryAfterSeconds: null,
    ...overrides,
  };
}

describe('webhook secrets', () => {
  it('seals under the contexts existing secrets and headers were sealed with', () => {
    expect(secretContext('3f1c')).toBe('subscription:3f1c');
    expect(headerContext('3f1c', 'X-Api-Key')).toBe('subscription-header:3f1c:x-api-key');
  });

  it('a secret signs until its expiry, and forever without one', () => {
    const now = Date.parse('2030-01-02T03:04:05.000Z');
    expect(isLive({ sealed: 's', created_at: '2030-01-01T00:00:00.000Z', expires_at: null }, now)).toBe(true);
    expect(
      isLive({ sealed: 's', created_at: '2030-01-01T00:00:00.000Z', expires_at: '2030-01-02T03:04:06.000Z' }, now),
    ).toBe(true);
    expect(
      isLive({ sealed: 's', created_at: '2030-01-01T00:00:00.000Z', expires_at: '2030-01-02T03:04:05.000Z' }, now),
    ).toBe(false);
  });
});

describe('errorText', () => {
  it('is null for a success', () => {
    expect(errorText(sent({ ok: true, status: 200, body: 'fine' }))).toBeNull();
  });

  it('gives the status and the start of the answer', () => {
    expect(errorText(sent({ status: 500, body: `  ${'x'.repeat(300)}  ` }))).toBe(`HTTP 500: ${'x'.repeat(200)}`);
    expect(errorText(sent({ status: 404, body: '   ' }))).toBe('HTTP 404');
  });

  it('gives why there was no answer', () => {
    expect(errorText(sent({ error: 'connect ECONNREFUSED 127.0.0.1:9', errorKind: 'connect' }))).toBe(
      'connect ECONNREFUSED 127.0.0.1:9',
    );
    expect(errorText(sent({}))).toBe('no answer');
  });
});
