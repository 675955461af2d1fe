import { Foundation1763900000000 } from './1763900000000-Foundation';
import { InboundAndTasks1764000000000 } from './1764000000000-InboundAndTasks';

/** Every migration, in order. New migrations are appended here. */
export const MIGRATIONS = [Foundation1763900000000, InboundAndTasks1764000000000];
