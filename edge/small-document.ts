/**
 * Fetching the small JSON documents the gate depends on (the on/off flag, the room's key set)
 * with global `fetch`: a hard timeout, no redirects, and a byte cap that is enforced while the
 * body streams in, so a wrong or hostile answer can cost neither time nor memory.
 */

export interface SmallDocumentOptions {
  /** What the document is, for error messages (`flag document`, `key set`). */
  what: string;
  /** How long the whole read (connect, headers, body) may take. */
  timeoutMs: number;
  /** The largest body accepted, in bytes. */
  maxBytes: number;
}

/**
 * GETs `url` and returns its body parsed as JSON. Rejects on a timeout, a redirect, a non-2xx
 * status, a body over `maxBytes` (announced or actual) and invalid JSON; the message names the
 * document and its URL. The caller checks the shape.
 */
export async function fetchSmallJson(url: string, options: SmallDocumentOptions): Promise<unknown> {
  const { what, maxBytes } = options;
  const response = await fetch(url, {
    headers: { accept: 'application/json' },
    // A document that moved is not the document that was configured.
    redirect: 'error',
    signal: AbortSignal.timeout(options.timeoutMs),
  });
  if (!response.ok) {
    // Release the unread body: undici holds the socket until the body is consumed or cancelled.
    await response.body?.cancel();
    throw new Error(`${what} ${url} answered ${response.status}`);
  }
  const announced = Number(response.headers.get('content-length'));
  if (announced > maxBytes) {
    await response.body?.cancel();
    throw new Error(`${what} ${url} is larger than ${maxBytes} bytes`);
  }
  const text = await readCapped(response, maxBytes);
  if (text === undefined) throw new Error(`${what} ${url} is larger than ${maxBytes} bytes`);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new Error(`${what} ${url} is not JSON`);
  }
}

/** The body as text, or undefined (and the rest of the body cancelled) once it passes the cap. */
async function readCapped(response: Response, maxBytes: number): Promise<string | undefined> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return text + decoder.decode();
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      return undefined;
    }
    text += decoder.decode(value, { stream: true });
  }
}
