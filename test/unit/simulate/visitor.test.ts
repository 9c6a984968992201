/**
 * The simulated visitor's state machine, played with a fake socket and a manual clock: what it
 * sends, when it drops and comes back, and where it ends.
 */
import { describe, expect, it } from 'vitest';
import type { TraceEvent, VisitorPlan, VisitorState } from '../../../tools/simulate/events.ts';
import {
  DEFAULT_VISITOR_SETTINGS,
  type SimSocket,
  SimVisitor,
  type SocketEvents,
  type VisitorEnv,
} from '../../../tools/simulate/visitor.ts';
import { planOf } from './trace-builder.ts';

/** The key a visitor sends with its joins, as the page: 128 random bits, base64url. */
const anyJoinKey = expect.stringMatching(/^[\w-]{22}$/);

class FakeSocket implements SimSocket {
  readonly sent: Record<string, unknown>[] = [];
  closed: 'clean' | 'abrupt' | null = null;
  constructor(readonly events: SocketEvents) {}
  send(text: string): void {
    this.sent.push(JSON.parse(text) as Record<string, unknown>);
  }
  close(abrupt: boolean): void {
    this.closed = abrupt ? 'abrupt' : 'clean';
  }
  open(): void {
    this.events.open();
  }
  receive(message: object): void {
    this.events.message(JSON.stringify(message));
  }
  receiveRaw(text: string): void {
    this.events.message(text);
  }
  /** The connection fails or breaks from the other side. */
  fail(code = 1006): void {
    this.events.close(code);
  }
}

/** A manual clock with timers, sockets the test drives, and the visitor's events. */
class Harness implements VisitorEnv {
  time = 1_000_000;
  readonly sockets: FakeSocket[] = [];
  readonly events: TraceEvent[] = [];
  readonly settledAs: VisitorState[] = [];
  #timers: { at: number; fn: () => void; live: boolean }[] = [];

  now = () => this.time;
  random = () => 0.5;
  connect = (_plan: VisitorPlan, events: SocketEvents): SimSocket => {
    const socket = new FakeSocket(events);
    this.sockets.push(socket);
    return socket;
  };
  schedule = (ms: number, fn: () => void) => {
    const timer = { at: this.time + ms, fn, live: true };
    this.#timers.push(timer);
    return () => {
      timer.live = false;
    };
  };
  emit = (_index: number, event: TraceEvent) => {
    this.events.push(event);
  };
  settled = (_index: number, state: VisitorState) => {
    this.settledAs.push(state);
  };

  /** Moves the clock on, running every timer that falls due, in order. */
  advance(ms: number): void {
    const until = this.time + ms;
    for (;;) {
      const due = this.#timers
        .filter((t) => t.live && t.at <= until)
        .sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      due.live = false;
      this.time = due.at;
      due.fn();
    }
    this.time = until;
  }

  get socket(): FakeSocket {
    const socket = this.sockets.at(-1);
    if (!socket) throw new Error('no socket opened');
    return socket;
  }

  kinds(): string[] {
    return this.events.map((e) => e.k);
  }
}

function joinedVisitor(plan: VisitorPlan) {
  const env = new Harness();
  const visitor = new SimVisitor(plan, env, { ...DEFAULT_VISITOR_SETTINGS, quietMs: 20_000 });
  visitor.start();
  env.socket.open();
  env.socket.receive({ type: 'joined', ticket: 'ticket-1', sessionId: 'session-1' });
  return { env, visitor };
}

