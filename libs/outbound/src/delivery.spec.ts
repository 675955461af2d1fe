import { EventFilter, eventFilterProblem, filterCandidates } from './policy/event-filter';
import { customHeaderProblems } from './policy/custom-headers';
import { WebhookLimiter } from './policy/webhook-limiter';
import { formatBody, pythonSortedJson } from './policy/body-format';
import { Clock, MemorySharedCounter } from '@hookhub/core';
import type { EventType } from './entities/event-type.entity';
import { EventTypesService } from './services/event-types.service';
import { eventBody } from './payload/event-body';
import type { EventTypeStore } from './stores/event-types.store';

describe('EventFilter', () => {
  it('matches exact names, prefix wildcards below the prefix only, and *', () => {
    const f = new EventFilter(['user.created', 'service.*']);
    expect(f.matches('user.created')).toBe(true);
    expect(f.matches('USER.Created')).toBe(true);
    expect(f.matches('user.deleted')).toBe(false);
    expect(f.matches('service.started')).toBe(true);
    expect(f.matches('service.db.failed')).toBe(true);
    expect(f.matches('service')).toBe(false);
    expect(f.matches('services.started')).toBe(false);
    expect(new EventFilter(['*']).matches('anything.at.all')).toBe(true);
    expect(new EventFilter([]).matches('user.created')).toBe(false);
  });

  it('accepts names, prefix.* and *, and refuses the rest', () => {
    for (const ok of ['user.created', 'resource.instance.updated', 'service.*', '*', 'task_run.timed-out'])
      expect(eventFilterProblem(ok)).toBeNull();
    for (const bad of [
      '',
      'user.',
      '.user',
      'user..created',
      'user*',
      '*.created',
      'a.*.b',
      'user created',
      'x'.repeat(201),
    ])
      expect(eventFilterProblem(bad)).not.toBeNull();
  });
});

describe('customHeaderProblems', () => {
  it('accepts ordinary headers and refuses transport, signature and malformed ones', () => {
    expect(customHeaderProblems({ 'X-Tenant': 'acme', Authorization: 'Bearer abc' })).toEqual([]);
    const problems = customHeaderProblems(
      {
        Host: 'evil',
        'Content-Length': '1',
        'webhook-signature': 'x',
        'X-Hub-Signature-256': 'x',
        'X-ATLAS-Signature': 'x',
        'Bad Name': 'x',
        'X-Split': 'a\r\nInjected: 1',
        'X-Num': 5,
      },
      ['X-ATLAS-Signature'],
    );
    expect(Object.fromEntries(problems.map((p) => [p.field, p.errors[0]]))).toEqual({
      'headers.Host': 'Host is set by Hookhub and cannot be overridden',
      'headers.Content-Length': 'Content-Length is set by Hookhub and cannot be overridden',
      'headers.webhook-signature': 'webhook-signature is set by Hookhub and cannot be overridden',
      'headers.X-Hub-Signature-256': 'X-Hub-Signature-256 is set by Hookhub and cannot be overridden',
      'headers.X-ATLAS-Signature': 'X-ATLAS-Signature is set by Hookhub and cannot be overridden',
      'headers.Bad Name': 'Bad Name is not a valid header name',
      'headers.X-Split': 'X-Split may not contain CR, LF or NUL',
      'headers.X-Num': 'X-Num must be a string',
    });
  });
});

describe('WebhookLimiter', () => {
  it('starts at most N a second per webhook, and says how long until the next slot', async () => {
    let t = 10_000;
    const limiter = new WebhookLimiter(new MemorySharedCounter(() => t));
    for (let i = 0; i < 3; i++) {
      expect(await limiter.tryStart('a', 3)).toEqual({ ok: true });
      t += 100;
    }
    expect(await limiter.tryStart('a', 3)).toEqual({ ok: false, waitMs: 700 });
    // Another webhook is not held back.
    expect(await limiter.tryStart('b', 3)).toEqual({ ok: true });
    t += 700;
    expect(await limiter.tryStart('a', 3)).toEqual({ ok: true });
  });

  it('waits a whole ms at least, so a delivery is not claimed again before its slot frees', async () => {
    let t = 10_000;
    const limiter = new WebhookLimiter(new MemorySharedCounter(() => t));
    expect(await limiter.tryStart('a', 1)).toEqual({ ok: true });
    t += 999.7;
    expect(await limiter.tryStart('a', 1)).toEqual({ ok: false, waitMs: 1 });
  });
});

