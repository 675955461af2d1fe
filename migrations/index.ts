import { Foundation1763900000000 } from './1763900000000-Foundation';
import { InboundAndTasks1764000000000 } from './1764000000000-InboundAndTasks';
import { Outbound1764100000000 } from './1764100000000-Outbound';
import { Hardening1764200000000 } from './1764200000000-Hardening';

/** Every migration, in order. New migrations are appended here. */
export const MIGRATIONS = [Foundation1763900000000, InboundAndTasks1764000000000, Outbound1764100000000, Hardening1764200000000];
