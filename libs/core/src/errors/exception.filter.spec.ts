import type { ArgumentsHost } from '@nestjs/common';
import { ErrorCode, HookhubError } from './error-codes';
import { HookhubExceptionFilter } from './exception.filter';

interface Sent {
  status?: number;
  headers: Record<string, string>;
  body?: Record<string, unknown>;
}

function fakeHost(sent: Sent): ArgumentsHost {
  const reply = {
    sent: false,
    status(code: number) {
      sent.status = code;
      return reply;
    },
    header(name: string, value: string) {
      sent.headers[name.toLowerCase()] = value;
      return reply;
    },
    headers(values: Record<string, string>) {
      for (const [k, v] of Object.entries(values)) sent.headers[k.toLowerCase()] = v;
      return reply;
    },
    send(body: Record<string, unknown>) {
      sent.body = body;
      return reply;
    },
  };
  return {
    getType: () => 'http',
    switchToHttp: () => ({ getRequest: () => ({ id: 'req-1' }), getResponse: () => reply, getNext: () => undefined }),
  } as unknown as ArgumentsHost;
}

describe('HookhubExceptionFilter', () => {
  const filter = new HookhubExceptionFilter();

  it('answers an unexpected error with a 500, an error id and no internals', () => {
    const sent: Sent = { headers: {} };
    const err = new Error('connection to 10.0.0.5 refused; password=hunter2');
    filter.catch(err, fakeHost(sent));
    expect(sent.status).toBe(500);
    expect(sent.body).toMatchObject({
      statusCode: 500,
      code: 'internal_error',
      requestId: 'req-1',
      errorId: expect.any(String),
    });
    expect(sent.body!.message).toContain(String(sent.body!.errorId));
    const text = JSON.stringify(sent.body);
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain('10.0.0.5');
    expect(text).not.toContain('at ');
  });

  it('answers a domain error with its status, code, details and headers', () => {
    const sent: Sent = { headers: {} };
    filter.catch(
      new HookhubError(ErrorCode.RateLimited, 'slow down', { retry_after_seconds: 7 }, { 'Retry-After': '7' }),
      fakeHost(sent),
    );
    expect(sent.status).toBe(429);
    expect(sent.headers['retry-after']).toBe('7');
    expect(sent.body).toEqual({
      statusCode: 429,
      error: 'Too Many Requests',
      code: 'rate_limited',
      message: 'slow down',
      details: { retry_after_seconds: 7 },
      requestId: 'req-1',
    });
  });
});
