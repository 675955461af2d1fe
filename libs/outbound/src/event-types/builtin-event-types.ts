/** The events Hookhub publishes itself, registered at boot. */
export const BUILTIN_EVENT_TYPES: ReadonlyArray<{ name: string; description: string }> = [
  { name: 'task.succeeded', description: 'A task run exited with code 0.' },
  {
    name: 'task.failed',
    description: 'A task run failed: non-zero exit, killed, could not start, or its worker stopped.',
  },
  { name: 'task.timed_out', description: 'A task run was stopped at its program timeout.' },
  {
    name: 'source.rejected_burst',
    description: 'A source refused many requests in a short time (bad signatures, blocked addresses, rate limits).',
  },
  {
    name: 'webhook.disabled',
    description: 'Hookhub disabled a webhook: it answered 410 Gone, or every attempt failed for too long.',
  },
  { name: 'webhook.test', description: 'Sent by POST /api/webhooks/{id}/test to that webhook only.' },
];
