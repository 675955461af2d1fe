import { hmac } from '@hookhub/core';
import type { SignOptions, Signer } from './signer';

const prefixOf = (options: SignOptions): string => options.headerPrefix ?? 'X-GitHub';

/**
 * GitHub's form: `X-Hub-Signature-256: sha256=<hex>` over the body (the secret's UTF-8 bytes are the key, as
 * on GitHub), with `<prefix>-Event` and `<prefix>-Delivery`. One signature: the newest secret signs.
 */
export const githubSigner: Signer = {
  headerNames: (options) => ['X-Hub-Signature-256', `${prefixOf(options)}-Event`, `${prefixOf(options)}-Delivery`],
  sign(message) {
    const prefix = prefixOf(message.options);
    return {
      'X-Hub-Signature-256': 'sha256=' + hmac('sha256', message.secrets[0], message.body, 'hex'),
      [`${prefix}-Event`]: message.eventType,
      [`${prefix}-Delivery`]: message.id,
    };
  },
};
