import { constantTimeEqual } from '@hookhub/core';
import { type Verifier, invalid, missing, ok } from './verifier';

/** A shared token: `Authorization: Bearer <token>` by default, or the raw value of a named header. */
export const tokenVerifier: Verifier = {
  credentialHeaders: (options) => [(options.header ?? 'authorization').toLowerCase()],
  needsSecret: true,
  verify(input) {
    const name = (input.options.header ?? 'authorization').toLowerCase();
    let presented = input.headers[name];
    if (presented === undefined) return missing(`${input.options.header ?? 'Authorization'} is missing`);
    if (name === 'authorization') {
      const match = /^Bearer\s+(.+)$/i.exec(presented);
      if (!match) return invalid('Authorization must be "Bearer <token>"');
      presented = match[1].trim();
    }
    const value = presented;
    return input.secrets.some((s) => constantTimeEqual(value, s)) ? ok() : invalid('the token is not valid');
  },
};
