/**
 * One simulated visitor: a state machine over a socket it does not own. It is driven by socket
 * callbacks and timers handed in through {@link VisitorEnv}, so a test can play it with a fake
 * socket and a manual clock. Everything it sees and does goes out as {@link TraceEvent}s.
 */
import { randomBytes } from 'node:crypto';
import type { ClientMessage, ServerMessage } from '../../functions/core/protocol.ts';
import {
  type DialPurpose,
  FINAL_STATES,
  RETRY_REASONS,
  type ReplayResult,
  type TraceEvent,
  type VisitorPlan,
  type VisitorState,
} from './events.ts';

/** The part of a WebSocket the visitor uses. */
export interface SimSocket {
  send(text: string): void;
  /** `abrupt`: drop the connection without a close handshake (a network cut). */
  close(abrupt: boolean): void;
}

/** What the socket tells the visitor. */
export interface SocketEvents {
  open(): void;
  message(text: string): void;
  close(code: number): void;
  error(message: string): void;
}

/** A proof of work as `join` carries it. */
export interface Proof {
  challenge: Record<string, unknown>;
  solution: Record<string, unknown>;
}

/** What solving a challenge gave: the solution (null: not solved) and how long it took. */
export interface SolveOutcome {
  solution: Record<string, unknown> | null;
  /** Milliseconds spent solving. */
  ms: number;
  /** Milliseconds spent waiting for a free solver before that. */
  queuedMs: number;
}

export interface VisitorEnv {
  /** Epoch milliseconds, sub-millisecond precision. */
  now(): number;
  /** Opens a socket to the room (from the plan's local address, if any). */
  connect(plan: VisitorPlan, events: SocketEvents): SimSocket;
  /** Runs `fn` after `ms`; returns a function that cancels it. */
  schedule(ms: number, fn: () => void): () => void;
  /** A number in [0, 1): jitter for retries. */
  random(): number;
  emit(index: number, event: TraceEvent): void;
  /** Told once, when the visitor reaches a final state. */
  settled(index: number, state: VisitorState): void;
  /** Solves a proof-of-work challenge (absent: a challenge cannot be answered). */
  solve?(challenge: Record<string, unknown>): Promise<SolveOutcome>;
}

export interface VisitorSettings {
  /**
   * While waiting, the least silence before asking with `status`, as the page does; the room's
   * promise (`nextUpdateSeconds` x 1.5 + 5 s, at most `quietMaxMs`) makes it longer.
   */
  quietMs: number;
  quietMaxMs: number;
  /**
   * Failed attempts in a row (sockets that never opened or were lost, joins and resumes refused
   * or unanswered) before giving up. The page never gives up; a simulated visitor must end.
   */
  maxDialAttempts: number;
  /**
   * As the page's `replyTimeoutMs`: silence this long after a `join`, `resume` or `status`
   * means a dead socket, which is dropped for a new one.
   */
  replyTimeoutMs: number;
  /** As the page's `connectTimeoutMs`: a socket not open after this long is given up. */
  connectTimeoutMs: number;
  /**
   * The page's reconnect backoff: `backoffBaseMs` doubling with each failed attempt, at most
   * `backoffMaxMs`, half of each step fixed and half random ("equal jitter").
   */
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** Expected wait assumed when the room gives no estimate (admission paused). */
  fallbackWaitMs: number;
  /** How long a replayed proof waits for its answer. */
  recheckTimeoutMs: number;
  /**
   * How long a recheck (a resume after admission) keeps trying for the pass from its first
   * dial: like any resume it takes a new socket when refused or unanswered.
   */
  recheckGiveUpMs: number;
  /** Expected wait assumed before a scheduled opening that is already due. */
  prequeueFallbackMs?: number;
}

