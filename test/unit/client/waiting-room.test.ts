import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  COMMITMENT_KEY,
  JOIN_KEY_KEY,
  POSITION_AT_JOIN_KEY,
  TICKET_KEY,
  WaitingRoom,
  type WaitingRoomOptions,
} from '../../../client/src/lib/waiting-room.svelte.ts';
import { commitmentOf } from '../../../functions/core/draw.ts';
import { FakeSocketFactory, MemoryStorage } from '../../helpers/fake-websocket.ts';

/** The key a page sends with its joins: 128 random bits, base64url. */
const anyJoinKey = expect.stringMatching(/^[\w-]{22}$/);

const URL = 'ws://room.test/ws';
const REDIRECT = 'https://shop.test/checkout?wr_pass=abc';

interface Setup {
  room: WaitingRoom;
  sockets: FakeSocketFactory;
  storage: MemoryStorage;
  navigate: ReturnType<typeof vi.fn<(url: string) => void>>;
  online: { value: boolean };
}

function setup(overrides: Partial<WaitingRoomOptions> = {}, storage = new MemoryStorage()): Setup {
  const sockets = new FakeSocketFactory();
  const navigate = vi.fn<(url: string) => void>();
  const online = { value: true };
  const room = new WaitingRoom({
    url: URL,
    returnPath: '/tickets?show=42',
    createSocket: sockets.create,
    storage,
    navigate,
    isOnline: () => online.value,
    // No jitter: each reconnect waits exactly half its backoff step.
    random: () => 0,
    ...overrides,
  });
  return { room, sockets, storage, navigate, online };
}

/** Starts the room, opens its socket and has the server answer `joined`. */
function startJoined(s: Setup, ticket = 'T1'): void {
  s.room.start();
  s.sockets.latest.open();
  s.sockets.latest.receive({ type: 'joined', ticket, sessionId: 'S1' });
}

function position(p: number, waiting = 100, etaSeconds: number | null = 60, nextUpdate = 11) {
  return { type: 'position', position: p, waiting, etaSeconds, nextUpdateSeconds: nextUpdate };
}

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

describe('taking a place', () => {
  it('sends join with the return path when no ticket is stored', () => {
    // Prepare
    const s = setup();

    // Act
    s.room.start();
    s.sockets.latest.open();

    // Assess
    expect(s.sockets.latest.url).toBe(URL);
    expect(s.sockets.latest.sent).toEqual([
      { action: 'join', joinKey: anyJoinKey, return: '/tickets?show=42' },
    ]);
  });

  it('saves the ticket the server sends in joined', () => {
    // Prepare
    const s = setup();

    // Act
    startJoined(s, 'T-saved');

    // Assess
    expect(s.storage.getItem(TICKET_KEY)).toBe('T-saved');
  });

  it('resumes with the stored ticket instead of joining again', () => {
    // Prepare
    const storage = new MemoryStorage();
    storage.setItem(TICKET_KEY, 'T-old');
    const s = setup({}, storage);

    // Act
    s.room.start();
    s.sockets.latest.open();

    // Assess
    expect(s.sockets.latest.sent).toEqual([{ action: 'resume', ticket: 'T-old' }]);
  });

  it('keeps the one place across a reload: the next page resumes the same ticket', () => {
    // Prepare
    const first = setup();
    startJoined(first, 'T-reload');
    first.room.stop();

    // Act
    const second = setup({}, first.storage);
    second.room.start();
    second.sockets.latest.open();

    // Assess
    expect(second.sockets.latest.sent).toEqual([{ action: 'resume', ticket: 'T-reload' }]);
  });

  it('asks for the same place again, with the same join key, when a join goes unanswered', () => {
    // Prepare: a join whose answer never comes (the room timed out, the socket died).
    const s = setup();
    s.room.start();
    s.sockets.latest.open();
    const [first] = s.sockets.latest.sent as { joinKey: string }[];

    // Act: no answer within the reply timeout: the page drops the socket, reconnects and joins
    // again; then a reload.
    vi.advanceTimersByTime(20_000);
    vi.advanceTimersByTime(5_000);
    s.sockets.latest.open();
    const retried = s.sockets.latest.sent.at(-1) as { joinKey: string };
    expect(s.sockets.sockets).toHaveLength(2);
    s.room.stop();
    const reloaded = setup({}, s.storage);
    reloaded.room.start();
    reloaded.sockets.latest.open();

    // Assess: one key for the one place asked for, across sockets and the reload.
    expect(retried.joinKey).toBe(first?.joinKey);
    expect((reloaded.sockets.latest.sent.at(-1) as { joinKey: string }).joinKey).toBe(
      first?.joinKey,
    );
  });

  it('asks for a new place with a new join key once the first was answered', () => {
    // Prepare
    const s = setup();
    s.room.start();
    s.sockets.latest.open();
    const [first] = s.sockets.latest.sent as { joinKey: string }[];
    s.sockets.latest.receive({ type: 'joined', ticket: 'T-once', sessionId: 's1' });

    // Act: the place is gone later (expired), and the page takes a new one.
    s.sockets.latest.receive({ type: 'error', code: 'invalid_ticket', message: 'unknown ticket' });

    // Assess
    const next = s.sockets.latest.sent.at(-1) as { action: string; joinKey: string };
    expect(next.action).toBe('join');
    expect(next.joinKey).not.toBe(first?.joinKey);
    expect(s.storage.getItem(JOIN_KEY_KEY)).toBe(next.joinKey);
  });

  it('forgets an invalid ticket and sends a fresh join', () => {
    // Prepare
    const storage = new MemoryStorage();
    storage.setItem(TICKET_KEY, 'T-gone');
    const s = setup({}, storage);
    s.room.start();
    s.sockets.latest.open();

    // Act
    s.sockets.latest.receive({ type: 'error', code: 'invalid_ticket', message: 'unknown ticket' });

    // Assess
    expect(s.storage.getItem(TICKET_KEY)).toBeNull();
    expect(s.sockets.latest.sent.at(-1)).toEqual({
      action: 'join',
      joinKey: anyJoinKey,
      return: '/tickets?show=42',
    });
  });

  it('starts a new place from scratch after an invalid ticket, even if it is further back', () => {
    // Prepare
    const storage = new MemoryStorage();
    storage.setItem(TICKET_KEY, 'T-gone');
    storage.setItem(POSITION_AT_JOIN_KEY, '9');
    const s = setup({}, storage);
    s.room.start();
    s.sockets.latest.open();
    s.sockets.latest.receive(position(3));

    // Act
    s.sockets.latest.receive({ type: 'error', code: 'invalid_ticket', message: 'unknown ticket' });
    s.sockets.latest.receive({ type: 'joined', ticket: 'T-new', sessionId: 'S2' });
    s.sockets.latest.receive(position(120));

    // Assess
    expect(s.room.position).toBe(120);
    expect(s.room.positionAtJoin).toBe(120);
    expect(s.storage.getItem(TICKET_KEY)).toBe('T-new');
  });
});