describe('a simulated visitor', () => {
  it('joins with its own return path as soon as the socket opens', () => {
    // Prepare
    const env = new Harness();
    const visitor = new SimVisitor(planOf(4), env);

    // Act
    visitor.start();
    env.socket.open();

    // Assess
    expect(env.socket.sent).toEqual([{ action: 'join', joinKey: anyJoinKey, return: '/sim/4' }]);
    expect(visitor.state).toBe('joining');
    expect(env.kinds()).toEqual(['dial', 'open', 'send']);
  });

  it('waits, asks with status when the room is silent longer than it promised, and leaves with its pass', () => {
    // Prepare: the room promises news within 10 s (20 s at most, with slack, is asked after).
    const { env, visitor } = joinedVisitor(planOf(1));
    env.socket.receive({
      type: 'position',
      position: 3,
      waiting: 3,
      etaSeconds: 2,
      nextUpdateSeconds: 10,
    });

    // Act
    env.advance(20_000);
    env.socket.receive({
      type: 'position',
      position: 2,
      waiting: 2,
      etaSeconds: 1,
      nextUpdateSeconds: 10,
    });
    env.socket.receive({
      type: 'admitted',
      pass: 'p',
      expiresAt: 1,
      redirectUrl: 'http://x/sim/1?wr_pass=p',
    });

    // Assess
    expect(env.socket.sent.map((m) => m.action)).toEqual(['join', 'status']);
    expect(env.socket.closed).toBe('clean');
    expect(visitor.state).toBe('done');
    expect(env.settledAs).toEqual(['done']);
    expect(env.kinds()).toEqual([
      'dial',
      'open',
      'send',
      'joined',
      'position',
      'send',
      'position',
      'admitted',
      'close',
    ]);
  });

  it('drops its socket at the planned share of the expected wait and resumes after the pause', () => {
    // Prepare: the first position says 10 s to go; the drop is planned at half of it.
    const { env, visitor } = joinedVisitor(planOf(2, { churn: { atShare: 0.5, pauseMs: 1500 } }));
    env.socket.receive({ type: 'position', position: 50, waiting: 50, etaSeconds: 10 });
    const first = env.socket;

    // Act
    env.advance(5000);
    const droppedState = visitor.state;
    env.advance(1500);
    env.socket.open();
    env.socket.receive({ type: 'joined', ticket: 'ticket-1', sessionId: 'session-1' });

    // Assess
    expect(first.closed).toBe('abrupt');
    expect(droppedState).toBe('paused');
    expect(env.sockets).toHaveLength(2);
    expect(env.socket.sent).toEqual([{ action: 'resume', ticket: 'ticket-1' }]);
    expect(visitor.state).toBe('waiting');
    expect(env.events.find((e) => e.k === 'drop')).toEqual({
      t: 1_005_000,
      k: 'drop',
      pauseMs: 1500,
    });
  });

  it('does not churn once it has been admitted', () => {
    // Prepare
    const { env, visitor } = joinedVisitor(planOf(2, { churn: { atShare: 0.5, pauseMs: 1500 } }));
    env.socket.receive({ type: 'position', position: 5, waiting: 5, etaSeconds: 10 });
    env.socket.receive({
      type: 'admitted',
      pass: 'p',
      expiresAt: 1,
      redirectUrl: 'http://x/sim/2?wr_pass=p',
    });

    // Act
    env.advance(60_000);

    // Assess
    expect(env.sockets).toHaveLength(1);
    expect(env.kinds()).not.toContain('drop');
    expect(visitor.state).toBe('done');
  });

  it('is lost when its resume is answered invalid_ticket', () => {
    // Prepare
    const { env, visitor } = joinedVisitor(planOf(3, { churn: { atShare: 0.1, pauseMs: 300 } }));
    env.socket.receive({ type: 'position', position: 5, waiting: 5, etaSeconds: 10 });
    env.advance(1300);

    // Act
    env.socket.open();
    env.socket.receive({ type: 'error', code: 'invalid_ticket', message: 'no' });

    // Assess
    expect(visitor.state).toBe('lost');
    expect(env.settledAs).toEqual(['lost']);
  });

  it('abandons for good at its planned moment', () => {
    // Prepare
    const { env, visitor } = joinedVisitor(planOf(5, { abandon: { atShare: 0.5 } }));
    env.socket.receive({ type: 'position', position: 9, waiting: 9, etaSeconds: 4 });

    // Act
    env.advance(2000);

    // Assess
    expect(visitor.state).toBe('abandoned');
    expect(env.socket.closed).toBe('clean');
    env.advance(60_000);
    expect(env.sockets).toHaveLength(1);
  });

  it('comes back once after admission to check that the pass is the same', () => {
    // Prepare
    const { env, visitor } = joinedVisitor(planOf(6, { recheck: { pauseMs: 400 } }));
    env.socket.receive({
      type: 'admitted',
      pass: 'p',
      expiresAt: 1,
      redirectUrl: 'http://x/sim/6?wr_pass=p',
    });

    // Act
    env.advance(400);
    env.socket.open();
    env.socket.receive({ type: 'joined', ticket: 'ticket-1', sessionId: 'session-1' });
    env.socket.receive({
      type: 'admitted',
      pass: 'p',
      expiresAt: 1,
      redirectUrl: 'http://x/sim/6?wr_pass=p',
    });

    // Assess
    expect(env.sockets).toHaveLength(2);
    expect(env.socket.sent).toEqual([{ action: 'resume', ticket: 'ticket-1' }]);
    expect(visitor.state).toBe('done');
    expect(
      env.events.filter((e) => e.k === 'dial').map((e) => (e as { purpose: string }).purpose),
    ).toEqual(['join', 'recheck']);
  });

  it('reconnects and resumes when the room drops its socket', () => {
    // Prepare
    const { env, visitor } = joinedVisitor(planOf(7));

    // Act
    env.socket.fail();
    env.advance(1000);
    env.socket.open();

    // Assess
    expect(env.events.find((e) => e.k === 'close')).toMatchObject({ expected: false, code: 1006 });
    expect(env.socket.sent).toEqual([{ action: 'resume', ticket: 'ticket-1' }]);
    expect(visitor.state).toBe('resuming');
  });

  it('gives up after a bounded number of failed connections', () => {
    // Prepare
    const env = new Harness();
    const visitor = new SimVisitor(planOf(8), env, {
      ...DEFAULT_VISITOR_SETTINGS,
      maxDialAttempts: 3,
    });

    // Act
    visitor.start();
    for (let i = 0; i < 3; i += 1) {
      env.socket.fail();
      env.advance(10_000);
    }

    // Assess
    expect(env.sockets).toHaveLength(3);
    expect(visitor.state).toBe('failed');
    expect(env.events.at(-1)).toMatchObject({
      k: 'give-up',
      reason: 'no connection after 3 attempts',
    });
  });

  it('stops on demand: timers cancelled, socket closed, state recorded', () => {
    // Prepare
    const { env, visitor } = joinedVisitor(planOf(9, { abandon: { atShare: 0.5 } }));
    env.socket.receive({ type: 'position', position: 9, waiting: 9, etaSeconds: 4 });

    // Act
    visitor.stop();
    env.advance(60_000);

    // Assess
    expect(env.events.filter((e) => e.k === 'stop')).toEqual([
      { t: 1_000_000, k: 'stop', state: 'waiting' },
    ]);
    expect(env.kinds()).not.toContain('abandon');
    expect(env.socket.closed).toBe('clean');
    expect(visitor.state).toBe('stopped');
  });
});