/** The page's figures (`DEFAULT_TIMING` in client/src/lib/waiting-room.svelte.ts). */
export const DEFAULT_VISITOR_SETTINGS: VisitorSettings = {
  quietMs: 15_000,
  quietMaxMs: 8 * 60_000,
  // With the backoff below, well over a minute of trying (15 s apart at the end).
  maxDialAttempts: 12,
  replyTimeoutMs: 20_000,
  connectTimeoutMs: 10_000,
  backoffBaseMs: 500,
  backoffMaxMs: 15_000,
  fallbackWaitMs: 10_000,
  recheckTimeoutMs: 15_000,
  recheckGiveUpMs: 60_000,
};

interface Connection {
  socket: SimSocket;
  opened: boolean;
  /** Closed by this visitor: later events of the socket are ignored. */
  retired: boolean;
  purpose: DialPurpose;
  /** Cancels the connect timeout (once open, closed or retired). */
  cancelConnectTimeout: () => void;
}

/**
 * Errors after which the page drops a socket that holds no place yet and dials again (as
 * `#handleError` in the page does for `internal` and `rate_limited`).
 */
const RETRYABLE_ERRORS = new Set(['internal', 'rate_limited']);
/** After `rate_limited`, the page skips the quick first steps of its backoff (4-8 s at least). */
const RATE_LIMITED_ATTEMPT = 4;
/** The prefix of the code recorded for API Gateway's own error frame (`{"message": ...}`). */
export const APIGW_ERROR_PREFIX = 'apigw: ';
/** API Gateway's error frames that say "slow down" rather than "failed". */
const APIGW_SLOW_DOWN = /too many|limit|throttl/i;

export class SimVisitor {
  state: VisitorState = 'scheduled';
  sessionId: string | null = null;
  ticket: string | null = null;
  pass: string | null = null;
  #connection: Connection | null = null;
  /** As the page's: failed attempts since the last `joined`; the backoff grows with it. */
  #attempt = 0;
  /** The current socket has heard `joined` (a place is held on it). */
  #joinedOnSocket = false;
  /** Waiting for any frame after a `join`, `resume` or `status` (cancels the wait). */
  #replyTimer: (() => void) | null = null;
  /** The last word on the line was `prequeue` (a `status` then is answered late, if at all). */
  #inPrequeue = false;
  /** The recheck's deadline is set (at its first dial). */
  #recheckDeadline = false;
  #answerRetries = 0;
  #timers = new Set<() => void>();
  #quietTimer: (() => void) | null = null;
  /** The silence the room promised at most, from its last position. */
  #quietLimitMs: number | null = null;
  #lastPositionAt: number | null = null;
  #recentGaps: number[] = [];
  #plannedMoments = false;
  #lastSent: ClientMessage | null = null;
  /** A solved proof not yet used for a place (kept across a reconnect). */
  #proof: Proof | null = null;
  /** The proof the place was taken with (for a planned replay). */
  #usedProof: Proof | null = null;
  #solving = 0;
  #replayed = false;
  /** A replay planned or in flight: the visitor is not settled before it is answered. */
  #replayPending = false;
  /** The final state reached while the replay was still pending. */
  #settledAs: VisitorState | null = null;
  #cancelReplay: (() => void) | null = null;
  #lastCommitment: string | null = null;
  #lastDraw: string | null = null;
  /**
   * The key of the place asked for, sent with every `join` until one is answered (as the page
   * does): a join retried after its answer was lost continues the place the first one made.
   */
  #joinKey: string | null = null;

  constructor(
    readonly plan: VisitorPlan,
    private readonly env: VisitorEnv,
    private readonly settings: VisitorSettings = DEFAULT_VISITOR_SETTINGS,
  ) {}

  get index(): number {
    return this.plan.index;
  }

  get isFinal(): boolean {
    return FINAL_STATES.has(this.state);
  }

  /** Arrives: opens a socket and joins. */
  start(): void {
    if (this.state !== 'scheduled') return;
    this.#dial('join');
  }

