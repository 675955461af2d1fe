export * from './signing/signing';
export * from './net/address-guard';
export * from './net/http-sender';
export * from './delivery/retry-policy';
