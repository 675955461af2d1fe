export * from './path';
export * from './condition';
export * from './template';
