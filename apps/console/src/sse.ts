import { session } from './api';

export interface SseEvent {
  type: string;
  data: string;
}

/**
 * Reads a server-sent event stream with fetch (EventSource cannot send the Authorization header), calling
 * `onEvent` per event until the stream ends or `signal` aborts. Resolves when the stream closes.
 */
export async function readSse(path: string, onEvent: (e: SseEvent) => void, signal: AbortSignal): Promise<void> {
  const headers: Record<string, string> = { accept: 'text/event-stream' };
  if (session.current) headers.authorization = `Bearer ${session.current}`;
  const response = await fetch(path, { headers, signal });
  if (!response.ok || !response.body) {
    if (response.status === 401) session.end('Your session ended: sign in again.');
    throw new Error(`The output stream answered ${response.status}`);
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let type = 'message';
  let data: string[] = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let newline: number;
    while ((newline = buffer.search(/\r?\n/)) >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + (buffer[newline] === '\r' ? 2 : 1));
      if (line === '') {
        if (data.length) onEvent({ type, data: data.join('\n') });
        type = 'message';
        data = [];
      } else if (line.startsWith('event:')) type = line.slice(6).trim();
      else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
    }
  }
}
