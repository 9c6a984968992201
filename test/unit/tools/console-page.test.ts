/**
 * The console page's plumbing, without a browser: the token taken from the address's fragment
 * into sessionStorage (and out of the address bar), and server-sent events parsed from a
 * `fetch()` body (which, unlike `EventSource`, can carry the token in a header).
 */
import { describe, expect, it } from 'vitest';
import { SseParser } from '../../../console/src/lib/sse.ts';
import { TOKEN_KEY, takeToken } from '../../../console/src/lib/token.ts';

function place(hash: string, stored: string | null = null) {
  const storage = new Map<string, string>(stored === null ? [] : [[TOKEN_KEY, stored]]);
  const addresses: string[] = [];
  return {
    addresses,
    storage,
    place: {
      location: { hash, pathname: '/', search: '' },
      history: {
        state: null,
        replaceState: (_state: unknown, _unused: string, url?: string | URL | null) => {
          addresses.push(String(url));
        },
      },
      storage: {
        getItem: (key: string) => storage.get(key) ?? null,
        setItem: (key: string, value: string) => {
          storage.set(key, value);
        },
      },
    },
  };
}

describe('takeToken', () => {
  it('keeps the token from the fragment in storage and clears it from the address bar', () => {
    // Prepare
    const { place: where, storage, addresses } = place('#token=abc-123');

    // Act
    const token = takeToken(where);

    // Assess
    expect(token).toBe('abc-123');
    expect(storage.get(TOKEN_KEY)).toBe('abc-123');
    expect(addresses).toEqual(['/']);
  });

  it('uses the stored token after a reload, and a new one from a new address', () => {
    // Act
    const reloaded = takeToken(place('', 'old').place);
    const restarted = takeToken(place('#token=new', 'old').place);

    // Assess
    expect([reloaded, restarted]).toEqual(['old', 'new']);
  });

  it('has none when the page was opened without the printed address', () => {
    // Act
    const { place: where, addresses } = place('');

    // Assess
    expect(takeToken(where)).toBeNull();
    expect(addresses).toEqual([]);
  });
});

describe('SseParser', () => {
  it('parses named events split across chunks, with comments, retry and multi-line data', () => {
    // Prepare
    const parser = new SseParser();

    // Act
    const events = [
      ...parser.push('retry: 2000\nevent: snap'),
      ...parser.push('shot\ndata: {"a":\n'),
      ...parser.push(': keep-alive\r\ndata: 1}\r'),
      ...parser.push('\n\r\nevent: sample\ndata: 2\n\ndata: plain\n\n'),
    ];

    // Assess
    expect(events).toEqual([
      { event: 'snapshot', data: '{"a":\n1}' },
      { event: 'sample', data: '2' },
      { event: 'message', data: 'plain' },
    ]);
    expect(parser.retryMs).toBe(2000);
  });
});
