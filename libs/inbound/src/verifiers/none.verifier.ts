import { type Verifier, ok } from './verifier';

/** No verification. Must be chosen explicitly; sources using it are flagged `unverified` in listings. */
export const noneVerifier: Verifier = {
  credentialHeaders: () => [],
  needsSecret: false,
  verify: () => ok(),
};
