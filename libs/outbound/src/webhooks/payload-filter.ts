/** What a payload filter reads: the event's `type` (also as `event`) and its `data`. */
export const PAYLOAD_FILTER_ROOTS: readonly string[] = ['type', 'event', 'data'];