describe('body formats', () => {
  it('writes JSON as Python json.dumps(sort_keys=True) does: sorted keys, ", " and ": ", ASCII escapes', () => {
    // json.dumps({"b": [1, {"y": None, "x": True}], "a": "z\u00e9\u4e2d\U0001F600\x7f", "c": {}}, sort_keys=True)
    const value = { b: [1, { y: null, x: true }], a: 'zé中😀\u007f', c: {}, d: [], e: 'line\n"q"\\' };
    expect(pythonSortedJson(value)).toBe(
      '{"a": "z\\u00e9\\u4e2d\\ud83d\\ude00\\u007f", "b": [1, {"x": true, "y": null}], "c": {}, "d": [], "e": "line\\n\\"q\\"\\\\"}',
    );
  });

  it('sends the stored compact body unchanged, and the sorted form of the same JSON', () => {
    const body = eventBody('3f1c', 'user.created', new Date('2026-11-23T10:00:00.000Z'), '{"z":1,"a":"é"}');
    expect(body).toBe(
      '{"id":"3f1c","type":"user.created","timestamp":"2026-11-23T10:00:00.000Z","data":{"z":1,"a":"é"}}',
    );
    expect(formatBody(body, 'compact').toString('utf8')).toBe(body);
    expect(formatBody(body, 'sorted').toString('utf8')).toBe(
      '{"data": {"a": "\\u00e9", "z": 1}, "id": "3f1c", "timestamp": "2026-11-23T10:00:00.000Z", "type": "user.created"}',
    );
  });
});

describe('filterCandidates', () => {
  it('lists the filters that accept a type: itself, each prefix wildcard, and *', () => {
    expect(filterCandidates('Resource.Instance.Updated')).toEqual([
      '*',
      'resource.instance.updated',
      'resource.*',
      'resource.instance.*',
    ]);
    expect(filterCandidates('ping')).toEqual(['*', 'ping']);
  });

  it('agrees with EventFilter on every filter it produces', () => {
    for (const f of filterCandidates('a.b.c')) expect(new EventFilter([f]).matches('a.b.c')).toBe(true);
  });
});

describe('EventTypesService.publishRules', () => {
  /** A store whose lookups run `result` and count themselves, with the names they were asked for. */
  function fakeTypes(result: () => Promise<unknown>) {
    const asked: string[] = [];
    const types: Pick<EventTypeStore, 'findByLowerName'> = {
      findByLowerName: (name) => (asked.push(name), result() as Promise<EventType | null>),
    };
    return { service: new EventTypesService(types as EventTypeStore, new Clock()), lookups: () => asked.length, asked };
  }

  it('looks a type up once for all the publishes that arrive while the lookup runs, and caches the answer', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { service, lookups, asked } = fakeTypes(async () => {
      await gate;
      return { archived: false, schema: { type: 'object', required: ['id'] } };
    });
    const pending = Array.from({ length: 10 }, () => service.publishRules('Order.Created'));
    release();
    const rules = await Promise.all(pending);
    expect(lookups()).toBe(1);
    expect(new Set(rules).size).toBe(1);
    expect(rules[0]?.validate?.({})).toBe(false);
    expect(rules[0]?.validate?.({ id: 1 })).toBe(true);
    await service.publishRules('order.created');
    expect(lookups()).toBe(1);
    expect(asked).toEqual(['order.created']);
  });

  it('asks again once the answer is 2 s old by the service clock', async () => {
    let now = 1_000_000;
    const clock = Object.assign(new Clock(), { nowMs: () => now });
    const asked: string[] = [];
    const types: Pick<EventTypeStore, 'findByLowerName'> = {
      findByLowerName: (name) => (asked.push(name), Promise.resolve(null)),
    };
    const service = new EventTypesService(types as EventTypeStore, clock);
    await service.publishRules('a.b');
    now += 1999;
    await service.publishRules('A.B');
    expect(asked).toEqual(['a.b']);
    now += 1;
    await service.publishRules('a.b');
    expect(asked).toEqual(['a.b', 'a.b']);
  });

  it('does not keep a failed lookup: the next publish asks again', async () => {
    let fail = true;
    const { service, lookups } = fakeTypes(async () => {
      if (fail) throw new Error('connection lost');
      return null;
    });
    await expect(service.publishRules('x.y')).rejects.toThrow('connection lost');
    fail = false;
    await expect(service.publishRules('x.y')).resolves.toBeNull();
    expect(lookups()).toBe(2);
  });
});
