export * from './signing/signing';
export * from './net/address-guard';
export * from './net/http-sender';
export * from './delivery/retry-policy';
export * from './delivery/event-filter';
export * from './delivery/custom-headers';
export * from './delivery/subscription-limiter';