describe('a simulated visitor at a scheduled opening', () => {
  const COMMITMENT = 'c0'.repeat(32);

  it('records prequeue with the commitment once, and churns within the pre-queue, resuming with its ticket', () => {
    // Prepare: the opening 10 s away; churn planned at half of the wait.
    const { env, visitor } = joinedVisitor(planOf(2, { churn: { atShare: 0.5, pauseMs: 1000 } }));
    const opensAt = Math.ceil((env.time + 10_000) / 1000);

    // Act
    env.socket.receive({ type: 'prequeue', opensAt, waiting: 3, commitment: COMMITMENT });
    env.socket.receive({ type: 'prequeue', opensAt, waiting: 4, commitment: COMMITMENT });
    env.advance(5_500);
    const dropped = env.sockets[0] as FakeSocket;
    env.advance(1_000);
    env.socket.open();
    env.socket.receive({ type: 'joined', ticket: 'ticket-1', sessionId: 'session-1' });

    // Assess
    const prequeues = env.events.filter((e) => e.k === 'prequeue');
    expect(prequeues.map((e) => (e as { commitment: string | null }).commitment)).toEqual([
      COMMITMENT,
      null,
    ]);
    expect(dropped.closed).toBe('abrupt');
    expect(env.socket.sent).toEqual([{ action: 'resume', ticket: 'ticket-1' }]);
    expect(visitor.state).toBe('waiting');
  });

  it('records the draw once when drawn positions come, and marks them drawn', () => {
    // Prepare
    const { env } = joinedVisitor(planOf(3));
    const draw = { seed: 'ab'.repeat(32), commitment: COMMITMENT };

    // Act
    for (const position of [3, 2]) {
      env.socket.receive({
        type: 'position',
        position,
        waiting: 9,
        etaSeconds: 5,
        nextUpdateSeconds: 5,
        draw,
      });
    }

    // Assess
    expect(env.events.filter((e) => e.k === 'draw')).toHaveLength(1);
    expect(
      env.events.filter((e) => e.k === 'position').map((e) => 'drawn' in e && e.drawn),
    ).toEqual([true, true]);
  });
});