describe('reconnecting', () => {
  it('shows connecting, then live once the socket opens', () => {
    // Prepare
    const s = setup();

    // Act
    s.room.start();
    const before = s.room.connection;
    s.sockets.latest.open();

    // Assess
    expect(before).toBe('connecting');
    expect(s.room.connection).toBe('live');
  });

  it('reconnects after a drop and resumes with the ticket', () => {
    // Prepare
    const s = setup();
    startJoined(s, 'T-keep');

    // Act
    s.sockets.latest.drop();
    vi.advanceTimersByTime(250);
    s.sockets.latest.open();

    // Assess
    expect(s.sockets.sockets).toHaveLength(2);
    expect(s.sockets.latest.sent).toEqual([{ action: 'resume', ticket: 'T-keep' }]);
  });

  it('shows reconnecting while the socket is down', () => {
    // Prepare
    const s = setup();
    startJoined(s);

    // Act
    s.sockets.latest.drop();

    // Assess
    expect(s.room.connection).toBe('reconnecting');
  });

  it('doubles the backoff after each failed attempt, up to the cap', () => {
    // Prepare
    const s = setup();
    s.room.start();
    const waits: number[] = [];

    // Act: every attempt fails before opening; measure when the next socket appears.
    for (let i = 0; i < 8; i += 1) {
      const count = s.sockets.sockets.length;
      s.sockets.latest.drop();
      let waited = 0;
      while (s.sockets.sockets.length === count) {
        vi.advanceTimersByTime(50);
        waited += 50;
      }
      waits.push(waited);
    }

    // Assess: half of 500, 1000, 2000, ... capped at 15 s (random() = 0 gives the lower bound).
    expect(waits).toEqual([250, 500, 1000, 2000, 4000, 7500, 7500, 7500]);
  });

  it('adds jitter of up to half the step to the backoff', () => {
    // Prepare
    const s = setup({ random: () => 0.999 });
    s.room.start();

    // Act
    s.sockets.latest.drop();
    vi.advanceTimersByTime(499);
    const beforeStep = s.sockets.sockets.length;
    vi.advanceTimersByTime(1);

    // Assess
    expect(beforeStep).toBe(1);
    expect(s.sockets.sockets).toHaveLength(2);
  });

  it('starts the backoff over once the server has taken the place back', () => {
    // Prepare
    const s = setup();
    s.room.start();
    s.sockets.latest.drop();
    vi.advanceTimersByTime(250);
    s.sockets.latest.drop();
    vi.advanceTimersByTime(500);
    s.sockets.latest.open();
    s.sockets.latest.receive({ type: 'joined', ticket: 'T1', sessionId: 'S1' });

    // Act
    s.sockets.latest.drop();
    vi.advanceTimersByTime(250);

    // Assess
    expect(s.sockets.sockets).toHaveLength(4);
  });

  it('gives up on a socket that does not open within the connect timeout', () => {
    // Prepare
    const s = setup();
    s.room.start();

    // Act
    vi.advanceTimersByTime(10_000 + 250);

    // Assess
    expect(s.sockets.sockets[0]?.closedByClient).toBe(true);
    expect(s.sockets.sockets).toHaveLength(2);
  });

  it('ignores events from a socket it has already replaced', () => {
    // Prepare
    const s = setup();
    startJoined(s);
    const old = s.sockets.latest;
    old.drop();
    vi.advanceTimersByTime(250);
    s.sockets.latest.open();

    // Act
    old.receive(position(1));

    // Assess
    expect(s.room.position).toBeNull();
  });
});

describe('network and visibility', () => {
  it('waits offline without a socket when the device has no network', () => {
    // Prepare
    const s = setup();
    s.online.value = false;

    // Act
    s.room.start();

    // Assess
    expect(s.room.connection).toBe('offline');
    expect(s.sockets.sockets).toHaveLength(0);
  });

  it('connects as soon as the network comes back', () => {
    // Prepare
    const s = setup();
    s.online.value = false;
    s.room.start();

    // Act
    s.online.value = true;
    s.room.handleOnline();

    // Assess
    expect(s.sockets.sockets).toHaveLength(1);
    expect(s.room.connection).toBe('connecting');
  });

  it('goes offline and stops retrying when the network goes away', () => {
    // Prepare
    const s = setup();
    startJoined(s);

    // Act
    s.online.value = false;
    s.room.handleOffline();
    vi.advanceTimersByTime(60_000);

    // Assess
    expect(s.room.connection).toBe('offline');
    expect(s.sockets.latest.closedByClient).toBe(true);
    expect(s.sockets.sockets).toHaveLength(1);
  });

  it('does not schedule a reconnect for a socket lost while offline', () => {
    // Prepare
    const s = setup();
    startJoined(s);

    // Act
    s.online.value = false;
    s.sockets.latest.drop();
    vi.advanceTimersByTime(60_000);

    // Assess
    expect(s.room.connection).toBe('offline');
    expect(s.sockets.sockets).toHaveLength(1);
  });

  it('reconnects at once when the tab becomes visible during a backoff', () => {
    // Prepare
    const s = setup();
    startJoined(s);
    s.sockets.latest.drop();

    // Act
    s.room.handleVisible();

    // Assess
    expect(s.sockets.sockets).toHaveLength(2);
  });

  it('asks for a fresh position when the tab becomes visible while live', () => {
    // Prepare
    const s = setup();
    startJoined(s);

    // Act
    s.room.handleVisible();

    // Assess
    expect(s.sockets.latest.sent.at(-1)).toEqual({ action: 'status' });
  });
});

