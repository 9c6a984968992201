/**
 * The page's last line of defence: whatever URL a (broken or impersonated) server sends in
 * `admitted` or `open`, the page only ever navigates to an http(s) URL.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WaitingRoom } from '../../../client/src/lib/waiting-room.svelte.ts';
import { FakeSocketFactory, MemoryStorage } from '../../helpers/fake-websocket.ts';

function joinedRoom() {
  const sockets = new FakeSocketFactory();
  const navigate = vi.fn<(url: string) => void>();
  const room = new WaitingRoom({
    url: 'ws://room.test/ws',
    returnPath: '/',
    createSocket: sockets.create,
    storage: new MemoryStorage(),
    navigate,
    random: () => 0,
  });
  room.start();
  sockets.latest.open();
  sockets.latest.receive({ type: 'joined', ticket: 'T1', sessionId: 'S1' });
  return { room, sockets, navigate };
}

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

const notHttp = [
  'javascript:alert(document.cookie)',
  'JAVASCRIPT:alert(1)',
  ' javascript:alert(1)',
  '\tjavascript:alert(1)',
  'java\nscript:alert(1)',
  'data:text/html,<script>alert(1)</script>',
  'vbscript:msgbox(1)',
  'blob:https://shop.test/0f6c1b4e',
  'file:///etc/passwd',
  'ws://shop.test/',
  'ftp://shop.test/',
  '//evil.example/',
  '/\\evil.example/',
  '/ok/..\\..\\evil',
  'https:evil.example',
  'evil.example',
];

describe('navigation from server messages', () => {
  it.each(notHttp)('ignores admitted with redirectUrl %j and keeps waiting', (url) => {
    // Prepare
    const s = joinedRoom();

    // Act
    s.sockets.latest.receive({ type: 'admitted', pass: 'p', expiresAt: 1, redirectUrl: url });

    // Assess
    expect(s.navigate).not.toHaveBeenCalled();
    expect(s.room.phase).toBe('waiting');
    expect(s.room.redirectUrl).toBeNull();
  });

  it.each(notHttp)('ignores open with redirectUrl %j and keeps waiting', (url) => {
    const s = joinedRoom();

    s.sockets.latest.receive({ type: 'open', redirectUrl: url });

    expect(s.navigate).not.toHaveBeenCalled();
    expect(s.room.phase).toBe('waiting');
  });

  it.each(['https://shop.test/tickets?wr_pass=abc', 'HTTP://shop.test/'])(
    'follows the http(s) URL %j',
    (url) => {
      const s = joinedRoom();

      s.sockets.latest.receive({ type: 'admitted', pass: 'p', expiresAt: 1, redirectUrl: url });

      expect(s.navigate).toHaveBeenCalledExactlyOnceWith(url);
    },
  );
});
