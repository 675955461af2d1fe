import { digestEqual, standardWebhooksSecretProblem, standardWebhooksSignature } from '@hookhub/core';
import { type Verifier, checkTimestamp, invalid, missing, ok, replayKey } from './verifier';

/**
 * Standard Webhooks: `webhook-signature: v1,<base64>[ v1,<base64>...]`, HMAC-SHA256 of
 * `<webhook-id>.<webhook-timestamp>.<body>` under the decoded `whsec_` key, within the window.
 */
export const standardWebhooksVerifier: Verifier = {
  credentialHeaders: () => ['webhook-signature'],
  needsSecret: true,
  secretProblem: standardWebhooksSecretProblem,
  defaults: { eventField: 'body.type' },
  verify(input) {
    const id = input.headers['webhook-id'];
    const signature = input.headers['webhook-signature'];
    if (id === undefined || signature === undefined) return missing('webhook-id and webhook-signature are required');
    const raw = input.headers['webhook-timestamp'];
    const ts = checkTimestamp(raw, input, 'webhook-timestamp');
    if (typeof ts !== 'number') return ts;
    const expected = input.secrets.map((s) => standardWebhooksSignature(s, id, raw!, input.rawBody));
    const presented = signature
      .split(' ')
      .filter((p) => p.startsWith('v1,'))
      .map((p) => p.slice(3));
    return presented.some((sig) => expected.some((e) => digestEqual(sig, e)))
      ? ok(id, replayKey([id, raw!], input.rawBody))
      : invalid('webhook-signature does not match the body');
  },
};