describe('keeping the socket alive', () => {
  it('stays silent, without ping or status, while positions keep coming', () => {
    // Prepare
    const s = setup();
    startJoined(s);

    // Act: an hour of positions every 10 s, each promising the next within 11 s.
    for (let i = 0; i < 360; i++) {
      s.sockets.latest.receive(position(400 - i, 500, 600, 11));
      vi.advanceTimersByTime(10_000);
    }

    // Assess
    expect(s.sockets.latest.actions()).toEqual(['join']);
  });

  it('asks for status when no position arrived for 15 seconds while waiting (no promise made)', () => {
    // Prepare
    const s = setup();
    startJoined(s);
    s.sockets.latest.receive(position(7, 100, 60, 0));

    // Act
    vi.advanceTimersByTime(15_000);

    // Assess
    expect(s.sockets.latest.actions()).toEqual(['join', 'status']);
  });

  it("waits out the room's promise, with slack, before it asks in a long line", () => {
    // Prepare: the room says the next update comes within 200 s.
    const s = setup();
    startJoined(s);
    s.sockets.latest.receive(position(600_000, 1_000_000, 6000, 200));

    // Act
    vi.advanceTimersByTime(304_999);
    const early = s.sockets.latest.actions();
    vi.advanceTimersByTime(1);

    // Assess: 1.5 x 200 s + 5 s.
    expect(early).toEqual(['join']);
    expect(s.sockets.latest.actions()).toEqual(['join', 'status']);
  });

  it('asks sooner than the promise when it has been hearing far more often (near the front)', () => {
    // Prepare: positions every second, each promising the line's 200 s.
    const s = setup();
    startJoined(s);
    for (let i = 0; i < 5; i++) {
      s.sockets.latest.receive(position(10 - i, 1_000_000, 10, 200));
      vi.advanceTimersByTime(1000);
    }

    // Act: silence.
    vi.advanceTimersByTime(14_000);

    // Assess: 15 s after the last position (four gaps of 1 s is under the 15 s floor).
    expect(s.sockets.latest.actions()).toEqual(['join', 'status']);
  });

  it('asks within 8 minutes however long the promise, before API Gateway idles the socket out', () => {
    // Prepare
    const s = setup();
    startJoined(s);
    s.sockets.latest.receive(position(900_000, 1_000_000, 9000, 3600));

    // Act
    vi.advanceTimersByTime(8 * 60_000);

    // Assess
    expect(s.sockets.latest.actions()).toEqual(['join', 'status']);
  });

  it('treats the socket as dead when nothing answers a status within 20 seconds', () => {
    // Prepare
    const s = setup();
    startJoined(s);
    s.sockets.latest.receive(position(7, 100, 60, 0));
    const socket = s.sockets.latest;
    vi.advanceTimersByTime(15_000);

    // Act
    vi.advanceTimersByTime(19_999);
    const aliveBefore = socket.closedByClient;
    vi.advanceTimersByTime(1);

    // Assess
    expect(aliveBefore).toBe(false);
    expect(socket.closedByClient).toBe(true);
    expect(s.room.connection).toBe('reconnecting');
  });

  it('keeps a socket whose status gets an answer in time', () => {
    // Prepare
    const s = setup();
    startJoined(s);
    s.sockets.latest.receive(position(7));
    const socket = s.sockets.latest;
    vi.advanceTimersByTime(15_000);

    // Act
    vi.advanceTimersByTime(19_000);
    socket.receive(position(6));
    vi.advanceTimersByTime(5_000);

    // Assess
    expect(socket.closedByClient).toBe(false);
    expect(s.room.connection).toBe('live');
  });

  it("replaces its socket before API Gateway's 2-hour cap, at a time of its own, and resumes", () => {
    // Prepare: random() = 0.5 puts the replacement at 90 + 12.5 minutes.
    const s = setup({ random: () => 0.5 });
    startJoined(s);
    const first = s.sockets.latest;
    const keepHearing = () => first.receive(position(7, 100, 60, 11));

    // Act
    for (let t = 0; t < 102.5 * 6 - 1; t++) {
      keepHearing();
      vi.advanceTimersByTime(10_000);
    }
    const before = s.sockets.sockets.length;
    vi.advanceTimersByTime(10_000);
    s.sockets.latest.open();

    // Assess
    expect(before).toBe(1);
    expect(first.closedByClient).toBe(true);
    expect(s.sockets.sockets).toHaveLength(2);
    expect(s.sockets.latest.actions()).toEqual(['resume']);
  });
});

describe('showing the position', () => {
  it('never shows a position higher than one it showed before', () => {
    // Prepare
    const s = setup();
    startJoined(s);
    s.sockets.latest.receive(position(40, 300, 120));

    // Act
    s.sockets.latest.receive(position(41, 305, 125));

    // Assess
    expect(s.room.position).toBe(40);
    expect(s.room.waiting).toBe(305);
  });

  it('shows waiting, ahead and the estimate from the latest position', () => {
    // Prepare
    const s = setup();
    startJoined(s);

    // Act
    s.sockets.latest.receive(position(42, 310, 150));

    // Assess
    expect(s.room.position).toBe(42);
    expect(s.room.peopleAhead).toBe(41);
    expect(s.room.waiting).toBe(310);
    expect(s.room.etaSeconds).toBe(150);
    expect(s.room.phase).toBe('waiting');
  });

  it('keeps a null estimate, which means admission is paused', () => {
    // Prepare
    const s = setup();
    startJoined(s);

    // Act
    s.sockets.latest.receive(position(42, 310, null));

    // Assess
    expect(s.room.etaSeconds).toBeNull();
  });

  it('takes the first position seen as the position at join and stores it', () => {
    // Prepare
    const s = setup();
    startJoined(s);

    // Act
    s.sockets.latest.receive(position(50));
    s.sockets.latest.receive(position(25));

    // Assess
    expect(s.room.positionAtJoin).toBe(50);
    expect(s.storage.getItem(POSITION_AT_JOIN_KEY)).toBe('50');
    expect(s.room.progress).toBe(50);
  });

  it('restores the position at join with the ticket after a reload', () => {
    // Prepare
    const storage = new MemoryStorage();
    storage.setItem(TICKET_KEY, 'T1');
    storage.setItem(POSITION_AT_JOIN_KEY, '80');
    const s = setup({}, storage);
    s.room.start();
    s.sockets.latest.open();

    // Act
    s.sockets.latest.receive(position(20));

    // Assess
    expect(s.room.positionAtJoin).toBe(80);
    expect(s.room.progress).toBe(75);
  });

  it('ignores frames that are not server messages', () => {
    // Prepare
    const s = setup();
    startJoined(s);

    // Act
    s.sockets.latest.receiveRaw('not json');
    s.sockets.latest.receive({ type: 'position', position: 'first' });
    s.sockets.latest.receive({ type: 'surprise' });

    // Assess
    expect(s.room.position).toBeNull();
    expect(s.room.connection).toBe('live');
  });

  it('announces the first position at once and later changes at most every 30 seconds', () => {
    // Prepare
    const s = setup();
    startJoined(s);
    s.sockets.latest.receive(position(30));

    // Act
    vi.advanceTimersByTime(10_000);
    s.sockets.latest.receive(position(29));
    const afterTen = s.room.announcedPosition;
    vi.advanceTimersByTime(20_000);
    s.sockets.latest.receive(position(27));

    // Assess
    expect(afterTen).toBe(30);
    expect(s.room.announcedPosition).toBe(27);
  });
});

describe('being let in', () => {
  it('navigates to the redirect URL when admitted', () => {
    // Prepare
    const s = setup();
    startJoined(s);

    // Act
    s.sockets.latest.receive({
      type: 'admitted',
      pass: 'abc',
      expiresAt: 1_900_000_000,
      redirectUrl: REDIRECT,
    });

    // Assess
    expect(s.navigate).toHaveBeenCalledExactlyOnceWith(REDIRECT);
    expect(s.room.phase).toBe('admitted');
    expect(s.room.redirectUrl).toBe(REDIRECT);
  });

  it('clears the stored ticket once admitted', () => {
    // Prepare
    const s = setup();
    startJoined(s);
    s.sockets.latest.receive(position(3));

    // Act
    s.sockets.latest.receive({ type: 'admitted', pass: 'p', expiresAt: 1, redirectUrl: REDIRECT });

    // Assess
    expect(s.storage.getItem(TICKET_KEY)).toBeNull();
    expect(s.storage.getItem(POSITION_AT_JOIN_KEY)).toBeNull();
  });

  it('closes the socket and stops reconnecting once admitted', () => {
    // Prepare
    const s = setup();
    startJoined(s);

    // Act
    s.sockets.latest.receive({ type: 'admitted', pass: 'p', expiresAt: 1, redirectUrl: REDIRECT });
    vi.advanceTimersByTime(120_000);

    // Assess
    expect(s.sockets.latest.closedByClient).toBe(true);
    expect(s.sockets.sockets).toHaveLength(1);
  });

  it('goes straight in when the room is open', () => {
    // Prepare
    const s = setup();
    startJoined(s);

    // Act
    s.sockets.latest.receive({ type: 'open', redirectUrl: 'https://shop.test/tickets' });

    // Assess
    expect(s.navigate).toHaveBeenCalledExactlyOnceWith('https://shop.test/tickets');
    expect(s.room.phase).toBe('open');
    expect(s.storage.getItem(TICKET_KEY)).toBeNull();
  });

  it('refuses to navigate to a URL that is not http(s)', () => {
    // Prepare
    const s = setup();
    startJoined(s);

    // Act
    s.sockets.latest.receive({ type: 'open', redirectUrl: 'javascript:alert(1)' });

    // Assess
    expect(s.navigate).not.toHaveBeenCalled();
    expect(s.room.phase).toBe('waiting');
  });
});