describe('a simulated visitor asked for a proof of work', () => {
  const CHALLENGE = { parameters: { algorithm: 'PBKDF2/SHA-256', data: { attempts: 50 } } };
  const settle = () => new Promise((resolve) => setImmediate(resolve));

  it('solves the challenge, joins with the proof, and replays the spent proof on a socket of its own', async () => {
    // Prepare
    const env = new Harness();
    const solved: unknown[] = [];
    const envWithSolver: VisitorEnv = Object.assign(env, {
      solve: async (challenge: Record<string, unknown>) => {
        solved.push(challenge);
        return { solution: { counter: 7, derivedKey: 'k' }, ms: 12, queuedMs: 1 };
      },
    });
    const visitor = new SimVisitor(planOf(5, { replay: { pauseMs: 200 } }), envWithSolver);
    visitor.start();
    env.socket.open();

    // Act
    env.socket.receive({ type: 'challenge', challenge: CHALLENGE });
    await settle();
    env.socket.receive({ type: 'joined', ticket: 'ticket-5', sessionId: 'session-5' });
    env.advance(200);
    const replay = env.socket;
    replay.open();
    replay.receive({ type: 'error', code: 'invalid_proof', message: 'spent' });

    // Assess
    const proof = { challenge: CHALLENGE, solution: { counter: 7, derivedKey: 'k' } };
    expect(solved).toEqual([CHALLENGE]);
    expect((env.sockets[0] as FakeSocket).sent).toEqual([
      { action: 'join', joinKey: anyJoinKey, return: '/sim/5' },
      { action: 'join', joinKey: anyJoinKey, return: '/sim/5', proof },
    ]);
    expect(replay.sent).toEqual([{ action: 'join', return: '/sim/5', proof }]);
    expect(replay.closed).toBe('clean');
    expect(env.events.filter((e) => ['challenge', 'solved', 'replay'].includes(e.k))).toEqual([
      { t: expect.any(Number), k: 'challenge', attempts: 50 },
      { t: expect.any(Number), k: 'solved', ms: 12, queuedMs: 1, ok: true },
      { t: expect.any(Number), k: 'replay', result: 'refused' },
    ]);
    expect(visitor.state).toBe('waiting');
  });

  it('still replays its spent proof when admitted within the pause, and settles only once the replay is answered', async () => {
    // Prepare: admitted 50 ms after its place was taken, before the 200 ms pause is over.
    const env = Object.assign(new Harness(), {
      solve: async () => ({ solution: { counter: 3, derivedKey: 'k' }, ms: 9, queuedMs: 0 }),
    });
    const visitor = new SimVisitor(planOf(8, { replay: { pauseMs: 200 } }), env);
    visitor.start();
    env.socket.open();
    env.socket.receive({ type: 'challenge', challenge: CHALLENGE });
    await settle();
    env.socket.receive({ type: 'joined', ticket: 'ticket-8', sessionId: 'session-8' });
    env.advance(50);
    env.socket.receive({
      type: 'admitted',
      pass: 'pass-8',
      expiresAt: 0,
      redirectUrl: 'http://main/sim/8?wr_pass=pass-8',
    });
    const settledAtAdmission = [...env.settledAs];

    // Act
    env.advance(150);
    const replay = env.socket;
    replay.open();
    replay.receive({ type: 'error', code: 'invalid_proof', message: 'spent' });

    // Assess
    expect(settledAtAdmission).toEqual([]);
    expect(env.sockets).toHaveLength(2);
    expect(replay.sent).toEqual([
      {
        action: 'join',
        return: '/sim/8',
        proof: { challenge: CHALLENGE, solution: { counter: 3, derivedKey: 'k' } },
      },
    ]);
    expect(env.events.filter((e) => e.k === 'replay')).toEqual([
      { t: expect.any(Number), k: 'replay', result: 'refused' },
    ]);
    expect(visitor.state).toBe('done');
    expect(env.settledAs).toEqual(['done']);
  });

  it('reports a replay the stop cuts short as unfinished, and settles once', async () => {
    // Prepare
    const env = Object.assign(new Harness(), {
      solve: async () => ({ solution: { counter: 3, derivedKey: 'k' }, ms: 9, queuedMs: 0 }),
    });
    const visitor = new SimVisitor(planOf(9, { replay: { pauseMs: 200 } }), env);
    visitor.start();
    env.socket.open();
    env.socket.receive({ type: 'challenge', challenge: CHALLENGE });
    await settle();
    env.socket.receive({ type: 'joined', ticket: 'ticket-9', sessionId: 'session-9' });
    env.advance(200);
    env.socket.open();

    // Act: the run stops while the replay waits for its answer.
    visitor.stop();
    env.advance(60_000);

    // Assess
    expect(env.events.filter((e) => e.k === 'replay')).toEqual([
      { t: expect.any(Number), k: 'replay', result: 'unfinished' },
    ]);
    expect(env.socket.closed).toBe('clean');
    expect(env.settledAs).toEqual(['stopped']);
  });

  it('joins plainly again after invalid_proof, which brings a new challenge', async () => {
    // Prepare
    const env = Object.assign(new Harness(), {
      solve: async () => ({ solution: { counter: 1, derivedKey: 'x' }, ms: 5, queuedMs: 0 }),
    });
    const visitor = new SimVisitor(planOf(6), env);
    visitor.start();
    env.socket.open();
    env.socket.receive({ type: 'challenge', challenge: CHALLENGE });
    await settle();

    // Act
    env.socket.receive({ type: 'error', code: 'invalid_proof', message: 'no' });
    env.advance(500);

    // Assess
    expect(env.socket.sent.at(-1)).toEqual({
      action: 'join',
      joinKey: anyJoinKey,
      return: '/sim/6',
    });
    expect(visitor.state).toBe('joining');
  });

  it('fails when the challenge cannot be solved', async () => {
    // Prepare
    const env = new Harness();
    const visitor = new SimVisitor(planOf(7), env);
    visitor.start();
    env.socket.open();

    // Act: no solver at all
    env.socket.receive({ type: 'challenge', challenge: CHALLENGE });
    await settle();

    // Assess
    expect(visitor.state).toBe('failed');
    expect(env.kinds()).toContain('solved');
  });
});

