export const STORE_OPTIONS = Symbol('STORE_OPTIONS');

export interface StoreRuntimeOptions {
  pollIntervalMs: number;
  /** Whether this process hosts the background workers. */
  runWorkers: boolean;
}