describe('server errors', () => {
  it('backs off for a while when rate limited before getting a place', () => {
    // Prepare
    const s = setup();
    s.room.start();
    s.sockets.latest.open();

    // Act
    s.sockets.latest.receive({ type: 'error', code: 'rate_limited', message: 'slow down' });
    vi.advanceTimersByTime(3_999);
    const during = s.sockets.sockets.length;
    vi.advanceTimersByTime(1);

    // Assess
    expect(during).toBe(1);
    expect(s.sockets.sockets).toHaveLength(2);
    expect(s.room.placeDeferred).toBe(true);
  });

  it('says a place was turned down for now until one is given', () => {
    // Prepare
    const s = setup();
    s.room.start();
    s.sockets.latest.open();
    s.sockets.latest.receive({ type: 'error', code: 'rate_limited', message: 'too many places' });
    vi.advanceTimersByTime(8_000);

    // Act
    s.sockets.latest.open();
    s.sockets.latest.receive({ type: 'joined', ticket: 'T', sessionId: 'S' });

    // Assess
    expect(s.room.placeDeferred).toBe(false);
    expect(s.room.phase).toBe('waiting');
  });

  it('keeps going quietly after a bad_request', () => {
    // Prepare
    const s = setup();
    startJoined(s);

    // Act
    s.sockets.latest.receive({ type: 'error', code: 'bad_request', message: 'unknown action' });
    s.sockets.latest.receive(position(9));

    // Assess
    expect(s.room.connection).toBe('live');
    expect(s.room.position).toBe(9);
    expect(s.room.lastError?.code).toBe('bad_request');
  });

  it('keeps its place after an internal error once joined', () => {
    // Prepare
    const s = setup();
    startJoined(s);

    // Act
    s.sockets.latest.receive({ type: 'error', code: 'internal', message: 'oops' });

    // Assess
    expect(s.room.connection).toBe('live');
    expect(s.sockets.sockets).toHaveLength(1);
  });
});

describe('a place taken up in another tab', () => {
  it('says so, closes its socket and does not reconnect by itself, even when the tab comes back', () => {
    // Prepare
    const s = setup();
    startJoined(s, 'T-two-tabs');
    s.sockets.latest.receive(position(7));

    // Act
    s.sockets.latest.receive({ type: 'superseded' });
    s.sockets.latest.drop();
    vi.advanceTimersByTime(10 * 60_000);
    s.room.handleVisible();
    s.room.handleOnline();

    // Assess
    expect(s.room.connection).toBe('elsewhere');
    expect(s.sockets.sockets).toHaveLength(1);
    expect(s.room.position).toBe(7);
    expect(s.storage.getItem(TICKET_KEY)).toBe('T-two-tabs');
  });

  it('takes the place back here when the visitor asks, with the same ticket', () => {
    // Prepare
    const s = setup();
    startJoined(s, 'T-two-tabs');
    s.sockets.latest.receive({ type: 'superseded' });

    // Act
    s.room.takeBack();
    s.sockets.latest.open();

    // Assess
    expect(s.sockets.sockets).toHaveLength(2);
    expect(s.sockets.latest.sent).toEqual([{ action: 'resume', ticket: 'T-two-tabs' }]);
    expect(s.room.connection).toBe('live');
  });

  it('ignores a take-back while it holds the place', () => {
    // Prepare
    const s = setup();
    startJoined(s);

    // Act
    s.room.takeBack();

    // Assess
    expect(s.sockets.sockets).toHaveLength(1);
  });
});

describe("the site's identity token", () => {
  it('goes with the join, and a refusal stops the page with nothing more tried', () => {
    // Prepare
    const s = setup({ identity: 'eyJ.site.token' });
    s.room.start();
    s.sockets.latest.open();

    // Act
    const sent = [...s.sockets.latest.sent];
    s.sockets.latest.receive({ type: 'error', code: 'invalid_identity', message: 'expired' });
    vi.advanceTimersByTime(120_000);

    // Assess
    expect(sent).toEqual([
      {
        action: 'join',
        joinKey: anyJoinKey,
        return: '/tickets?show=42',
        identity: 'eyJ.site.token',
      },
    ]);
    expect(s.room.identityRefused).toBe(true);
    expect(s.sockets.sockets).toHaveLength(1);
  });
});

const COMMITMENT = 'cafe'.repeat(16);
const SEED = '5eed'.repeat(16);
const OPENS_AT = Date.UTC(2030, 0, 1, 10) / 1000;

function prequeue(waiting = 40, opensAt = OPENS_AT) {
  return { type: 'prequeue', opensAt, waiting, commitment: COMMITMENT };
}

