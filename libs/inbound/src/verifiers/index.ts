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
import type { VerificationScheme, Verifier } from './verifier';

export * from './verifier';

export const VERIFIERS: Readonly<Record<VerificationScheme, Verifier>> = {
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
};

/** The credential headers of every scheme with its default options: redacted from every receipt, whatever its source. */
export const DEFAULT_CREDENTIAL_HEADERS: readonly string[] = [...new Set(Object.values(VERIFIERS).flatMap((v) => v.credentialHeaders({})))];
