// Applies the @nestjs/swagger CLI plugin under ts-jest, as `nest build` does, so /docs-json in e2e tests
// describes the DTOs exactly like the built app.
const transformer = require('@nestjs/swagger/plugin');

module.exports.name = 'nestjs-swagger-transformer';
module.exports.version = 1;
module.exports.factory = (cs) =>
  transformer.before(
    {
      esmCompatible: true,
      introspectComments: true,
      classValidatorShim: true,
      dtoFileNameSuffix: ['.dto.ts'],
      controllerFileNameSuffix: ['.controller.ts'],
    },
    cs.program,
  );