describe('the pre-queue before a scheduled opening', () => {
  it('counts down to the opening, second by second', () => {
    // Prepare
    vi.setSystemTime(OPENS_AT * 1000 - 90_500);
    const s = setup();
    startJoined(s);

    // Act
    s.sockets.latest.receive(prequeue(40));
    const first = s.room.secondsToOpening;
    vi.advanceTimersByTime(1000);

    // Assess
    expect(s.room.phase).toBe('prequeue');
    expect(s.room.waiting).toBe(40);
    expect(s.room.commitment).toBe(COMMITMENT);
    expect([first, s.room.secondsToOpening]).toEqual([91, 90]);
  });

  it("counts down by the room's clock when the device's clock is off", () => {
    // Prepare: the phone's clock is 5 minutes behind the room's; the room says 90.5 s to go.
    const roomNow = OPENS_AT * 1000 - 90_500;
    vi.setSystemTime(roomNow - 300_000);
    const s = setup();
    startJoined(s);

    // Act
    s.sockets.latest.receive({ ...prequeue(40), now: roomNow / 1000 });
    const first = s.room.secondsToOpening;
    vi.advanceTimersByTime(91_000);

    // Assess
    expect(first).toBe(91);
    expect(s.room.openingNow).toBe(true);
  });

  it('says the line is opening once the countdown runs out, until the first position', () => {
    // Prepare
    vi.setSystemTime(OPENS_AT * 1000 - 2000);
    const s = setup();
    startJoined(s);
    s.sockets.latest.receive(prequeue());

    // Act (the clock ticks just after each turn of the second)
    vi.advanceTimersByTime(2100);
    const opening = s.room.openingNow;
    s.sockets.latest.receive({ ...position(7), draw: { commitment: COMMITMENT, seed: SEED } });

    // Assess
    expect(opening).toBe(true);
    expect(s.room.openingNow).toBe(false);
    expect(s.room.phase).toBe('waiting');
    expect(s.room.position).toBe(7);
    expect(s.room.draw).toEqual({ commitment: COMMITMENT, seed: SEED });
  });

  it('asks for the first position after a quiet spell once the opening has passed', () => {
    // Prepare: 40 in the pre-queue, so the quiet spell is 15 s + 40 / 2500 s.
    vi.setSystemTime(OPENS_AT * 1000 - 1000);
    const s = setup();
    startJoined(s);
    s.sockets.latest.receive(prequeue(40));

    // Act (the clock reaches zero 5 ms after the turn of the second)
    vi.advanceTimersByTime(1005 + 15_016);

    // Assess
    expect(s.sockets.latest.actions()).toEqual(['join', 'status']);
  });

  it.each([
    // members, random, seconds from zero to the ask: 15 s + members / 2500 s, jittered over as much again
    [200_000, 0, 95],
    [200_000, 0.5, 142.5],
    [10_000_000, 0, 300],
  ])(
    'waits for the first drawn position longer the larger the pre-queue (%i members, jitter %d): %d s',
    (members, jitter, seconds) => {
      // Prepare (the keep-alive's ping put off beyond the ask)
      vi.setSystemTime(OPENS_AT * 1000 - 1000);
      const s = setup({ random: () => jitter, timing: { prequeueStatusMs: 9 * 60_000 } });
      startJoined(s);
      s.sockets.latest.receive(prequeue(members));
      const asks = () => s.sockets.latest.actions().filter((a) => a === 'status').length;

      // Act
      vi.advanceTimersByTime(1005 + seconds * 1000 - 1);
      const before = asks();
      vi.advanceTimersByTime(1);

      // Assess
      expect(before).toBe(0);
      expect(asks()).toBe(1);
    },
  );

  it('keeps the socket when the status it asked while the line is drawn gets no answer', () => {
    // Prepare: a pre-queue of 100,000 is told its places over 20 s and more.
    vi.setSystemTime(OPENS_AT * 1000 - 1000);
    const s = setup();
    startJoined(s);
    s.sockets.latest.receive(prequeue(100_000));
    const socket = s.sockets.latest;
    vi.advanceTimersByTime(1005 + 55_000);
    const asked = socket.actions();

    // Act
    vi.advanceTimersByTime(60_000);

    // Assess
    expect(asked).toEqual(['join', 'status']);
    expect(socket.closedByClient).toBe(false);
    expect(s.room.connection).toBe('live');
  });

  it('keeps the socket from idling out while the line is drawn: a ping after 4 quiet minutes', () => {
    // Prepare: a pre-queue so large that the page asks only after 5 minutes or more.
    vi.setSystemTime(OPENS_AT * 1000 - 1000);
    const s = setup({ random: () => 0.9 });
    startJoined(s);
    s.sockets.latest.receive(prequeue(10_000_000));

    // Act
    vi.advanceTimersByTime(4 * 60_000 - 1);
    const before = s.sockets.latest.actions();
    vi.advanceTimersByTime(1);

    // Assess
    expect(before).toEqual(['join']);
    expect(s.sockets.latest.actions()).toEqual(['join', 'ping']);
  });

  it('treats the socket as dead when its ping gets no pong while the line is drawn', () => {
    // Prepare
    vi.setSystemTime(OPENS_AT * 1000 - 1000);
    const s = setup({ random: () => 0.9 });
    startJoined(s);
    s.sockets.latest.receive(prequeue(10_000_000));
    const socket = s.sockets.latest;
    vi.advanceTimersByTime(4 * 60_000);

    // Act
    vi.advanceTimersByTime(20_000);

    // Assess
    expect(socket.actions()).toEqual(['join', 'ping']);
    expect(socket.closedByClient).toBe(true);
  });

  it('waits for the draw again, without a reply timeout, after resuming while the line is drawn', () => {
    // Prepare: the socket is replaced 10 s after the opening.
    vi.setSystemTime(OPENS_AT * 1000 - 1000);
    const s = setup();
    startJoined(s);
    s.sockets.latest.receive(prequeue(200_000));
    vi.advanceTimersByTime(1005 + 10_000);
    s.sockets.latest.drop();
    vi.advanceTimersByTime(250);
    s.sockets.latest.open();
    const resumed = s.sockets.latest;

    // Act
    resumed.receive({ type: 'joined', ticket: 'T1', sessionId: 'S1' });
    vi.advanceTimersByTime(60_000);

    // Assess
    expect(resumed.actions()).toEqual(['resume']);
    expect(resumed.closedByClient).toBe(false);
    expect(s.room.connection).toBe('live');
  });

  it('waits for its drawn place without a reply timeout after a reload while the line is drawn', () => {
    // Prepare: a member of a pre-queue of 200,000 reloads 10 s after the opening.
    vi.setSystemTime(OPENS_AT * 1000 - 60_000);
    const first = setup();
    startJoined(first, 'T-pre');
    first.sockets.latest.receive(prequeue(200_000));
    first.room.stop();
    vi.setSystemTime(OPENS_AT * 1000 + 10_000);
    const second = setup({}, first.storage);
    second.room.start();
    second.sockets.latest.open();
    const socket = second.sockets.latest;

    // Act
    socket.receive({ type: 'joined', ticket: 'T-pre', sessionId: 'S1' });
    vi.advanceTimersByTime(95_000 - 1);
    const before = socket.actions();
    vi.advanceTimersByTime(1);

    // Assess: asked once, 15 s + 200,000 / 2500 s after it came back, and never dropped.
    expect(before).toEqual(['resume']);
    expect(socket.actions()).toEqual(['resume', 'status']);
    expect(socket.closedByClient).toBe(false);
  });

  it('does not ask when the tab comes back while the line is drawn after a reload', () => {
    // Prepare
    vi.setSystemTime(OPENS_AT * 1000 - 60_000);
    const first = setup();
    startJoined(first, 'T-pre');
    first.sockets.latest.receive(prequeue(200_000));
    first.room.stop();
    vi.setSystemTime(OPENS_AT * 1000 + 10_000);
    const second = setup({}, first.storage);
    startJoined(second, 'T-pre');

    // Act
    second.room.handleVisible();
    vi.advanceTimersByTime(30_000);

    // Assess
    expect(second.sockets.latest.actions()).toEqual(['resume']);
    expect(second.sockets.latest.closedByClient).toBe(false);
  });

  it('goes back to the pre-queue keep-alive when a later opening is scheduled during the draw', () => {
    // Prepare: the countdown has run out; then the room sends a pre-queue for an hour later.
    vi.setSystemTime(OPENS_AT * 1000 - 1000);
    const s = setup();
    startJoined(s);
    s.sockets.latest.receive(prequeue(200_000));
    vi.advanceTimersByTime(1005);

    // Act
    s.sockets.latest.receive(prequeue(200_000, OPENS_AT + 3600));
    vi.advanceTimersByTime(4 * 60_000);

    // Assess: the pre-queue's status, answered with a prequeue, not the draw's ask or ping.
    expect(s.room.openingNow).toBe(false);
    expect(s.sockets.latest.actions()).toEqual(['join', 'status']);
  });

  it('goes back to the usual rules once the first drawn position has come', () => {
    // Prepare
    vi.setSystemTime(OPENS_AT * 1000 - 1000);
    const s = setup();
    startJoined(s);
    s.sockets.latest.receive(prequeue(200_000));
    vi.advanceTimersByTime(1005 + 10_000);
    const socket = s.sockets.latest;

    // Act: a position promising nothing, then silence.
    socket.receive({ ...position(7, 100, 60, 0), draw: { commitment: COMMITMENT, seed: SEED } });
    vi.advanceTimersByTime(15_000);
    const asked = socket.actions();
    vi.advanceTimersByTime(20_000);

    // Assess
    expect(asked).toEqual(['join', 'status']);
    expect(socket.closedByClient).toBe(true);
  });

  it('keeps the socket alive in a long pre-queue without asking every few seconds', () => {
    // Prepare
    vi.setSystemTime(OPENS_AT * 1000 - 3_600_000);
    const s = setup();
    startJoined(s);
    s.sockets.latest.receive(prequeue());

    // Act
    vi.advanceTimersByTime(4 * 60_000 - 1);
    const before = s.sockets.latest.actions();
    vi.advanceTimersByTime(1);

    // Assess
    expect(before).toEqual(['join']);
    expect(s.sockets.latest.actions()).toEqual(['join', 'status']);
  });

  it('starts the progress bar afresh from the first drawn place after a re-schedule', () => {
    // Prepare: a place in line, moved from 50 to 10, then a new opening is scheduled.
    vi.setSystemTime(OPENS_AT * 1000 - 60_000);
    const s = setup();
    startJoined(s);
    s.sockets.latest.receive(position(50));
    s.sockets.latest.receive(position(10));

    // Act
    s.sockets.latest.receive(prequeue(80));
    const atJoinInPrequeue = s.room.positionAtJoin;
    const storedInPrequeue = s.storage.getItem(POSITION_AT_JOIN_KEY);
    s.sockets.latest.receive({ ...position(30), draw: { commitment: COMMITMENT, seed: SEED } });

    // Assess
    expect(atJoinInPrequeue).toBeNull();
    expect(storedInPrequeue).toBeNull();
    expect(s.room.positionAtJoin).toBe(30);
    expect(s.room.progress).toBe(0);
  });

  it('keeps its pre-queue membership across a reload: the next page resumes the ticket', () => {
    // Prepare
    vi.setSystemTime(OPENS_AT * 1000 - 60_000);
    const first = setup();
    startJoined(first, 'T-pre');
    first.sockets.latest.receive(prequeue());
    first.room.stop();

    // Act
    const second = setup({}, first.storage);
    second.room.start();
    second.sockets.latest.open();
    second.sockets.latest.receive({ type: 'joined', ticket: 'T-pre', sessionId: 'S1' });
    second.sockets.latest.receive(prequeue(41));

    // Assess
    expect(second.sockets.latest.sent).toEqual([{ action: 'resume', ticket: 'T-pre' }]);
    expect(second.room.phase).toBe('prequeue');
    expect(second.room.waiting).toBe(41);
  });
});

