import { hmac } from '@hookhub/core';
import type { SignOptions, Signer } from './signer';

const headerOf = (options: SignOptions): string => options.header ?? 'X-Signature';

/** A plain HMAC: `<header>: <hex HMAC-SHA256 of the body>`, and `<eventHeader>: <event type>` when set. The newest secret signs. */
export const hmacHexSigner: Signer = {
  headerNames: (options) => [headerOf(options), ...(options.eventHeader ? [options.eventHeader] : [])],
  sign(message) {
    const headers: Record<string, string> = {
      [headerOf(message.options)]: hmac('sha256', message.secrets[0], message.body, 'hex'),
    };
    if (message.options.eventHeader) headers[message.options.eventHeader] = message.eventType;
    return headers;
  },
};
