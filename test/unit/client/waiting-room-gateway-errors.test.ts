/**
 * The page when API Gateway answers instead of the room: a frame throttled by the account's
 * rate (`{"message": "Too Many Requests", ...}`) or one whose function failed
 * (`"Internal server error"`) was never handled, and the page must neither wait for an answer
 * that will not come nor lose its place.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseGatewayError } from '../../../client/src/lib/server-message.ts';
import { TICKET_KEY, WaitingRoom } from '../../../client/src/lib/waiting-room.svelte.ts';
import { FakeSocketFactory, MemoryStorage } from '../../helpers/fake-websocket.ts';

const THROTTLED =
  '{"message": "Too Many Requests", "connectionId":"Zq0lpfIyliACGbQ=", "requestId":"Zq1LaGLQliAFsbA="}';
const FAILED =
  '{"message": "Internal server error", "connectionId":"Zq0lpfIyliACGbQ=", "requestId":"Zq1LaGLQliAFsbA="}';

function setup(storage = new MemoryStorage()) {
  const sockets = new FakeSocketFactory();
  const room = new WaitingRoom({
    url: 'ws://room.test/ws',
    returnPath: '/tickets',
    createSocket: sockets.create,
    storage,
    navigate: vi.fn(),
    isOnline: () => true,
    // No jitter: each reconnect waits exactly half its backoff step (250 ms first, 4 s after
    // a throttle: the room's `rate_limited` figure).
    random: () => 0,
  });
  return { room, sockets, storage };
}

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

describe("API Gateway's own error frames", () => {
  it("are told apart from the room's messages and from anything else, throttling from failure", () => {
    // Act
    const verdicts = [
      THROTTLED,
      FAILED,
      '{"message": "Forbidden", "connectionId":"a", "requestId":"b"}',
      '{"type":"error","code":"internal","message":"oops"}',
      '{"type":"pong"}',
      'not json',
      '"Too Many Requests"',
    ].map((frame) => parseGatewayError(frame)?.slowDown ?? null);

    // Assess
    expect(verdicts).toEqual([true, false, false, null, null, null, null]);
  });
});

describe('a page whose frame API Gateway did not hand to the room', () => {
  it.each([
    ['throttled', THROTTLED, 4000],
    ['failed', FAILED, 250],
  ])(
    'joins again on the same socket after a backoff when its join was %s, with the same join key',
    (_, frame, backoffMs) => {
      // Prepare
      const s = setup();
      s.room.start();
      s.sockets.latest.open();
      const [join] = s.sockets.latest.sent as { action: string; joinKey: string }[];

      // Act
      s.sockets.latest.receiveRaw(frame);
      vi.advanceTimersByTime(backoffMs - 1);
      const sentBefore = s.sockets.latest.sent.length;
      vi.advanceTimersByTime(1);

      // Assess: the one socket, kept open, and the join sent again on it.
      expect(s.sockets.sockets).toHaveLength(1);
      expect(s.sockets.latest.closedByClient).toBe(false);
      expect(sentBefore).toBe(1);
      expect(s.sockets.latest.sent).toEqual([
        expect.objectContaining({ action: 'join', joinKey: join?.joinKey }),
        expect.objectContaining({ action: 'join', joinKey: join?.joinKey }),
      ]);
      expect(s.room.connection).toBe('live');
    },
  );

  it('backs off longer each time its join is refused again', () => {
    // Prepare
    const s = setup();
    s.room.start();

    // Act: three refusals in a row, each join sent again on the same socket.
    s.sockets.latest.open();
    const waits: number[] = [];
    for (let i = 0; i < 3; i += 1) {
      s.sockets.latest.receiveRaw(FAILED);
      const before = s.sockets.latest.sent.length;
      let waited = 0;
      while (s.sockets.latest.sent.length === before) {
        vi.advanceTimersByTime(50);
        waited += 50;
      }
      waits.push(waited);
    }

    // Assess
    expect(waits).toEqual([250, 500, 1000]);
  });

  it('resumes its place again on the same socket when its resume was throttled', () => {
    // Prepare
    const storage = new MemoryStorage();
    storage.setItem(TICKET_KEY, 'T-held');
    const s = setup(storage);
    s.room.start();
    s.sockets.latest.open();

    // Act
    s.sockets.latest.receiveRaw(THROTTLED);
    vi.advanceTimersByTime(4000);

    // Assess
    expect(s.sockets.sockets).toHaveLength(1);
    expect(s.sockets.latest.sent).toEqual([
      { action: 'resume', ticket: 'T-held' },
      { action: 'resume', ticket: 'T-held' },
    ]);
    expect(storage.getItem(TICKET_KEY)).toBe('T-held');
  });

  it('keeps its socket and its place when a status in line was throttled', () => {
    // Prepare
    const s = setup();
    s.room.start();
    s.sockets.latest.open();
    s.sockets.latest.receive({ type: 'joined', ticket: 'T1', sessionId: 'S1' });

    // Act
    s.sockets.latest.receiveRaw(THROTTLED);
    vi.advanceTimersByTime(1000);

    // Assess
    expect(s.sockets.sockets).toHaveLength(1);
    expect(s.sockets.latest.closedByClient).toBe(false);
    expect(s.room.connection).toBe('live');
    expect(s.storage.getItem(TICKET_KEY)).toBe('T1');
  });
});