const REAL_SEED = 'a1b2'.repeat(16);
const REAL_COMMITMENT = commitmentOf(REAL_SEED);
/** SHA-256 as the page's WebCrypto makes it, settled without a timer. */
const sha256 = async (text: string) => commitmentOf(text);

function drawnPosition(draw = { commitment: REAL_COMMITMENT, seed: REAL_SEED }) {
  return { ...position(3), draw };
}

describe("the page's own check of the draw", () => {
  it('finds that the drawn seed hashes to the commitment seen in the pre-queue', async () => {
    // Prepare
    const s = setup({ sha256 });
    startJoined(s);
    s.sockets.latest.receive({ ...prequeue(), commitment: REAL_COMMITMENT });

    // Act
    s.sockets.latest.receive(drawnPosition());
    const before = s.room.drawCheck;
    await vi.advanceTimersByTimeAsync(0);

    // Assess
    expect(before).toBeNull();
    expect(s.room.drawCheck).toBe('matches');
  });

  it('warns when the seed does not hash to the commitment seen before the opening', async () => {
    // Prepare
    const s = setup({ sha256 });
    startJoined(s);
    s.sockets.latest.receive({ ...prequeue(), commitment: REAL_COMMITMENT });

    // Act
    s.sockets.latest.receive(drawnPosition({ commitment: REAL_COMMITMENT, seed: SEED }));
    await vi.advanceTimersByTimeAsync(0);

    // Assess
    expect(s.room.drawCheck).toBe('mismatch');
  });

  it('warns when the draw names another commitment than the one seen before, whatever its seed', async () => {
    // Prepare
    const s = setup({ sha256 });
    startJoined(s);
    s.sockets.latest.receive({ ...prequeue(), commitment: REAL_COMMITMENT });

    // Act
    s.sockets.latest.receive(drawnPosition({ commitment: commitmentOf(SEED), seed: SEED }));
    await vi.advanceTimersByTimeAsync(0);

    // Assess
    expect(s.room.drawCheck).toBe('mismatch');
  });

  it('checks against the commitment seen before the opening after a reload past the draw', async () => {
    // Prepare
    const first = setup({ sha256 });
    startJoined(first, 'T-pre');
    first.sockets.latest.receive({ ...prequeue(), commitment: REAL_COMMITMENT });
    first.room.stop();

    // Act
    const second = setup({ sha256 }, first.storage);
    second.room.start();
    second.sockets.latest.open();
    second.sockets.latest.receive({ type: 'joined', ticket: 'T-pre', sessionId: 'S1' });
    second.sockets.latest.receive(drawnPosition());
    await vi.advanceTimersByTimeAsync(0);

    // Assess
    expect(first.storage.getItem(COMMITMENT_KEY)).toBe(REAL_COMMITMENT);
    expect(second.room.drawCheck).toBe('matches');
  });

  it('says only that the seed matches the draw when this browser saw no pre-queue', async () => {
    // Prepare
    const s = setup({ sha256 });
    startJoined(s);

    // Act
    s.sockets.latest.receive(drawnPosition());
    await vi.advanceTimersByTimeAsync(0);

    // Assess
    expect(s.room.drawCheck).toBe('matches-unseen');
  });

  it('says it cannot check where the browser has no WebCrypto', async () => {
    // Prepare
    const s = setup({ sha256: null });
    startJoined(s);
    s.sockets.latest.receive({ ...prequeue(), commitment: REAL_COMMITMENT });

    // Act
    s.sockets.latest.receive(drawnPosition());
    await vi.advanceTimersByTimeAsync(0);

    // Assess
    expect(s.room.drawCheck).toBe('unavailable');
  });

  it('checks with WebCrypto by default', async () => {
    // Prepare
    const s = setup();
    startJoined(s);
    s.sockets.latest.receive({ ...prequeue(), commitment: REAL_COMMITMENT });

    // Act
    s.sockets.latest.receive(drawnPosition());
    await vi.waitFor(() => expect(s.room.drawCheck).not.toBeNull(), { interval: 0 });

    // Assess
    expect(s.room.drawCheck).toBe('matches');
  });

  it('forgets the commitment seen once the visitor is let in', () => {
    // Prepare
    const s = setup({ sha256 });
    startJoined(s);
    s.sockets.latest.receive({ ...prequeue(), commitment: REAL_COMMITMENT });

    // Act
    s.sockets.latest.receive({
      type: 'admitted',
      pass: 'J',
      expiresAt: 2_000_000_000,
      redirectUrl: REDIRECT,
    });

    // Assess
    expect(s.storage.getItem(COMMITMENT_KEY)).toBeNull();
  });
});

