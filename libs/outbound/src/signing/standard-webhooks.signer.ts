import { standardWebhooksSecretProblem, standardWebhooksSignature } from '@hookhub/core';
import type { Signer } from './signer';

/**
 * Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64>` over
 * `id.timestamp.body`, one signature per secret (receivers accept any), space separated.
 */
export const standardWebhooksSigner: Signer = {
  headerNames: () => ['webhook-id', 'webhook-timestamp', 'webhook-signature'],
  secretProblem: standardWebhooksSecretProblem,
  sign(message) {
    const timestamp = String(message.timestamp);
    const signatures = message.secrets.map(
      (s) => 'v1,' + standardWebhooksSignature(s, message.id, timestamp, message.body),
    );
    return { 'webhook-id': message.id, 'webhook-timestamp': timestamp, 'webhook-signature': signatures.join(' ') };
  },
};
