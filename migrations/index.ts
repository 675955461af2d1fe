import { Foundation1763900000000 } from './1763900000000-Foundation';
import { InboundAndTasks1764000000000 } from './1764000000000-InboundAndTasks';
import { Outbound1764100000000 } from './1764100000000-Outbound';
import { Hardening1764200000000 } from './1764200000000-Hardening';
import { DropQueueJobs1764300000000 } from './1764300000000-DropQueueJobs';
import { FormatsFromRegistry1764400000000 } from './1764400000000-FormatsFromRegistry';
import { WebhookNames1764500000000 } from './1764500000000-WebhookNames';
import { TaskQueues1764600000000 } from './1764600000000-TaskQueues';
import { ExecutionNodes1764700000000 } from './1764700000000-ExecutionNodes';
import { SharedCounters1764800000000 } from './1764800000000-SharedCounters';
import { DeliveryClaims1764900000000 } from './1764900000000-DeliveryClaims';
import { SourceAnswers1765000000000 } from './1765000000000-SourceAnswers';

/** Every migration, in order. New migrations are appended here. */
export const MIGRATIONS = [
  Foundation1763900000000,
  InboundAndTasks1764000000000,
  Outbound1764100000000,
  Hardening1764200000000,
  DropQueueJobs1764300000000,
  FormatsFromRegistry1764400000000,
  WebhookNames1764500000000,
  TaskQueues1764600000000,
  ExecutionNodes1764700000000,
  SharedCounters1764800000000,
  DeliveryClaims1764900000000,
  SourceAnswers1765000000000,
];
