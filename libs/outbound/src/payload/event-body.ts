/**
 * The JSON sent to webhooks: `{"id", "type", "timestamp", "data"}`. Built once at publish time and
 * stored, so every attempt sends (and signs) the same bytes.
 */
export function eventBody(id: string, type: string, occurredAt: Date, dataJson: string): string {
  return `{"id":${JSON.stringify(id)},"type":${JSON.stringify(type)},"timestamp":${JSON.stringify(occurredAt.toISOString())},"data":${dataJson}}`;
}
