import { basicVerifier } from './basic.verifier';
import { githubVerifier } from './github.verifier';
import { gitlabVerifier } from './gitlab.verifier';
import { hmacVerifier } from './hmac.verifier';
import { noneVerifier } from './none.verifier';
import { shopifyVerifier } from './shopify.verifier';
import { slackVerifier } from './slack.verifier';
import { standardWebhooksVerifier } from './standard-webhooks.verifier';
import { stripeVerifier } from './stripe.verifier';
import { tokenVerifier } from './token.verifier';
import type { Verifier } from './verifier';

export * from './verifier';

/**
 * The verification schemes, by name: adding one is its file and its entry here. Everything else about a
 * scheme (its secrets, credential headers, event and delivery id defaults) is data on its verifier, so the
 * API's validation and OpenAPI enum, the source checks, receipts' redaction and the receiver follow this.
 */
export const VERIFIERS = {
  github: githubVerifier,
  gitlab: gitlabVerifier,
  stripe: stripeVerifier,
  slack: slackVerifier,
  shopify: shopifyVerifier,
  'standard-webhooks': standardWebhooksVerifier,
  hmac: hmacVerifier,
  token: tokenVerifier,
  basic: basicVerifier,
  none: noneVerifier,
} satisfies Readonly<Record<string, Verifier>>;

export type VerificationScheme = keyof typeof VERIFIERS;
/** The scheme names, in registry order. */
export const VERIFICATION_SCHEMES = Object.keys(VERIFIERS) as readonly VerificationScheme[];

/** The credential headers of every scheme with its default options: redacted from every receipt, whatever its source. */
export const DEFAULT_CREDENTIAL_HEADERS: readonly string[] = [
  ...new Set(Object.values(VERIFIERS).flatMap((v) => v.credentialHeaders({}))),
];
