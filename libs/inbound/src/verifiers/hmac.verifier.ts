import { digestEqual, hmac } from '@hookhub/core';
import { type Verifier, invalid, missing, ok } from './verifier';

/**
 * Generic HMAC of the body: algorithm sha1/sha256/sha512, hex or base64, in a named header with an
 * optional prefix. Defaults: `X-Signature`, sha256, hex. Scenario 1 is `{header: X-Signature, encoding: base64}`.
 */
export const hmacVerifier: Verifier = {
  credentialHeaders: (options) => [(options.header ?? 'x-signature').toLowerCase()],
  needsSecret: true,
  verify(input) {
    const name = (input.options.header ?? 'x-signature').toLowerCase();
    const presented = input.headers[name];
    if (presented === undefined) return missing(`${input.options.header ?? 'X-Signature'} is missing`);
    const algorithm = input.options.algorithm ?? 'sha256';
    const encoding = input.options.encoding ?? 'hex';
    const prefix = input.options.prefix ?? '';
    const matched = input.secrets.some((s) => {
      const digest = hmac(algorithm, s, input.rawBody, encoding);
      // Hex digests compare case-insensitively (some senders upper-case them).
      return encoding === 'hex'
        ? digestEqual(presented.toLowerCase(), `${prefix}${digest}`.toLowerCase())
        : digestEqual(presented, prefix + digest);
    });
    return matched ? ok() : invalid(`${input.options.header ?? 'X-Signature'} does not match the body`);
  },
};