/** A solver the test settles by hand. */
function fakeSolver() {
  const calls: {
    challenge: Record<string, unknown>;
    signal: AbortSignal;
    onProgress: (p: { tried: number; expected: number }) => void;
    resolve: (solution: Record<string, unknown>) => void;
    reject: (error: Error) => void;
  }[] = [];
  const solve = vi.fn(
    (
      challenge: Record<string, unknown>,
      options: {
        signal: AbortSignal;
        onProgress: (p: { tried: number; expected: number }) => void;
      },
    ) =>
      new Promise<Record<string, unknown>>((resolve, reject) => {
        calls.push({ challenge, ...options, resolve, reject });
      }),
  );
  return {
    solve,
    calls,
    get latest() {
      const call = calls.at(-1);
      if (call === undefined) throw new Error('the solver was not called');
      return call;
    },
  };
}

const CHALLENGE = { algorithm: 'SHA-256', challenge: 'abc', salt: 's' };
const SOLUTION = { number: 42 };

describe('the browser check (proof of work)', () => {
  it('checks the browser when challenged, then joins again with the proof', async () => {
    // Prepare
    const solver = fakeSolver();
    const s = setup({ solve: solver.solve, identity: 'eyJ.id' });
    s.room.start();
    s.sockets.latest.open();

    // Act
    s.sockets.latest.receive({ type: 'challenge', challenge: CHALLENGE });
    const phase = s.room.phase;
    solver.latest.resolve(SOLUTION);
    await Promise.resolve();

    // Assess
    expect(phase).toBe('checking');
    expect(solver.latest.challenge).toEqual(CHALLENGE);
    expect(s.sockets.latest.sent.at(-1)).toEqual({
      action: 'join',
      joinKey: anyJoinKey,
      return: '/tickets?show=42',
      identity: 'eyJ.id',
      proof: { challenge: CHALLENGE, solution: SOLUTION },
    });
  });

  it('shows the progress below 100%, and takes a place once joined', () => {
    // Prepare
    const solver = fakeSolver();
    const s = setup({ solve: solver.solve });
    s.room.start();
    s.sockets.latest.open();
    s.sockets.latest.receive({ type: 'challenge', challenge: CHALLENGE });

    // Act
    const before = s.room.proofProgress;
    solver.latest.onProgress({ tried: 500, expected: 1000 });
    const halfway = s.room.proofProgress;
    solver.latest.onProgress({ tried: 50_000, expected: 1000 });
    const late = s.room.proofProgress;
    s.sockets.latest.receive({ type: 'joined', ticket: 'T1', sessionId: 'S1' });

    // Assess
    expect([before, halfway, late]).toEqual([null, 25, 99]);
    expect(s.room.phase).toBe('waiting');
    expect(s.room.proofProgress).toBeNull();
  });

  it('asks for a new challenge with a plain join when the proof is refused', () => {
    // Prepare
    const solver = fakeSolver();
    const s = setup({ solve: solver.solve });
    s.room.start();
    s.sockets.latest.open();
    s.sockets.latest.receive({ type: 'challenge', challenge: CHALLENGE });

    // Act
    s.sockets.latest.receive({ type: 'error', code: 'invalid_proof', message: 'expired' });

    // Assess
    expect(s.sockets.latest.sent.at(-1)).toEqual({
      action: 'join',
      joinKey: anyJoinKey,
      return: '/tickets?show=42',
    });
    expect(s.room.proofFailed).toBe(false);
  });

  it('asks the visitor after three refusals, and starts over when they try again', () => {
    // Prepare
    const solver = fakeSolver();
    const s = setup({ solve: solver.solve });
    s.room.start();
    s.sockets.latest.open();
    for (let i = 0; i < 3; i += 1) {
      s.sockets.latest.receive({ type: 'challenge', challenge: CHALLENGE });
      s.sockets.latest.receive({ type: 'error', code: 'invalid_proof', message: 'wrong' });
    }
    const joinsBefore = s.sockets.latest.actions().length;
    const failed = s.room.proofFailed;

    // Act
    s.room.retryProof();

    // Assess
    expect(failed).toBe(true);
    expect(joinsBefore).toBe(3);
    expect(s.room.proofFailed).toBe(false);
    expect(s.sockets.latest.sent.at(-1)).toEqual({
      action: 'join',
      joinKey: anyJoinKey,
      return: '/tickets?show=42',
    });
  });

  it('counts a solver that cannot find a solution like a refused proof', async () => {
    // Prepare
    const solver = fakeSolver();
    const s = setup({ solve: solver.solve });
    s.room.start();
    s.sockets.latest.open();

    // Act
    for (let i = 0; i < 3; i += 1) {
      s.sockets.latest.receive({ type: 'challenge', challenge: CHALLENGE });
      solver.latest.reject(new Error('not built yet'));
      await Promise.resolve();
      await Promise.resolve();
    }

    // Assess
    expect(s.room.proofFailed).toBe(true);
    expect(s.sockets.latest.actions()).toEqual(['join', 'join', 'join']);
  });

  it('aborts the search when the socket drops, and starts over with a plain join on reconnect', async () => {
    // Prepare
    const solver = fakeSolver();
    const s = setup({ solve: solver.solve });
    s.room.start();
    s.sockets.latest.open();
    s.sockets.latest.receive({ type: 'challenge', challenge: CHALLENGE });
    const first = solver.latest;

    // Act
    s.sockets.latest.drop();
    first.resolve(SOLUTION);
    await Promise.resolve();
    vi.advanceTimersByTime(250);
    s.sockets.latest.open();

    // Assess
    expect(first.signal.aborted).toBe(true);
    expect(s.sockets.sockets).toHaveLength(2);
    expect(s.sockets.sockets[0]?.actions()).toEqual(['join']);
    expect(s.sockets.latest.sent).toEqual([
      { action: 'join', joinKey: anyJoinKey, return: '/tickets?show=42' },
    ]);
  });

  it('never pays a proof for a place it already holds', () => {
    // Prepare
    const solver = fakeSolver();
    const s = setup({ solve: solver.solve });
    startJoined(s);

    // Act
    s.sockets.latest.receive({ type: 'challenge', challenge: CHALLENGE });
    s.sockets.latest.receive({ type: 'error', code: 'invalid_proof', message: 'stray' });

    // Assess
    expect(solver.solve).not.toHaveBeenCalled();
    expect(s.sockets.latest.actions()).toEqual(['join']);
    expect(s.room.phase).toBe('waiting');
  });
});

