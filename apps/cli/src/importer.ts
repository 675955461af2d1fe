/**
 * The adnanh converter, loaded by `hookhub import` only when it runs (a relative dynamic import: the build
 * rewrites the `@hookhub/*` alias of this static one), so every other command starts without it.
 */
export { type AdnanhImport, importAdnanh } from '@hookhub/inbound/import/adnanh';
