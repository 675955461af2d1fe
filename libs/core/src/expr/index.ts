export * from './path';
export * from './condition';
export * from './template';
export * from './regex';
