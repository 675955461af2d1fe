export * from './signing/signing';
export * from './net/address-guard';