  /** Asks a waiting visitor's position once more (before the run stops). */
  rollCall(): void {
    if (this.state === 'waiting' && this.#connection?.opened) this.#send({ action: 'status' });
  }

  /** The run is over: stops every timer and closes the socket. */
  stop(): void {
    if (this.#replayPending) {
      // The run is over: a replay not made (or not answered) yet is reported unfinished.
      const cancel = this.#cancelReplay;
      this.#cancelReplay = null;
      cancel?.();
      this.#replayDone();
    }
    if (this.isFinal) return;
    this.#emit({ t: this.env.now(), k: 'stop', state: this.state });
    this.#retire(false);
    this.#finish('stopped');
  }

  #emit(event: TraceEvent): void {
    this.env.emit(this.plan.index, event);
  }

  #after(ms: number, fn: () => void): () => void {
    const cancel = this.env.schedule(ms, () => {
      this.#timers.delete(cancel);
      fn();
    });
    this.#timers.add(cancel);
    return () => {
      this.#timers.delete(cancel);
      cancel();
    };
  }

  #finish(state: VisitorState): void {
    for (const cancel of this.#timers) cancel();
    this.#timers.clear();
    this.#quietTimer = null;
    this.#replyTimer = null;
    this.state = state;
    // A planned replay of the spent proof still happens (a visitor admitted within the pause
    // would otherwise never make it); the visitor settles once it is answered.
    if (this.#replayPending) this.#settledAs = state;
    else this.env.settled(this.plan.index, state);
  }

  /** The replay is answered (or cannot be made): a visitor already final settles now. */
  #replayDone(): void {
    if (!this.#replayPending) return;
    this.#replayPending = false;
    this.#cancelReplay = null;
    if (this.#settledAs !== null) this.env.settled(this.plan.index, this.#settledAs);
  }

  #dial(purpose: DialPurpose): void {
    this.state =
      purpose === 'recheck' ? 'rechecking' : purpose === 'join' ? 'connecting' : 'resuming';
    this.#joinedOnSocket = false;
    this.#emit({ t: this.env.now(), k: 'dial', purpose, attempt: this.#attempt + 1 });
    if (purpose === 'recheck' && !this.#recheckDeadline) {
      this.#recheckDeadline = true;
      this.#after(this.settings.recheckGiveUpMs, () => {
        if (this.state !== 'rechecking' && this.state !== 'paused') return;
        this.#emit({ t: this.env.now(), k: 'give-up', reason: 'recheck got no pass in time' });
        this.#retire(false);
        this.#finish('done');
      });
    }
    const connection: Connection = {
      socket: undefined as unknown as SimSocket,
      opened: false,
      retired: false,
      purpose,
      cancelConnectTimeout: () => {},
    };
    this.#connection = connection;
    const live = () => this.#connection === connection && !connection.retired;
    // As the page: a socket that does not open in time is dropped and dialled again.
    connection.cancelConnectTimeout = this.#after(this.settings.connectTimeoutMs, () => {
      if (!live() || connection.opened) return;
      this.#retire(false);
      this.#lost(purpose, RETRY_REASONS.connectTimeout);
    });
    try {
      connection.socket = this.#connect(connection, live);
    } catch (error) {
      // A socket that cannot even be created fails like one that cannot connect.
      connection.socket = { send() {}, close() {} };
      this.#emit({ t: this.env.now(), k: 'socket-error', message: String(error) });
      this.#after(0, () => {
        if (live()) this.#onClose(connection, 1006);
      });
    }
  }

  #connect(connection: Connection, live: () => boolean): SimSocket {
    return this.env.connect(this.plan, {
      open: () => {
        if (live()) this.#onOpen(connection);
      },
      message: (text) => {
        if (live()) this.#onMessage(text);
      },
      close: (code) => {
        if (live()) this.#onClose(connection, code);
      },
      error: (message) => {
        if (live()) this.#emit({ t: this.env.now(), k: 'socket-error', message });
      },
    });
  }

  /** Closes the current socket on purpose; its close is recorded now, its later events ignored. */
  #retire(abrupt: boolean): void {
    const connection = this.#connection;
    if (!connection || connection.retired) return;
    connection.retired = true;
    connection.cancelConnectTimeout();
    this.#connection = null;
    this.#stopListeningForQuiet();
    this.#cancelReply();
    if (connection.opened) {
      this.#emit({ t: this.env.now(), k: 'close', code: abrupt ? 1006 : 1000, expected: true });
    }
    try {
      connection.socket.close(abrupt);
    } catch {
      // Closing a socket that is already gone is fine.
    }
  }

  #send(message: ClientMessage): boolean {
    const connection = this.#connection;
    if (!connection?.opened) return false;
    this.#lastSent = message;
    this.#emit({ t: this.env.now(), k: 'send', action: message.action });
    try {
      connection.socket.send(JSON.stringify(message));
      return true;
    } catch (error) {
      this.#emit({ t: this.env.now(), k: 'socket-error', message: String(error) });
      return false;
    }
  }

  /**
   * As the page: silence for `replyTimeoutMs` from now means the socket is dead (no close may
   * ever come); it is dropped and the visitor dials again. Any frame cancels the wait.
   */
  #expectReply(): void {
    if (this.#replyTimer !== null) return;
    const connection = this.#connection;
    if (!connection) return;
    this.#replyTimer = this.#after(this.settings.replyTimeoutMs, () => {
      this.#replyTimer = null;
      if (this.#connection !== connection || this.isFinal) return;
      this.#dropAndRetry(RETRY_REASONS.noAnswer);
    });
  }

  #cancelReply(): void {
    this.#replyTimer?.();
    this.#replyTimer = null;
  }

  /** Closes the current socket (no place on it, or silent) and dials again after a backoff. */
  #dropAndRetry(reason: string): void {
    const connection = this.#connection;
    if (!connection) return;
    this.#retire(false);
    this.#lost(connection.purpose, reason);
  }

  /**
   * A socket failed, was lost or gave nothing: as the page, dial again after its backoff (which
   * grows with every failed attempt since the last `joined`), taking the place back with the
   * ticket, or joining afresh when no place was ever confirmed. Gives up after
   * `maxDialAttempts` in a row.
   */
  #lost(purpose: DialPurpose, reason: string): void {
    const delayMs = this.#backoff(this.#attempt);
    this.#attempt += 1;
    if (this.#attempt >= this.settings.maxDialAttempts) {
      const why =
        reason === RETRY_REASONS.noConnection || reason === RETRY_REASONS.connectTimeout
          ? `no connection after ${this.#attempt} attempts`
          : `${this.#attempt} attempts in a row failed (last: ${reason})`;
      this.#emit({ t: this.env.now(), k: 'give-up', reason: why });
      if (purpose === 'recheck') this.#finish('done');
      else this.#finish(this.sessionId === null ? 'failed' : 'lost');
      return;
    }
    const next: DialPurpose =
      purpose === 'recheck' ? 'recheck' : this.ticket === null ? 'join' : 'resume';
    this.#emit({ t: this.env.now(), k: 'retry', reason, purpose: next, delayMs });
    this.state = 'paused';
    this.#after(delayMs, () => this.#dial(next));
  }

  /** The page's backoff: "equal jitter", half the step fixed and half random. */
  #backoff(attempt: number): number {
    const { backoffBaseMs, backoffMaxMs } = this.settings;
    const step = Math.min(backoffMaxMs, backoffBaseMs * 2 ** attempt);
    return Math.round(step / 2 + this.env.random() * (step / 2));
  }

  #onOpen(connection: Connection): void {
    connection.opened = true;
    connection.cancelConnectTimeout();
    this.#answerRetries = 0;
    this.#emit({ t: this.env.now(), k: 'open' });
    this.#hello(connection);
  }

  /** What a socket opens with: `join` for a place, or `resume` with the ticket. */
  #hello(connection: Connection): void {
    if (connection.purpose === 'join') {
      this.#sendJoin();
    } else {
      if (this.#send({ action: 'resume', ticket: this.ticket as string })) this.#expectReply();
    }
  }

  /** Sends `join`, with the proof solved for it if there is one. */
  #sendJoin(): void {
    this.state = 'joining';
    const proof = this.#proof;
    this.#joinKey ??= randomBytes(16).toString('base64url');
    const join = { action: 'join', return: this.plan.returnPath, joinKey: this.#joinKey } as const;
    const sent = this.#send(proof ? { ...join, proof } : join);
    if (sent) this.#expectReply();
  }

  #onClose(connection: Connection, code: number): void {
    connection.cancelConnectTimeout();
    this.#connection = null;
    this.#stopListeningForQuiet();
    this.#cancelReply();
    if (connection.opened) this.#emit({ t: this.env.now(), k: 'close', code, expected: false });
    if (this.isFinal) return;
    this.#lost(
      connection.purpose,
      connection.opened ? RETRY_REASONS.closed : RETRY_REASONS.noConnection,
    );
  }

  /** Waiting for the answer to a `join` or `resume` on a socket that holds no place yet. */
  #answering(): boolean {
    return (
      !this.#joinedOnSocket &&
      (this.state === 'joining' ||
        this.state === 'solving' ||
        this.state === 'resuming' ||
        this.state === 'rechecking')
    );
  }

  #onMessage(text: string): void {
    const t = this.env.now();
    // Any frame at all proves the socket alive (as the page).
    this.#cancelReply();
    let message: ServerMessage;
    try {
      const parsed = JSON.parse(text) as unknown;
      if (typeof parsed !== 'object' || parsed === null) throw new Error('not an object');
      const { type, message: said } = parsed as { type?: unknown; message?: unknown };
      if (type === undefined && typeof said === 'string') {
        // API Gateway's own error frame (`{"message": "Internal server error", ...}`): the
        // function behind the route failed or was throttled, or the frame was refused.
        this.#onApiGatewayError(t, said);
        return;
      }
      if (typeof type !== 'string') throw new Error('no type');
      message = parsed as ServerMessage;
    } catch {
      this.#emit({ t, k: 'garbled', text: text.slice(0, 200) });
      return;
    }
    switch (message.type) {
      case 'joined':
        this.#emit({ t, k: 'joined', sessionId: message.sessionId });
        // Answered: a later join (the place lost) asks for a new place.
        this.#joinKey = null;
        this.#onJoined(message.sessionId, message.ticket);
        return;
      case 'position': {
        const draw = message.draw;
        const drawn = typeof draw?.seed === 'string' && typeof draw.commitment === 'string';
        if (drawn && `${draw.seed}:${draw.commitment}` !== this.#lastDraw) {
          this.#lastDraw = `${draw.seed}:${draw.commitment}`;
          this.#emit({ t, k: 'draw', seed: draw.seed, commitment: draw.commitment });
        }
        this.#inPrequeue = false;
        this.#emit({
          t,
          k: 'position',
          position: message.position,
          waiting: message.waiting,
          ...(drawn ? { drawn: true } : {}),
          ...(typeof message.nextUpdateSeconds === 'number'
            ? { next: message.nextUpdateSeconds }
            : {}),
        });
        this.#quietLimitMs = this.#quietLimit(t, message.nextUpdateSeconds);
        if (this.state === 'waiting') this.#listenForQuiet();
        this.#onPosition(message.etaSeconds);
        return;
      }
      case 'prequeue': {
        this.#inPrequeue = true;
        const fresh = message.commitment !== this.#lastCommitment;
        this.#lastCommitment = message.commitment;
        this.#emit({
          t,
          k: 'prequeue',
          opensAt: message.opensAt,
          waiting: message.waiting,
          commitment: fresh ? message.commitment : null,
        });
        if (this.state === 'waiting') this.#listenForQuiet();
        this.#onPrequeue(t, message.opensAt);
        return;
      }
      case 'challenge': {
        const data = (message.challenge as { parameters?: { data?: { attempts?: unknown } } })
          .parameters?.data;
        const attempts = typeof data?.attempts === 'number' ? data.attempts : 0;
        this.#emit({ t, k: 'challenge', attempts });
        this.#onChallenge(message.challenge);
        return;
      }
      case 'notice':
        // The operator's banner: nothing for a simulated visitor to do.
        return;
      case 'admitted':
        this.#emit({
          t,
          k: 'admitted',
          pass: message.pass,
          redirectUrl: message.redirectUrl,
          expiresAt: message.expiresAt,
        });
        this.#onAdmitted(message.pass);
        return;
      case 'open':
        this.#emit({ t, k: 'open-room', redirectUrl: message.redirectUrl });
        this.#retire(false);
        this.#finish('opened');
        return;
      case 'pong':
        this.#emit({ t, k: 'pong' });
        return;
      case 'superseded':
        // One socket per simulated visitor: only a socket already being replaced hears this,
        // and its close is handled as any other.
        return;
      case 'error':
        this.#emit({ t, k: 'error', code: message.code });
        this.#onError(message.code);
        return;
      default:
        this.#emit({ t, k: 'garbled', text: text.slice(0, 200) });
    }
  }

  #onJoined(sessionId: string, ticket: string): void {
    this.#joinedOnSocket = true;
    this.#attempt = 0;
    if (this.state === 'rechecking') return;
    if (this.sessionId === null) this.sessionId = sessionId;
    this.ticket = ticket;
    if (this.#proof && this.#lastSent?.action === 'join' && this.#lastSent.proof) {
      // The place is taken: that proof is spent.
      this.#usedProof = this.#proof;
      this.#proof = null;
      const replay = this.plan.replay;
      if (replay && !this.#replayed) {
        this.#replayed = true;
        this.#replayPending = true;
        // Its own timer, not one of #timers: finishing (an admission within the pause) does
        // not cancel it.
        const cancelTimer = this.env.schedule(replay.pauseMs, () => this.#replay());
        this.#cancelReplay = () => {
          cancelTimer();
          this.#emit({ t: this.env.now(), k: 'replay', result: 'unfinished' });
          this.#replayDone();
        };
      }
    }
    if (this.state === 'joining' || this.state === 'resuming') {
      this.state = 'waiting';
      this.#listenForQuiet();
    }
  }

  #onPosition(etaSeconds: number | null): void {
    if (this.state !== 'waiting' || this.#plannedMoments) return;
    // The first position says how long the wait should be: churn and abandonment happen at a
    // planned share of it.
    this.#plannedMoments = true;
    const expectedMs = etaSeconds === null ? this.settings.fallbackWaitMs : etaSeconds * 1000;
    const { churn, abandon } = this.plan;
    if (churn) this.#after(Math.max(50, churn.atShare * expectedMs), () => this.#churn());
    if (abandon) this.#after(Math.max(50, abandon.atShare * expectedMs), () => this.#abandon());
  }

  /**
   * Before a scheduled opening there is no estimate of the wait: churn and abandonment happen
   * at their planned share of the time left until the opening, so within the pre-queue.
   */
  #onPrequeue(now: number, opensAtSeconds: number): void {
    if (this.state !== 'waiting' || this.#plannedMoments) return;
    const left = opensAtSeconds * 1000 - now;
    this.#plannedMoments = true;
    const expectedMs =
      left > 0 ? left : (this.settings.prequeueFallbackMs ?? this.settings.fallbackWaitMs);
    const { churn, abandon } = this.plan;
    if (churn) this.#after(Math.max(50, churn.atShare * expectedMs), () => this.#churn());
    if (abandon) this.#after(Math.max(50, abandon.atShare * expectedMs), () => this.#abandon());
  }

  /** Solves the room's challenge (in this process, as a browser would) and joins with it. */
  #onChallenge(challenge: Record<string, unknown>): void {
    if (this.state !== 'joining') return;
    const connection = this.#connection;
    this.state = 'solving';
    this.#proof = null;
    const attempt = ++this.#solving;
    const solve = this.env.solve;
    const outcome: Promise<SolveOutcome> = solve
      ? solve(challenge).catch(() => ({ solution: null, ms: 0, queuedMs: 0 }))
      : Promise.resolve({ solution: null, ms: 0, queuedMs: 0 });
    void outcome.then(({ solution, ms, queuedMs }) => {
      if (attempt !== this.#solving || this.isFinal) return;
      this.#emit({ t: this.env.now(), k: 'solved', ms, queuedMs, ok: solution !== null });
      if (solution === null) {
        this.#emit({
          t: this.env.now(),
          k: 'give-up',
          reason: 'could not solve the proof of work',
        });
        this.#retire(false);
        this.#finish('failed');
        return;
      }
      this.#proof = { challenge, solution };
      // Still on the socket that asked: join there; else the next socket joins with it.
      if (this.state === 'solving' && this.#connection === connection && connection?.opened) {
        this.#sendJoin();
      }
    });
  }

  /**
   * Sends the proof that took this visitor's place again, on a socket of its own, as a script
   * reusing a proof would: the room must refuse it (`invalid_proof`) and take no place.
   */
  #replay(): void {
    const proof = this.#usedProof;
    if (!this.#replayPending) return;
    if (!proof) {
      this.#replayDone();
      return;
    }
    let answered = false;
    let opened = false;
    let socket: SimSocket | null = null;
    const finish = (result: ReplayResult) => {
      if (answered) return;
      answered = true;
      cancelTimeout();
      this.#emit({ t: this.env.now(), k: 'replay', result });
      try {
        socket?.close(false);
      } catch {
        // Already gone.
      }
      this.#replayDone();
    };
    const cancelTimeout = this.env.schedule(this.settings.recheckTimeoutMs, () =>
      finish(opened ? 'no-answer' : 'unreachable'),
    );
    // Cut short by the end of the run.
    this.#cancelReplay = () => finish('unfinished');
    try {
      socket = this.env.connect(this.plan, {
        open: () => {
          opened = true;
          socket?.send(JSON.stringify({ action: 'join', return: this.plan.returnPath, proof }));
        },
        message: (text) => {
          let type: unknown;
          let code: unknown;
          try {
            ({ type, code } = JSON.parse(text) as { type?: unknown; code?: unknown });
          } catch {
            return;
          }
          if (type === 'error' && code === 'invalid_proof') finish('refused');
          else if (type === 'joined') finish('accepted');
          else if (type === 'challenge') finish('challenged');
          else if (type === 'error') finish('no-answer');
        },
        close: () => finish(opened ? 'no-answer' : 'unreachable'),
        error: () => {},
      });
    } catch {
      finish('unreachable');
    }
  }

  #churn(): void {
    const pauseMs = this.plan.churn?.pauseMs ?? 0;
    if (this.state !== 'waiting') return;
    this.#emit({ t: this.env.now(), k: 'drop', pauseMs });
    this.#retire(true);
    this.state = 'paused';
    this.#after(pauseMs, () => this.#dial('resume'));
  }

  #abandon(): void {
    if (!['waiting', 'paused', 'resuming', 'connecting'].includes(this.state)) return;
    this.#emit({ t: this.env.now(), k: 'abandon' });
    this.#retire(false);
    this.#finish('abandoned');
  }

  #onAdmitted(pass: string): void {
    if (this.state === 'rechecking') {
      this.#retire(false);
      this.#finish('done');
      return;
    }
    if (this.isFinal || this.state === 'admitted') return;
    this.pass = pass;
    // The page would now go to the main site: the socket is done.
    this.#retire(false);
    this.state = 'admitted';
    const recheck = this.plan.recheck;
    if (recheck && this.ticket !== null) {
      this.#after(recheck.pauseMs, () => this.#dial('recheck'));
    } else {
      this.#finish('done');
    }
  }

  #onError(code: string): void {
    if (code === 'invalid_proof' && this.state === 'joining') {
      // As the page: forget the proof and join plainly, which brings a new challenge.
      this.#proof = null;
      if (this.#answerRetries < this.settings.maxDialAttempts) {
        this.#answerRetries += 1;
        this.#after(500 * this.#answerRetries, () => {
          if (this.state === 'joining' && this.#connection?.opened) this.#sendJoin();
        });
      }
      return;
    }
    if (code === 'invalid_ticket') {
      // The room no longer knows this place (or, on a recheck, this pass).
      this.#retire(false);
      this.#finish(this.state === 'rechecking' ? 'done' : 'lost');
      return;
    }
    // As the page: a socket without a place yet is dropped and the visitor dials again after
    // its backoff (after `rate_limited`, skipping the quick first steps). With a place held on
    // the socket, an error changes nothing: the positions keep coming.
    if (RETRYABLE_ERRORS.has(code) && this.#answering()) {
      if (code === 'rate_limited') this.#attempt = Math.max(this.#attempt, RATE_LIMITED_ATTEMPT);
      this.#dropAndRetry(code);
    }
  }

  /**
   * API Gateway's own error frame, answering a frame it handed to no function (throttled) or
   * whose function failed: recorded as the error `apigw: <message>`. As the page
   * (`#notHandled`): without a place on the socket, dial again after the backoff, as after
   * `internal` (as after `rate_limited` when it says "too many", "limit" or "throttled"); with a
   * place, nothing (the next `status` asks again).
   */
  #onApiGatewayError(t: number, said: string): void {
    const code = `${APIGW_ERROR_PREFIX}${said.slice(0, 60)}`;
    this.#emit({ t, k: 'error', code });
    if (!this.#answering()) return;
    if (APIGW_SLOW_DOWN.test(said)) this.#attempt = Math.max(this.#attempt, RATE_LIMITED_ATTEMPT);
    this.#askAgain(code);
  }

  /**
   * Only the frame was not handled; the socket is fine: as the page, say hello again on it after
   * the backoff (a new socket would cost a connection and a disconnection of its own). Gives up
   * as `#lost` does after `maxDialAttempts` in a row.
   */
  #askAgain(reason: string): void {
    const connection = this.#connection;
    if (!connection) return;
    if (this.#attempt + 1 >= this.settings.maxDialAttempts) {
      this.#dropAndRetry(reason);
      return;
    }
    this.#cancelReply();
    const delayMs = this.#backoff(this.#attempt);
    this.#attempt += 1;
    this.#emit({ t: this.env.now(), k: 'retry', reason, purpose: connection.purpose, delayMs });
    this.#after(delayMs, () => {
      // A socket lost meanwhile is dialled again by its own close.
      if (this.#connection !== connection || this.isFinal) return;
      this.#hello(connection);
    });
  }

  /**
   * As the page: the room's promise x 1.5 + 5 s, but at most four times the longest of the
   * last few gaps between positions, within `quietMs` and `quietMaxMs`.
   */
  #quietLimit(now: number, nextUpdateSeconds: unknown): number {
    if (this.#lastPositionAt !== null) {
      this.#recentGaps = [...this.#recentGaps.slice(-4), now - this.#lastPositionAt];
    }
    this.#lastPositionAt = now;
    if (typeof nextUpdateSeconds !== 'number' || nextUpdateSeconds <= 0) {
      return this.settings.quietMs;
    }
    let limit = nextUpdateSeconds * 1500 + 5000;
    if (this.#recentGaps.length >= 3) limit = Math.min(limit, 4 * Math.max(...this.#recentGaps));
    return Math.min(this.settings.quietMaxMs, Math.max(this.settings.quietMs, limit));
  }

  /** Asks with `status` once the room has been silent longer than it promised (as the page). */
  #listenForQuiet(): void {
    this.#stopListeningForQuiet();
    this.#quietTimer = this.#after(this.#quietLimitMs ?? this.settings.quietMs, () => {
      this.#quietTimer = null;
      if (this.state !== 'waiting' || !this.#connection?.opened) return;
      // Before a scheduled opening the answer may wait for the draw: no sign of a dead socket.
      if (this.#send({ action: 'status' }) && !this.#inPrequeue) this.#expectReply();
      this.#listenForQuiet();
    });
  }

  #stopListeningForQuiet(): void {
    this.#quietTimer?.();
    this.#quietTimer = null;
  }
}