describe('a simulated visitor whose join or resume is refused or unanswered, as the page', () => {
  const THROTTLED = '{"message": "Too Many Requests", "connectionId":"c", "requestId":"r"}';
  const FAILED = '{"message": "Internal server error", "connectionId":"c", "requestId":"r"}';

  /** The retry events, without their timestamps. */
  const retries = (env: Harness) =>
    env.events.flatMap((e) =>
      e.k === 'retry' ? [{ reason: e.reason, purpose: e.purpose, delayMs: e.delayMs }] : [],
    );

  it('drops the socket after internal and joins again on a new one after the backoff', () => {
    // Prepare
    const env = new Harness();
    const visitor = new SimVisitor(planOf(1), env);
    visitor.start();
    env.socket.open();
    const first = env.socket;

    // Act: the page's first step is 500 ms, half of it fixed: 375 ms with the harness's 0.5.
    first.receive({ type: 'error', code: 'internal', message: 'oops' });
    const stateAfterRefusal = visitor.state;
    env.advance(374);
    const socketsBefore = env.sockets.length;
    env.advance(1);
    env.socket.open();

    // Assess
    expect(first.closed).toBe('clean');
    expect(stateAfterRefusal).toBe('paused');
    expect(socketsBefore).toBe(1);
    expect(env.sockets).toHaveLength(2);
    expect(env.socket.sent).toEqual([{ action: 'join', joinKey: anyJoinKey, return: '/sim/1' }]);
    expect(retries(env)).toEqual([{ reason: 'internal', purpose: 'join', delayMs: 375 }]);
    expect(visitor.state).toBe('joining');
  });

  it('backs off longer with each refusal in a row, and from the start again once joined', () => {
    // Prepare
    const env = new Harness();
    const visitor = new SimVisitor(planOf(2), env);
    visitor.start();

    // Act: three refusals, a place, then a lost socket.
    for (let i = 0; i < 3; i += 1) {
      env.socket.open();
      env.socket.receive({ type: 'error', code: 'internal', message: 'oops' });
      env.advance(2000);
    }
    env.socket.open();
    env.socket.receive({ type: 'joined', ticket: 'ticket-2', sessionId: 'session-2' });
    env.socket.fail();

    // Assess
    expect(retries(env).map((r) => r.delayMs)).toEqual([375, 750, 1500, 375]);
    expect(retries(env).at(-1)).toEqual({ reason: 'closed', purpose: 'resume', delayMs: 375 });
    expect(visitor.state).toBe('paused');
  });

  it('skips the quick first steps after rate_limited (4-8 s)', () => {
    // Prepare
    const env = new Harness();
    new SimVisitor(planOf(3), env).start();
    env.socket.open();

    // Act
    env.socket.receive({ type: 'error', code: 'rate_limited', message: 'slow down' });
    env.advance(5999);
    const socketsBefore = env.sockets.length;
    env.advance(1);

    // Assess
    expect(retries(env)).toEqual([{ reason: 'rate_limited', purpose: 'join', delayMs: 6000 }]);
    expect(socketsBefore).toBe(1);
    expect(env.sockets).toHaveLength(2);
  });

  it("handles API Gateway's error frames: failed as internal, throttled as rate_limited, on the same socket", () => {
    // Prepare
    const env = new Harness();
    new SimVisitor(planOf(4), env).start();
    env.socket.open();

    // Act
    env.socket.receiveRaw(FAILED);
    env.advance(375);
    env.socket.receiveRaw(THROTTLED);
    env.advance(6000);

    // Assess
    expect(env.events.filter((e) => e.k === 'error')).toEqual([
      { t: expect.any(Number), k: 'error', code: 'apigw: Internal server error' },
      { t: expect.any(Number), k: 'error', code: 'apigw: Too Many Requests' },
    ]);
    expect(env.kinds()).not.toContain('garbled');
    expect(retries(env)).toEqual([
      { reason: 'apigw: Internal server error', purpose: 'join', delayMs: 375 },
      { reason: 'apigw: Too Many Requests', purpose: 'join', delayMs: 6000 },
    ]);
    // The join asked again twice on the one socket, never a new one.
    expect(env.sockets).toHaveLength(1);
    expect(env.socket.sent.map((m) => (m as { action: string }).action)).toEqual([
      'join',
      'join',
      'join',
    ]);
  });

  it('joins again on a new socket when its join goes unanswered for 20 s, as the page', () => {
    // Prepare
    const env = new Harness();
    const visitor = new SimVisitor(planOf(5), env);
    visitor.start();
    env.socket.open();
    const first = env.socket;

    // Act
    env.advance(19_999);
    const closedEarly = first.closed;
    env.advance(1);
    env.advance(375);
    env.socket.open();

    // Assess
    expect(closedEarly).toBeNull();
    expect(first.closed).toBe('clean');
    expect(env.socket.sent).toEqual([{ action: 'join', joinKey: anyJoinKey, return: '/sim/5' }]);
    // The same place asked for again: its first join may have made it.
    expect((env.socket.sent[0] as { joinKey: string }).joinKey).toBe(
      (first.sent[0] as { joinKey: string }).joinKey,
    );
    expect(retries(env)).toEqual([{ reason: 'no answer', purpose: 'join', delayMs: 375 }]);
    expect(visitor.state).toBe('joining');
  });

  it('counts any frame as an answer, even one it cannot read', () => {
    // Prepare
    const env = new Harness();
    new SimVisitor(planOf(6), env).start();
    env.socket.open();

    // Act
    env.advance(10_000);
    env.socket.receiveRaw('not json');
    env.advance(15_000);

    // Assess
    expect(env.sockets).toHaveLength(1);
    expect(retries(env)).toEqual([]);
  });

  it('takes its place back with the ticket when a resume is refused', () => {
    // Prepare
    const { env, visitor } = joinedVisitor(planOf(7));
    env.socket.fail();
    env.advance(375);
    env.socket.open();

    // Act
    env.socket.receive({ type: 'error', code: 'internal', message: 'oops' });
    env.advance(750);
    env.socket.open();

    // Assess
    expect(env.sockets).toHaveLength(3);
    expect(env.socket.sent).toEqual([{ action: 'resume', ticket: 'ticket-1' }]);
    expect(retries(env).map((r) => [r.reason, r.purpose])).toEqual([
      ['closed', 'resume'],
      ['internal', 'resume'],
    ]);
    expect(visitor.state).toBe('resuming');
  });

  it('keeps its socket when an error answers a status on a socket that holds its place', () => {
    // Prepare: the room promised news within 5 s; silent for 20 s, it is asked (status).
    const { env, visitor } = joinedVisitor(planOf(8));
    env.socket.receive({
      type: 'position',
      position: 4,
      waiting: 9,
      etaSeconds: 60,
      nextUpdateSeconds: 5,
    });
    env.advance(20_000);

    // Act
    env.socket.receive({ type: 'error', code: 'internal', message: 'oops' });
    env.socket.receiveRaw(THROTTLED);
    env.advance(1000);

    // Assess
    expect(env.socket.sent.map((m) => m.action)).toEqual(['join', 'status']);
    expect(env.sockets).toHaveLength(1);
    expect(env.socket.closed).toBeNull();
    expect(retries(env)).toEqual([]);
    expect(visitor.state).toBe('waiting');
  });

  it('drops a socket whose status goes unanswered for 20 s and resumes on a new one', () => {
    // Prepare
    const { env, visitor } = joinedVisitor(planOf(9));
    env.socket.receive({
      type: 'position',
      position: 4,
      waiting: 9,
      etaSeconds: 60,
      nextUpdateSeconds: 5,
    });

    // Act: asked after 20 s (the harness's least quiet), no answer for 20 s more.
    env.advance(40_000);
    env.advance(375);
    env.socket.open();

    // Assess
    expect((env.sockets[0] as FakeSocket).sent.map((m) => m.action)).toEqual(['join', 'status']);
    expect(env.socket.sent).toEqual([{ action: 'resume', ticket: 'ticket-1' }]);
    expect(retries(env)).toEqual([{ reason: 'no answer', purpose: 'resume', delayMs: 375 }]);
    expect(visitor.state).toBe('resuming');
  });

  it('gives up after maxDialAttempts refusals in a row without a place', () => {
    // Prepare
    const env = new Harness();
    const visitor = new SimVisitor(planOf(10), env, {
      ...DEFAULT_VISITOR_SETTINGS,
      maxDialAttempts: 3,
    });
    visitor.start();

    // Act
    for (let i = 0; i < 3; i += 1) {
      env.socket.open();
      env.socket.receive({ type: 'error', code: 'internal', message: 'oops' });
      env.advance(5000);
    }

    // Assess
    expect(env.sockets).toHaveLength(3);
    expect(visitor.state).toBe('failed');
    expect(env.events.at(-1)).toMatchObject({
      k: 'give-up',
      reason: '3 attempts in a row failed (last: internal)',
    });
  });

  it('checks its pass again on a new socket when the recheck goes unanswered, and gives up after a minute', () => {
    // Prepare
    const { env, visitor } = joinedVisitor(planOf(12, { recheck: { pauseMs: 400 } }));
    env.socket.receive({
      type: 'admitted',
      pass: 'p',
      expiresAt: 1,
      redirectUrl: 'http://x/sim/12?wr_pass=p',
    });
    env.advance(400);
    env.socket.open();

    // Act: 20 s of silence, then a second socket that is never answered either, then a third
    // that never opens (dropped after the page's 10 s).
    env.advance(20_000 + 375);
    env.socket.open();
    const secondSocket = env.socket.sent;
    env.advance(60_000);

    // Assess
    expect(secondSocket).toEqual([{ action: 'resume', ticket: 'ticket-1' }]);
    expect(retries(env).map((r) => [r.reason, r.purpose])).toEqual([
      ['no answer', 'recheck'],
      ['no answer', 'recheck'],
      ['connect timeout', 'recheck'],
    ]);
    expect(env.events.at(-1)).toMatchObject({
      k: 'give-up',
      reason: 'recheck got no pass in time',
    });
    expect(visitor.state).toBe('done');
    expect(env.settledAs).toEqual(['done']);
  });

  it('drops a socket that does not open within 10 s and dials again, as the page', () => {
    // Prepare
    const env = new Harness();
    const visitor = new SimVisitor(planOf(13), env);
    visitor.start();
    const first = env.socket;

    // Act
    env.advance(9999);
    const socketsBefore = env.sockets.length;
    env.advance(1 + 375);
    env.socket.open();

    // Assess
    expect(socketsBefore).toBe(1);
    expect(first.closed).toBe('clean');
    expect(env.sockets).toHaveLength(2);
    expect(env.socket.sent).toEqual([{ action: 'join', joinKey: anyJoinKey, return: '/sim/13' }]);
    expect(retries(env)).toEqual([{ reason: 'connect timeout', purpose: 'join', delayMs: 375 }]);
    expect(visitor.state).toBe('joining');
  });

  it("records each position's promise (nextUpdateSeconds)", () => {
    // Prepare
    const { env } = joinedVisitor(planOf(11));

    // Act
    env.socket.receive({
      type: 'position',
      position: 2,
      waiting: 3,
      etaSeconds: 1,
      nextUpdateSeconds: 7,
    });

    // Assess
    expect(env.events.at(-1)).toEqual({
      t: expect.any(Number),
      k: 'position',
      position: 2,
      waiting: 3,
      next: 7,
    });
  });
});
