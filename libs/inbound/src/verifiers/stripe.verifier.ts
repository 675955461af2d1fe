import { digestEqual, hmac } from '@hookhub/core';
import { type Verifier, checkTimestamp, invalid, missing, ok, replayKey } from './verifier';

/** Stripe: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=...]`, HMAC-SHA256 of `t.body`, within the window. */
export const stripeVerifier: Verifier = {
  credentialHeaders: () => ['stripe-signature'],
  needsSecret: true,
  // Stripe's event id de-duplicates.
  defaults: { eventField: 'body.type', dedupField: 'body.id' },
  verify(input) {
    const header = input.headers['stripe-signature'];
    if (header === undefined) return missing('Stripe-Signature is missing');
    let t: string | undefined;
    const v1: string[] = [];
    for (const part of header.split(',')) {
      const eq = part.indexOf('=');
      if (eq < 0) continue;
      const key = part.slice(0, eq).trim();
      const value = part.slice(eq + 1).trim();
      if (key === 't') t = value;
      else if (key === 'v1') v1.push(value);
    }
    if (t === undefined || v1.length === 0) return invalid('Stripe-Signature needs t= and v1=');
    const ts = checkTimestamp(t, input, 'Stripe-Signature timestamp');
    if (typeof ts !== 'number') return ts;
    const signed = Buffer.concat([Buffer.from(`${t}.`), input.rawBody]);
    const expected = input.secrets.map((s) => hmac('sha256', s, signed, 'hex'));
    return v1.some((sig) => expected.some((e) => digestEqual(sig, e)))
      ? ok(undefined, replayKey([t], input.rawBody))
      : invalid('Stripe-Signature does not match the body');
  },
};
