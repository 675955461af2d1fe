/**
 * Jest setup file: loads the CommonJS packages that require() NestJS's ESM packages before any test does.
 *
 * Node 24 lets CommonJS require() ESM, and Jest mimics it, with one divergence: inside one ESM import graph,
 * Jest runs the CommonJS bodies before the ESM ones, so a CommonJS package imported beside `@nestjs/common`
 * (the app's graph imports both) finds it still loading and fails with "Cannot require() ES Module ... in a
 * cycle". Loaded here first, alone, `@nestjs/throttler` loads `@nestjs/common` and `@nestjs/core` itself,
 * and every test then finds all three loaded. Node itself (`npm start`) needs none of this.
 */
import '@nestjs/throttler';
