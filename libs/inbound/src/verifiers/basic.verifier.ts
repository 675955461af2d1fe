import { constantTimeEqual } from '@hookhub/core';
import { type Verifier, invalid, missing, ok } from './verifier';

/** HTTP Basic: each secret is `user:password`. */
export const basicVerifier: Verifier = {
  credentialHeaders: () => ['authorization'],
  needsSecret: true,
  secretProblem: (secret) => (secret.includes(':') ? null : 'basic secrets are user:password'),
  verify(input) {
    const header = input.headers.authorization;
    if (header === undefined) return missing('Authorization is missing');
    const match = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header);
    if (!match) return invalid('Authorization must be "Basic <base64 user:password>"');
    const presented = Buffer.from(match[1], 'base64').toString('utf8');
    return input.secrets.some((s) => constantTimeEqual(presented, s))
      ? ok()
      : invalid('the user or password is not valid');
  },
};
