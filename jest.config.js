/** Jest: unit tests beside the code (`*.spec.ts`), e2e tests in `test/` (`*.e2e-spec.ts`). */
const swaggerPlugin = {
  path: '@nestjs/swagger/plugin',
  options: { introspectComments: true, classValidatorShim: true, dtoFileNameSuffix: ['.dto.ts'], controllerFileNameSuffix: ['.controller.ts'] },
};
const common = {
  moduleFileExtensions: ['js', 'json', 'ts'],
  testEnvironment: 'node',
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json', astTransformers: { before: [swaggerPlugin] }, diagnostics: { warnOnly: false } }],
  },
  moduleNameMapper: {
    '^@hookhub/migrations$': '<rootDir>/migrations',
    '^@hookhub/([a-z-]+)$': '<rootDir>/libs/$1/src',
    '^@hookhub/([a-z-]+)/(.*)$': '<rootDir>/libs/$1/src/$2',
  },
};

module.exports = {
  maxWorkers: 2,
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/libs/**/*.spec.ts', '<rootDir>/apps/**/*.spec.ts'] },
    { ...common, displayName: 'e2e', testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'], testTimeout: 60000 },
  ],
};