const NOW = Date.UTC(2030, 0, 1, 9);
/** A challenge as the room makes them: alive for 5 minutes from `NOW`. */
const EXPIRING_CHALLENGE = {
  parameters: { nonce: 'n1', expiresAt: NOW / 1000 + 300, data: { attempts: 1000 } },
  signature: 'sig',
};
const PROOF = { challenge: EXPIRING_CHALLENGE, solution: SOLUTION };

/** Starts the room, has it challenged, solves the challenge and sends the proof. */
async function joinWithProof(s: Setup, solver: ReturnType<typeof fakeSolver>): Promise<void> {
  s.room.start();
  s.sockets.latest.open();
  s.sockets.latest.receive({ type: 'challenge', challenge: EXPIRING_CHALLENGE });
  solver.latest.resolve(SOLUTION);
  await Promise.resolve();
}

describe('a proof the room did not spend', () => {
  it.each(['rate_limited', 'internal'])(
    'joins again with the same proof after %s, without solving again',
    async (code) => {
      // Prepare
      vi.setSystemTime(NOW);
      const solver = fakeSolver();
      const s = setup({ solve: solver.solve });
      await joinWithProof(s, solver);

      // Act
      s.sockets.latest.receive({ type: 'error', code, message: 'not now' });
      vi.advanceTimersByTime(10_000);
      s.sockets.latest.open();

      // Assess
      expect(s.sockets.sockets).toHaveLength(2);
      expect(s.sockets.latest.sent).toEqual([
        { action: 'join', joinKey: anyJoinKey, return: '/tickets?show=42', proof: PROOF },
      ]);
      expect(solver.solve).toHaveBeenCalledTimes(1);
    },
  );

  it('asks for a new challenge once the kept proof has expired', async () => {
    // Prepare
    vi.setSystemTime(NOW);
    const solver = fakeSolver();
    const s = setup({ solve: solver.solve });
    await joinWithProof(s, solver);
    s.sockets.latest.receive({ type: 'error', code: 'rate_limited', message: 'not now' });

    // Act
    vi.setSystemTime(NOW + 300_000);
    vi.advanceTimersByTime(10_000);
    s.sockets.latest.open();

    // Assess
    expect(s.sockets.latest.sent).toEqual([
      { action: 'join', joinKey: anyJoinKey, return: '/tickets?show=42' },
    ]);
  });

  it('drops the kept proof when the room refuses it', async () => {
    // Prepare
    vi.setSystemTime(NOW);
    const solver = fakeSolver();
    const s = setup({ solve: solver.solve });
    await joinWithProof(s, solver);
    s.sockets.latest.receive({ type: 'error', code: 'rate_limited', message: 'not now' });
    vi.advanceTimersByTime(10_000);
    s.sockets.latest.open();

    // Act
    s.sockets.latest.receive({ type: 'error', code: 'invalid_proof', message: 'spent' });
    s.sockets.latest.drop();
    vi.advanceTimersByTime(10_000);
    s.sockets.latest.open();

    // Assess
    expect(s.sockets.sockets[1]?.sent.at(-1)).toEqual({
      action: 'join',
      joinKey: anyJoinKey,
      return: '/tickets?show=42',
    });
    expect(s.sockets.latest.sent).toEqual([
      { action: 'join', joinKey: anyJoinKey, return: '/tickets?show=42' },
    ]);
  });

  it('never sends a proof again once it took a place', async () => {
    // Prepare
    vi.setSystemTime(NOW);
    const solver = fakeSolver();
    const s = setup({ solve: solver.solve });
    await joinWithProof(s, solver);
    s.sockets.latest.receive({ type: 'joined', ticket: 'T1', sessionId: 'S1' });

    // Act: the place is gone (abandoned), so the page takes a new one.
    s.sockets.latest.receive({ type: 'error', code: 'invalid_ticket', message: 'unknown ticket' });

    // Assess
    expect(s.sockets.latest.sent.at(-1)).toEqual({
      action: 'join',
      joinKey: anyJoinKey,
      return: '/tickets?show=42',
    });
  });
});

describe("the operator's notice", () => {
  it('shows the latest notice in any state, and takes it down on null', () => {
    // Prepare
    const s = setup();
    startJoined(s);
    s.sockets.latest.receive(prequeue());

    // Act
    s.sockets.latest.receive({ type: 'notice', message: 'Doors open at 10.' });
    s.sockets.latest.receive({ type: 'notice', message: 'Doors open at 10:30 instead.' });
    const shown = s.room.notice;
    s.sockets.latest.receive({ type: 'notice', message: null });

    // Assess
    expect(shown).toBe('Doors open at 10:30 instead.');
    expect(s.room.notice).toBeNull();
  });
});

describe("the operator's notice after a reconnect", () => {
  it('takes an old banner down at joined, and puts up the one the room sends after it', () => {
    // Prepare
    const s = setup();
    startJoined(s, 'T-notice');
    s.sockets.latest.receive({ type: 'notice', message: 'Doors open at 10.' });

    // Act
    s.sockets.latest.receive({ type: 'joined', ticket: 'T-notice', sessionId: 's-1' });
    const afterJoined = s.room.notice;
    s.sockets.latest.receive({ type: 'notice', message: 'Doors open at 10:30.' });

    // Assess
    expect(afterJoined).toBeNull();
    expect(s.room.notice).toBe('Doors open at 10:30.');
  });
});

describe('a closed sale', () => {
  it("shows the operator's words, forgets the ticket and stops for good", () => {
    // Prepare
    const s = setup();
    startJoined(s, 'T-closed');
    s.sockets.latest.receive(position(3));
    s.sockets.latest.receive({ type: 'notice', message: 'Almost sold out.' });

    // Act
    s.sockets.latest.receive({ type: 'closed', message: 'All tickets are sold. Thank you!' });
    vi.advanceTimersByTime(10 * 60_000);
    s.room.handleOnline();
    s.room.handleVisible();

    // Assess
    expect(s.room.phase).toBe('closed');
    expect(s.room.closedMessage).toBe('All tickets are sold. Thank you!');
    expect(s.room.notice).toBeNull();
    expect(s.storage.getItem(TICKET_KEY)).toBeNull();
    expect(s.storage.getItem(POSITION_AT_JOIN_KEY)).toBeNull();
    expect(s.sockets.sockets).toHaveLength(1);
    expect(s.sockets.latest.closedByClient).toBe(true);
  });

  it('joins afresh after a reload, without a ticket, to hear it again', () => {
    // Prepare
    const first = setup();
    startJoined(first, 'T-closed');
    first.sockets.latest.receive({ type: 'closed', message: '' });

    // Act
    const second = setup({}, first.storage);
    second.room.start();
    second.sockets.latest.open();

    // Assess
    expect(second.sockets.latest.sent).toEqual([
      { action: 'join', joinKey: anyJoinKey, return: '/tickets?show=42' },
    ]);
  });
});
