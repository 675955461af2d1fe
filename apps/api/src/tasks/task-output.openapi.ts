import { ApiOkResponse } from '@nestjs/swagger';

/**
 * What `GET /api/tasks/{id}/output` sends (TasksService.streamOutput, framed by Nest's SSE stream): each event
 * has a type and an id; stdout and stderr text goes as is, one `data:` line per line, the rest as JSON.
 */
export const TASK_OUTPUT_EXAMPLE = [
  // Joined late: the output began before the stored tail, so the start of stdout is skipped.
  'event: truncated',
  'id: 1',
  'data: {"stream":"stdout","skipped_bytes":4096}',
  '',
  'event: stdout',
  'id: 2',
  'data: step 3/4: uploading assets',
  'data: ',
  '',
  'event: status',
  'id: 3',
  'data: {"status":"running","exit_code":null}',
  '',
  'event: stderr',
  'id: 4',
  'data: warning: the build cache is cold',
  'data: ',
  '',
  'event: stdout',
  'id: 5',
  'data: step 4/4: done',
  'data: ',
  '',
  'event: status',
  'id: 6',
  'data: {"status":"succeeded","exit_code":0}',
  '',
  'event: end',
  'id: 7',
  'data: {"status":"succeeded","exit_code":0,"signal":null,"error":null}',
  '',
  '',
].join('\n');

/** The 200 of the task output stream: a text/event-stream, with an example of its events. */
export const ApiTaskOutputResponse = (): MethodDecorator & ClassDecorator =>
  ApiOkResponse({
    description:
      'A text/event-stream: `stdout` and `stderr` events carry new output text (a trailing newline is a last empty ' +
      '`data:` line); `truncated` says how many bytes of a stream were skipped because only its tail is stored; ' +
      '`status` carries each new status with the exit code; `end` carries the outcome (status, exit_code, signal, ' +
      'error), and the stream closes after it. A failure once the stream has begun (the run deleted, the database ' +
      'gone) ends it with an `error` event instead.',
    content: {
      'text/event-stream': {
        schema: {
          type: 'string',
          description: 'Server-sent events (https://html.spec.whatwg.org/multipage/server-sent-events.html)',
        },
        example: TASK_OUTPUT_EXAMPLE,
      },
    },
  });
