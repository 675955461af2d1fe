import { digestEqual, hmac } from '@hookhub/core';
import { type Verifier, invalid, missing, ok } from './verifier';

/** GitHub: `X-Hub-Signature-256: sha256=<hex HMAC of the body>` (and optionally the legacy sha1 header). */
export const githubVerifier: Verifier = {
  credentialHeaders: () => ['x-hub-signature-256', 'x-hub-signature'],
  needsSecret: true,
  defaults: { eventHeader: 'x-github-event' },
  verify(input) {
    const sig256 = input.headers['x-hub-signature-256'];
    if (sig256 !== undefined) {
      const matched = input.secrets.some((s) =>
        digestEqual(sig256, `sha256=${hmac('sha256', s, input.rawBody, 'hex')}`),
      );
      return matched ? ok(input.headers['x-github-delivery']) : invalid('X-Hub-Signature-256 does not match the body');
    }
    const sig1 = input.headers['x-hub-signature'];
    if (sig1 !== undefined && input.options.allow_sha1) {
      const matched = input.secrets.some((s) => digestEqual(sig1, `sha1=${hmac('sha1', s, input.rawBody, 'hex')}`));
      return matched ? ok(input.headers['x-github-delivery']) : invalid('X-Hub-Signature does not match the body');
    }
    return missing('X-Hub-Signature-256 is missing');
  },
};
