import { digestEqual, hmac } from '@hookhub/core';
import { type Verifier, invalid, missing, ok } from './verifier';

/** Shopify: `X-Shopify-Hmac-Sha256: <base64 HMAC-SHA256 of the body>`. */
export const shopifyVerifier: Verifier = {
  credentialHeaders: () => ['x-shopify-hmac-sha256'],
  needsSecret: true,
  verify(input) {
    const signature = input.headers['x-shopify-hmac-sha256'];
    if (signature === undefined) return missing('X-Shopify-Hmac-Sha256 is missing');
    return input.secrets.some((s) => digestEqual(signature, hmac('sha256', s, input.rawBody, 'base64')))
      ? ok(input.headers['x-shopify-webhook-id'])
      : invalid('X-Shopify-Hmac-Sha256 does not match the body');
  },
};
