/**
 * The console page's plumbing, without a browser: the token taken from the address's fragment
 * into sessionStorage (and out of the address bar), and server-sent events parsed from a
 * `fetch()` body (which, unlike `EventSource`, can carry the token in a header).
 */
import { describe, expect, it } from 'vitest';
import { launchView } from '../../../console/src/lib/launch.ts';
import { SseParser } from '../../../console/src/lib/sse.ts';
import { TOKEN_KEY, takeToken } from '../../../console/src/lib/token.ts';
import type { ConsoleSample } from '../../../tools/console/protocol.ts';

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

describe('launchView', () => {
  const NOW = Date.UTC(2030, 5, 1, 8, 0, 0);
  const sample = (over: Partial<ConsoleSample>): ConsoleSample => ({
    at: NOW,
    origin: 'live',
    enabled: true,
    admitPerMinute: 60,
    waiting: 0,
    arriving: 0,
    admittedLastMinute: 0,
    joinsLastMinute: 0,
    abandonedLastMinute: 0,
    admittedTotal: 0,
    abandonedTotal: 0,
    connections: 0,
    lastInLineWaitSeconds: 0,
    schedule: null,
    powCost: 0,
    message: null,
    closed: null,
    error: null,
    ...over,
  });

  it('counts down to an opening that is ahead, and shows the pre-queue', () => {
    // Act
    const view = launchView(sample({ schedule: { opensAt: NOW + 3_723_000, prequeue: 42 } }), NOW);

    // Assess
    expect(view.opening).toEqual({ value: '1:02:03', at: NOW + 3_723_000, ahead: true });
    expect(view.prequeue).toBe('42');
  });

  it('shows an opening that has passed, and no schedule, as open', () => {
    // Act
    const passed = launchView(sample({ schedule: { opensAt: NOW - 1, prequeue: null } }), NOW);
    const none = launchView(sample({}), NOW);

    // Assess
    expect(passed.opening).toMatchObject({ value: 'Open', ahead: false, at: NOW - 1 });
    expect(none.opening).toMatchObject({ value: 'Open', ahead: false, at: null });
  });

  it('shows the pow cost or off, the message as typed, and a closed sale with its words', () => {
    // Act
    const view = launchView(
      sample({ powCost: 50_000, message: '<b>Hold on</b>', closed: 'Sold out' }),
      NOW,
    );
    const plain = launchView(sample({}), NOW);

    // Assess
    expect(view.pow).toEqual({ value: '50,000', on: true });
    expect(view.message).toBe('<b>Hold on</b>');
    expect(view.sale).toEqual({ value: 'Closed', closed: true, words: 'Sold out' });
    expect(plain.pow).toEqual({ value: 'Off', on: false });
    expect(plain.sale).toEqual({ value: 'Open', closed: false, words: null });
  });

  it('shows dashes, not defaults, while the settings could not be read', () => {
    // Act
    const view = launchView(sample({ enabled: null, admitPerMinute: null, powCost: null }), NOW);

    // Assess
    expect(view.known).toBe(false);
    expect([view.opening.value, view.pow.value, view.sale.value]).toEqual(['—', '—', '—']);
  });
});
