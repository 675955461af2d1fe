/**
 * Jest in native ESM mode (NestJS 12 packages are ESM only): unit tests beside the code (`*.spec.ts`), e2e
 * tests in `test/` (`*.e2e-spec.ts`). Run through `npm test`, which passes --experimental-vm-modules.
 */
const common = {
  moduleFileExtensions: ['js', 'mjs', 'json', 'ts'],
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': [
      'ts-jest',
      {
        useESM: true,
        tsconfig: 'tsconfig.spec.json',
        astTransformers: { before: [{ path: '<rootDir>/test/swagger-transformer.js' }] },
      },
    ],
  },
  // CommonJS packages that require NestJS's ESM packages must load first (see the file).
  setupFiles: ['<rootDir>/test/helpers/cjs-packages.ts'],
  moduleNameMapper: {
    '^(\\.{1,2}/.*)\\.js$': '$1',
    '^@hookhub/migrations$': '<rootDir>/migrations',
    '^@app/api/(.*)$': '<rootDir>/apps/api/src/$1',
    '^@app/worker/(.*)$': '<rootDir>/apps/worker/src/$1',
    '^@hookhub/([a-z-]+)$': '<rootDir>/libs/$1/src',
    '^@hookhub/([a-z-]+)/(.*)$': '<rootDir>/libs/$1/src/$2',
  },
};

module.exports = {
  maxWorkers: 2,
  testTimeout: 60000,
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/libs/**/*.spec.ts', '<rootDir>/apps/**/*.spec.ts', '<rootDir>/test/**/*.spec.ts'],
    },
    { ...common, displayName: 'e2e', testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'] },
  ],
};
