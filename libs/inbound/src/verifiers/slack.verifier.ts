import { digestEqual, hmac } from '@hookhub/core';
import { type Verifier, checkTimestamp, invalid, missing, ok, replayKey } from './verifier';

/** Slack: `X-Slack-Signature: v0=<hex>` over `v0:<X-Slack-Request-Timestamp>:<body>`, within the window. */
export const slackVerifier: Verifier = {
  credentialHeaders: () => ['x-slack-signature'],
  needsSecret: true,
  // The Events API's event_id de-duplicates.
  defaults: { eventField: 'body.type', dedupField: 'body.event_id' },
  verify(input) {
    const signature = input.headers['x-slack-signature'];
    if (signature === undefined) return missing('X-Slack-Signature is missing');
    const raw = input.headers['x-slack-request-timestamp'];
    const ts = checkTimestamp(raw, input, 'X-Slack-Request-Timestamp');
    if (typeof ts !== 'number') return ts;
    const signed = Buffer.concat([Buffer.from(`v0:${raw}:`), input.rawBody]);
    return input.secrets.some((s) => digestEqual(signature, `v0=${hmac('sha256', s, signed, 'hex')}`))
      ? ok(undefined, replayKey([raw!], input.rawBody))
      : invalid('X-Slack-Signature does not match the body');
  },
};
