/** The `User-Agent` of every request Hookhub sends to a webhook. */
export const USER_AGENT = 'Hookhub-Webhooks/1.0';
