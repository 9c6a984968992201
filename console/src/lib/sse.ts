/**
 * Server-sent events read from a `fetch()` body, so the request can carry the console's token
 * in a header (`EventSource` cannot send one). Only what the console server sends is needed
 * (`event:`, `data:`, `retry:`, comments), parsed as the HTML standard says.
 */

export interface ServerSentEvent {
  event: string;
  data: string;
}

/** Splits a stream's text into events; feed it chunks as they come. */
export class SseParser {
  #buffer = '';
  #event = '';
  #data: string[] = [];
  /** The last `retry:` the server sent (ms), or null. */
  retryMs: number | null = null;

  /** The events completed by this chunk. */
  push(chunk: string): ServerSentEvent[] {
    let text = this.#buffer + chunk;
    // A \r at the end may be the first half of \r\n: wait for the next chunk.
    const held = text.endsWith('\r') ? '\r' : '';
    if (held) text = text.slice(0, -1);
    const events: ServerSentEvent[] = [];
    const lines = text.split(/\r\n|\r|\n/);
    // The last piece is a line not ended yet.
    this.#buffer = (lines.pop() ?? '') + held;
    for (const line of lines) {
      if (line === '') {
        if (this.#data.length > 0) {
          events.push({ event: this.#event || 'message', data: this.#data.join('\n') });
        }
        this.#event = '';
        this.#data = [];
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon === -1 ? line : line.slice(0, colon);
      let value = colon === -1 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'event') this.#event = value;
      else if (field === 'data') this.#data.push(value);
      else if (field === 'retry' && /^\d+$/.test(value)) this.retryMs = Number(value);
    }
    return events;
  }
}

/**
 * Reads events from a response body until it ends (resolves) or fails (rejects), handing each
 * to `onEvent`.
 */
export async function readEvents(
  body: ReadableStream<Uint8Array>,
  parser: SseParser,
  onEvent: (event: ServerSentEvent) => void,
): Promise<void> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    for (const event of parser.push(decoder.decode(value, { stream: true }))) onEvent(event);
  }
}
