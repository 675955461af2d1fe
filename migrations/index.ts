import { Foundation1763900000000 } from './1763900000000-Foundation';

/** Every migration, in order. New migrations are appended here. */
export const MIGRATIONS = [Foundation1763900000000];
