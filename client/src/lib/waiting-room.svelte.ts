import type {
  ClientMessage,
  DrawRecord,
  ErrorCode,
  JoinMessage,
  ServerMessage,
} from '../../../functions/core/protocol.ts';
import { checkDraw, type DrawCheckResult, type Sha256Hex, webCryptoSha256 } from './draw-check.ts';
import { peopleAhead as countAhead, progressPercent, proofPercent } from './progress.ts';
import { type SolveProgress, solveChallenge } from './proof-of-work.ts';
import { type GatewayError, parseGatewayError, parseServerMessage } from './server-message.ts';

/** How the page stands with the server, as the visitor sees it. */
/**
 * `elsewhere`: the place was taken up in another tab or window (the room said `superseded` and
 * closed this socket); this page stays quiet until the visitor takes the place back here.
 */
export type ConnectionState = 'connecting' | 'live' | 'reconnecting' | 'offline' | 'elsewhere';

/**
 * Where the visitor is in the line's life: before a place (`joining`; `checking` while the room
 * asks for a proof of work), in the pre-queue before a scheduled opening (`prequeue`), in line,
 * let in (`admitted`, `open`), or turned away for good because the sale is over (`closed`).
 */
export type QueuePhase =
  | 'joining'
  | 'checking'
  | 'prequeue'
  | 'waiting'
  | 'admitted'
  | 'open'
  | 'closed';

/** Solves the room's proof-of-work challenge (`proof-of-work.ts`); a test hands in a fake. */
export type ChallengeSolver = (
  challenge: Record<string, unknown>,
  options: { onProgress: (progress: SolveProgress) => void; signal: AbortSignal },
) => Promise<Record<string, unknown>>;

/** How many challenges in a row the page tries before it asks the visitor to try again. */
export const PROOF_ATTEMPTS = 3;

/**
 * A kept proof is not sent again within this long of its challenge's expiry (the room would
 * find it expired on arrival, and count it as a refusal).
 */
export const PROOF_EXPIRY_MARGIN_MS = 10_000;

/** A solved proof of work as `join` carries it. */
type Proof = NonNullable<JoinMessage['proof']>;

/** Storage keys; `localStorage` shares them between tabs, so a second tab resumes the one place. */
export const TICKET_KEY = 'wr_ticket';
export const POSITION_AT_JOIN_KEY = 'wr_position_at_join';
/** The draw's commitment seen in the pre-queue, kept with the place to check the seed against. */
export const COMMITMENT_KEY = 'wr_commitment';
/** The pre-queue's last size, kept with the place: how long its draw takes to tell everyone. */
export const PREQUEUE_SIZE_KEY = 'wr_prequeue_size';
/**
 * The key of the place being asked for, sent with every `join` until one is answered: a join
 * whose answer was lost (a timeout, a dropped socket, a reload) and is sent again continues the
 * place the first one made instead of making a second one nobody was told of.
 */
export const JOIN_KEY_KEY = 'wr_join_key';

// Method syntax makes the handler bivariant, so the DOM's `(ev: MessageEvent) => any` fits.
type Handler<E> = { bivarianceHack(event: E): void }['bivarianceHack'];

/** The part of the browser's `WebSocket` the room uses; `new WebSocket(url)` fits it. */
export interface SocketLike {
  readonly readyState: number;
  onopen: Handler<unknown> | null;
  onmessage: Handler<{ data: unknown }> | null;
  onclose: Handler<unknown> | null;
  onerror: Handler<unknown> | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

/** The part of the DOM's `Storage` the room uses; `localStorage` fits it. */
export interface KeyValueStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/** Timer functions; the defaults call the global ones when they run, so fake timers apply. */
export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Every delay the room uses, in milliseconds. */
export interface Timing {
  /** After a `join`, `resume` or `status`, how long silence means a dead socket. */
  replyTimeoutMs: number;
  /**
   * While waiting, the least time without a `position` before asking with `status`; the server's
   * promise (`nextUpdateSeconds`, times 1.5 plus 5 s) makes it longer in a long line.
   */
  statusAfterMs: number;
  /** The most time without a `position` before asking, whatever the promise (below 10 min). */
  statusAfterMaxMs: number;
  /**
   * A socket is replaced by a fresh one (and the place resumed) this long after it opened,
   * plus up to `recycleJitterMs`: API Gateway closes every connection at 2 hours, and a crowd
   * that connected at the opening must not reconnect all at once.
   */
  recycleAfterMs: number;
  recycleJitterMs: number;
  /** How long a socket may take to open. */
  connectTimeoutMs: number;
  /** First reconnect delay; it doubles each failed attempt, with jitter. */
  backoffBaseMs: number;
  /** Longest reconnect delay. */
  backoffMaxMs: number;
  /** Least time between two announcements of the position to assistive technology. */
  announceEveryMs: number;
  /**
   * In the pre-queue, how long without a word from the room before asking with `status`: long
   * (a crowd gathers there and nothing changes for it but a count) yet below API Gateway's
   * 10-minute idle limit.
   */
  prequeueStatusMs: number;
  /**
   * Once the countdown has run out, the room draws the pre-queue and tells every member a place
   * at its push budget (5,000 a second by default), the least told first: a crowd asking meanwhile
   * would only slow it down, and a crowd reconnecting would go to the back of that order. So the
   * page waits for its first place `statusAfterMs` plus this much per member of the pre-queue (its
   * last `prequeue.waiting`) before it asks, at most `drawWaitMaxMs`, and then a random moment of
   * as long again; that ask's silence never drops the socket.
   */
  drawWaitPerMemberMs: number;
  drawWaitMaxMs: number;
}

export const DEFAULT_TIMING: Timing = {
  replyTimeoutMs: 20_000,
  statusAfterMs: 15_000,
  statusAfterMaxMs: 8 * 60_000,
  recycleAfterMs: 90 * 60_000,
  recycleJitterMs: 25 * 60_000,
  connectTimeoutMs: 10_000,
  backoffBaseMs: 500,
  backoffMaxMs: 15_000,
  announceEveryMs: 30_000,
  prequeueStatusMs: 4 * 60_000,
  // Twice the time the room takes to tell every member at 5,000 a second.
  drawWaitPerMemberMs: 1000 / 2500,
  drawWaitMaxMs: 5 * 60_000,
};

export interface WaitingRoomOptions {
  /** The WebSocket URL. */
  url: string;
  /** The main-site path to go back to, sent as-is in `join`; the server sanitises it. */
  returnPath: string;
  /** The site's identity token for its signed-in user, sent with `join` (one place a person). */
  identity?: string | null;
  /** Opens a socket; in the browser `(url) => new WebSocket(url)`. */
  createSocket: (url: string) => SocketLike;
  /** Keeps the ticket across reloads and tabs; in the browser `localStorage`. */
  storage: KeyValueStorage;
  /** Leaves the page for the main site. */
  navigate: (url: string) => void;
  /** Whether the device has a network; in the browser `() => navigator.onLine`. */
  isOnline?: () => boolean;
  timers?: Timers;
  /** The clock, in milliseconds. */
  now?: () => number;
  /** A number in [0, 1) for the reconnect jitter. */
  random?: () => number;
  /** Solves a proof-of-work challenge; `solveChallenge` from `proof-of-work.ts` by default. */
  solve?: ChallengeSolver;
  /**
   * SHA-256 (hex) of a text, to check a draw's seed; WebCrypto's by default, null where the
   * browser has none (outside a secure context).
   */
  sha256?: Sha256Hex | null;
  timing?: Partial<Timing>;
}

export interface RoomError {
  code: ErrorCode;
  message: string;
}

const OPEN = 1;
const CONNECTING = 0;

const globalTimers: Timers = {
  setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
  clearTimeout: (handle) =>
    globalThis.clearTimeout(handle as ReturnType<typeof globalThis.setTimeout>),
};

type TimerName = 'reconnect' | 'connect' | 'reply' | 'status' | 'recycle' | 'clock';

/**
 * One visitor's place in line, kept over a WebSocket that reconnects by itself. Components read
 * its `$state` fields; the browser's `online`, `offline` and `visibilitychange` events are passed
 * in through `handleOnline`, `handleOffline` and `handleVisible`.
 */
export class WaitingRoom {
  connection = $state<ConnectionState>('connecting');
  phase = $state<QueuePhase>('joining');
  /** 1 + the people ahead; never rises for one place. Null until the server sends it. */
  position = $state<number | null>(null);
  /** Everyone waiting, this visitor included. */
  waiting = $state<number | null>(null);
  /** Estimated seconds to admission; null while the organiser has paused admission. */
  etaSeconds = $state<number | null>(null);
  /** The first position seen for this place (kept in storage), where the progress bar starts. */
  positionAtJoin = $state<number | null>(null);
  /** The main-site URL being opened, once admitted or the room is open. */
  redirectUrl = $state<string | null>(null);
  /** The last error the server sent; for diagnostics, not for alarming the visitor. */
  lastError = $state<RoomError | null>(null);
  /**
   * The room turned a new place down for now (`rate_limited` before any place was held: many
   * places are held from this network, or the room is flooded); the page keeps asking.
   */
  placeDeferred = $state(false);
  /** The room refused the site's sign-in link (`invalid_identity`): nothing more is tried. */
  identityRefused = $state(false);
  /** The position last put to the polite live region (changes at most every `announceEveryMs`). */
  announcedPosition = $state<number | null>(null);
  /** In the pre-queue: when the line opens (epoch seconds) and the draw's published commitment. */
  opensAt = $state<number | null>(null);
  /**
   * How far the room's clock is ahead of this device's (ms), from the last `prequeue`: the
   * countdown follows the room's clock, so a phone whose clock is off still opens on time.
   */
  clockSkewMs = $state(0);
  commitment = $state<string | null>(null);
  /** For a place drawn at the opening: the seed and commitment, for anyone to check the order. */
  draw = $state<DrawRecord | null>(null);
  /**
   * This page's own check of `draw`: does the seed hash to the commitment it saw before the
   * opening? Null until a draw has come and been checked.
   */
  drawCheck = $state<DrawCheckResult | null>(null);
  /**
   * The clock (ms), ticking each second while in the pre-queue so the countdown moves; read it
   * through `secondsToOpening`.
   */
  clock = $state(0);
  /** The proof of work's progress, 0–99, while checking; null when the solver cannot tell. */
  proofProgress = $state<number | null>(null);
  /** The proof of work failed `PROOF_ATTEMPTS` times: the visitor is asked to try again. */
  proofFailed = $state(false);
  /** The operator's words to everyone waiting (plain text), or null for none. */
  notice = $state<string | null>(null);
  /** The sale is over (`closed`): the operator's closing words, possibly empty. */
  closedMessage = $state<string | null>(null);

  readonly peopleAhead = $derived(this.position === null ? null : countAhead(this.position));
  readonly progress = $derived(progressPercent(this.positionAtJoin, this.position));
  /** Whole seconds until the scheduled opening by the room's clock, never below 0. */
  readonly secondsToOpening = $derived(
    this.opensAt === null
      ? null
      : Math.max(0, Math.ceil(this.opensAt - (this.clock + this.clockSkewMs) / 1000)),
  );
  /** The countdown has run out and the room is drawing places: the first position is due. */
  readonly openingNow = $derived(this.phase === 'prequeue' && this.secondsToOpening === 0);

  readonly #options: WaitingRoomOptions;
  readonly #timing: Timing;
  readonly #timers: Timers;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #isOnline: () => boolean;
  readonly #solve: ChallengeSolver;
  readonly #sha256: Sha256Hex | null;
  /** The commitment seen in the pre-queue (kept in storage), or null if none was seen. */
  #commitmentSeen: string | null = null;
  /** Counts the draw checks started, so that only the latest one's answer is kept. */
  #drawChecks = 0;
  readonly #pending = new Map<TimerName, unknown>();

  #socket: SocketLike | null = null;
  #ticket: string | null;
  /** The `joinKey` of the place asked for and not yet answered (`JOIN_KEY_KEY`). */
  #joinKey: string | null = null;
  #attempt = 0;
  #started = false;
  #finished = false;
  #hasBeenLive = false;
  #joinedOnSocket = false;
  #lastAnnouncedAt = Number.NEGATIVE_INFINITY;
  /** How long silence may last while waiting before asking (from the server's promise). */
  #quietLimitMs: number;
  /** When the last position came, and the gaps between the last few (ms). */
  #lastPositionAt: number | null = null;
  #recentGaps: number[] = [];
  /** The proof of work being solved, aborted when its socket goes. */
  #solving: AbortController | null = null;
  /** Challenges tried in a row without a place (each `invalid_proof` or solver failure counts). */
  #proofAttempts = 0;
  /**
   * The last proof sent, until it takes a place, is refused or its challenge expires: a join
   * turned down for now (`rate_limited`, `internal`) did not spend it, so the next join brings it
   * again instead of paying for a new one.
   */
  #proof: Proof | null = null;
  /** The last frame sent or heard on the socket (ms): API Gateway idles out a quiet one. */
  #lastFrameAt: number | null = null;
  /** Members of the pre-queue, from its last `prequeue`: how long the draw takes to tell. */
  #prequeueSize = 0;
  /**
   * The countdown has run out and no place has come yet: the page waits for the draw, and
   * `#drawAskAt` is when it asks for its place with `status`.
   */
  #awaitingDraw = false;
  #drawAskAt: number | null = null;

  constructor(options: WaitingRoomOptions) {
    this.#options = options;
    this.#timing = { ...DEFAULT_TIMING, ...options.timing };
    this.#timers = options.timers ?? globalTimers;
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
    this.#isOnline = options.isOnline ?? (() => true);
    this.#solve = options.solve ?? solveChallenge;
    this.#sha256 = options.sha256 === undefined ? webCryptoSha256() : options.sha256;
    this.clock = this.#now();
    this.#quietLimitMs = this.#timing.statusAfterMs;
    this.#ticket = this.#read(TICKET_KEY);
    this.#joinKey = this.#read(JOIN_KEY_KEY);
    if (this.#ticket !== null) {
      const atJoin = Number(this.#read(POSITION_AT_JOIN_KEY));
      if (Number.isInteger(atJoin) && atJoin >= 1) this.positionAtJoin = atJoin;
      this.#commitmentSeen = this.#read(COMMITMENT_KEY);
      const size = Number(this.#read(PREQUEUE_SIZE_KEY));
      if (Number.isInteger(size) && size >= 0) this.#prequeueSize = size;
    }
  }

  /** Connects (or waits for the network) and keeps the place from then on. Idempotent. */
  start(): void {
    if (this.#started || this.#finished) return;
    this.#started = true;
    if (this.#isOnline()) this.#connect();
    else this.connection = 'offline';
  }

  /** Closes the socket and stops every timer; the place is kept in storage for a later page. */
  stop(): void {
    this.#finished = true;
    this.#dropSocket();
    this.#clear('reconnect');
    this.#clear('clock');
  }

  /**
   * The visitor asks to try the browser check again after it failed: a fresh join, which the
   * room answers with a fresh challenge.
   */
  retryProof(): void {
    if (!this.#active() || !this.proofFailed) return;
    this.proofFailed = false;
    this.#proofAttempts = 0;
    if (this.connection === 'live' && this.#socket !== null) {
      this.#sayHello();
    } else {
      this.#attempt = 0;
      this.#connect();
    }
  }

  /**
   * Takes the place back on this page after another tab or window took it (`elsewhere`): that
   * one is told in turn. Only a click calls this, so two pages never take it from each other
   * by themselves.
   */
  takeBack(): void {
    if (!this.#started || this.#finished || this.connection !== 'elsewhere') return;
    this.#attempt = 0;
    this.#connect();
  }

  /** The network came back: reconnect at once, without waiting out a backoff. */
  handleOnline(): void {
    if (!this.#active() || this.connection === 'live') return;
    this.#attempt = 0;
    this.#connect();
  }

  /** The network went away: the socket is as good as dead; wait for `handleOnline`. */
  handleOffline(): void {
    if (!this.#active()) return;
    this.#dropSocket();
    this.#clear('reconnect');
    this.connection = 'offline';
  }

  /**
   * The tab became visible again. Background tabs get their timers throttled and laptops sleep,
   * so refresh the position (which also proves the socket alive) or stop waiting out a backoff.
   */
  handleVisible(): void {
    if (!this.#active()) return;
    this.#tick();
    if (this.connection === 'live') {
      // While the line is drawn a `status` is answered only with the place, later.
      if (this.phase === 'waiting' && !this.#awaitingDraw && this.#send({ action: 'status' })) {
        this.#expectReply();
      }
      return;
    }
    if (this.#socket === null && this.#isOnline()) this.#connect();
  }

  #active(): boolean {
    return this.#started && !this.#finished && this.connection !== 'elsewhere';
  }

  #connect(): void {
    this.#dropSocket();
    this.#clear('reconnect');
    this.connection = this.#hasBeenLive || this.#attempt > 0 ? 'reconnecting' : 'connecting';
    let socket: SocketLike;
    try {
      socket = this.#options.createSocket(this.#options.url);
    } catch {
      this.#socketLost();
      return;
    }
    this.#socket = socket;
    this.#joinedOnSocket = false;
    socket.onopen = () => {
      if (socket === this.#socket) this.#opened();
    };
    socket.onmessage = (event) => {
      if (socket === this.#socket) this.#received(event.data);
    };
    socket.onclose = () => {
      if (socket === this.#socket) this.#socketLost();
    };
    // A failed socket also fires `close`, which is where the reconnect happens.
    socket.onerror = () => {};
    this.#schedule('connect', this.#timing.connectTimeoutMs, () => this.#socketLost());
  }

  #opened(): void {
    this.#clear('connect');
    this.connection = 'live';
    this.#hasBeenLive = true;
    // A new socket: the cadence of its positions is learnt afresh.
    this.#lastPositionAt = null;
    this.#recentGaps = [];
    this.#sayHello();
    const recycleIn = this.#timing.recycleAfterMs + this.#random() * this.#timing.recycleJitterMs;
    this.#schedule('recycle', recycleIn, () => {
      // A fresh socket before API Gateway's 2-hour cap closes this one; the ticket resumes.
      this.#attempt = 0;
      this.#connect();
    });
  }

  /** Takes the place back with the ticket, or a new place without one (with an unspent proof). */
  #sayHello(): void {
    if (this.#ticket !== null) {
      this.#send({ action: 'resume', ticket: this.#ticket });
    } else {
      this.#forgetPlace();
      this.#sendJoin(this.#unspentProof() ?? undefined);
    }
    this.#expectReply();
  }

  /** The kept proof, while its challenge has time left for the trip to the room; else null. */
  #unspentProof(): Proof | null {
    const expiresAt = challengeExpiry(this.#proof?.challenge);
    if (expiresAt === null || expiresAt * 1000 - PROOF_EXPIRY_MARGIN_MS <= this.#now()) {
      this.#proof = null;
    }
    return this.#proof;
  }

  /** A `join` with the first join's return path and identity, and the proof when one is paid. */
  #sendJoin(proof?: Proof) {
    const identity = this.#options.identity;
    if (this.#joinKey === null || !/^[\w-]{16,64}$/.test(this.#joinKey)) {
      this.#joinKey = newJoinKey();
      this.#write(JOIN_KEY_KEY, this.#joinKey);
    }
    this.#send({
      action: 'join',
      return: this.#options.returnPath,
      joinKey: this.#joinKey,
      ...(identity ? { identity } : {}),
      ...(proof ? { proof } : {}),
    });
  }

  /**
   * The room asks for a proof of work before it gives a place: solve it on this socket and join
   * again with the proof. A socket lost meanwhile aborts the search (`#dropSocket`); the next
   * socket's join brings a new challenge.
   */
  #solveChallenge(challenge: Record<string, unknown>): void {
    // Only a page still looking for a place pays: a held place needs no proof.
    if (this.#ticket !== null || (this.phase !== 'joining' && this.phase !== 'checking')) return;
    // A new challenge replaces a kept proof (the room now asks more than it was made for).
    this.#proof = null;
    this.#abortSolving();
    const socket = this.#socket;
    const controller = new AbortController();
    this.#solving = controller;
    this.phase = 'checking';
    this.proofFailed = false;
    this.proofProgress = null;
    const current = () => this.#solving === controller && this.#socket === socket;
    this.#solve(challenge, {
      signal: controller.signal,
      onProgress: ({ tried, expected }) => {
        if (current()) this.proofProgress = proofPercent(tried, expected);
      },
    }).then(
      (solution) => {
        if (!current()) return;
        this.#solving = null;
        this.#proof = { challenge, solution };
        this.#sendJoin(this.#proof);
        this.#expectReply();
      },
      () => {
        if (!current()) return;
        this.#solving = null;
        this.#proofRefused();
      },
    );
  }

  /**
   * A proof was refused (`invalid_proof`) or could not be found: ask for a new challenge with a
   * plain join, until `PROOF_ATTEMPTS` have gone; then the visitor decides (`retryProof`).
   */
  #proofRefused(): void {
    // A stray refusal must not cost a held place a second join. (A kept proof is sent again from
    // `joining`, with nothing to solve.)
    if (this.#ticket !== null || (this.phase !== 'checking' && this.phase !== 'joining')) return;
    this.#proofAttempts += 1;
    if (this.#proofAttempts >= PROOF_ATTEMPTS) {
      this.proofFailed = true;
      this.proofProgress = null;
      return;
    }
    this.#sendJoin();
    this.#expectReply();
  }

  #abortSolving(): void {
    if (this.#solving === null) return;
    this.#solving.abort();
    this.#solving = null;
    this.proofProgress = null;
  }

  #received(data: unknown): void {
    // Any frame at all proves the socket alive.
    this.#clear('reply');
    this.#lastFrameAt = this.#now();
    const message = parseServerMessage(data);
    if (message !== null) this.#handle(message);
    else this.#notHandled(parseGatewayError(data));
  }

  /**
   * API Gateway answered instead of the room (throttled, or the function failed): the request
   * was never handled, and no answer will come. The socket itself is fine: without a place on
   * it, say hello again on it after a backoff, as after the room's own `rate_limited`
   * (throttled: 4 s at least) or `internal` (failed), with the same `joinKey`. A new socket
   * would cost a connection and a disconnection of its own, which is what a crowd retrying
   * must not add. With a place, the next `status` asks again.
   */
  #notHandled(refusal: GatewayError | null): void {
    if (refusal === null || this.#joinedOnSocket) return;
    if (refusal.slowDown) this.#attempt = Math.max(this.#attempt, 4);
    this.#clear('reply');
    const socket = this.#socket;
    const delay = this.#backoff(this.#attempt);
    this.#attempt += 1;
    this.#schedule('reconnect', delay, () => {
      if (socket !== null && socket === this.#socket && socket.readyState === OPEN) {
        this.#sayHello();
      } else {
        this.#connect();
      }
    });
  }

  #handle(message: ServerMessage): void {
    switch (message.type) {
      case 'joined':
        this.#ticket = message.ticket;
        this.#write(TICKET_KEY, message.ticket);
        // Answered: the ticket holds the place from now on, and a later join asks for a new one.
        this.#joinKey = null;
        this.#remove(JOIN_KEY_KEY);
        this.#attempt = 0;
        this.#joinedOnSocket = true;
        this.placeDeferred = false;
        this.#proofAttempts = 0;
        // A proof is good for one place: this one is spent (or was not needed).
        this.#proof = null;
        this.proofFailed = false;
        this.proofProgress = null;
        // The room follows `joined` with its current notice, if it has one: a banner kept from
        // before a reconnect may have been taken down meanwhile.
        this.notice = null;
        if (this.phase === 'joining' || this.phase === 'checking') this.phase = 'waiting';
        // Back on a new socket while the line is drawn: wait for the place as before.
        if (!this.#awaitingDraw && this.#drawnPlaceDue()) {
          // A member of a pre-queue back after a reload or a lost socket, with no place seen
          // yet: the line may be being drawn (a `prequeue` says so if it is still to come).
          this.#awaitingDraw = true;
          this.#drawAskAt = this.#now() + this.#drawWait();
        }
        if (this.#awaitingDraw) this.#scheduleDrawWait();
        else this.#scheduleStatus(this.#timing.statusAfterMs);
        return;
      case 'position':
        if (message.draw) this.#receiveDraw(message.draw);
        this.#quietLimitMs = this.#quietLimit(message.nextUpdateSeconds);
        this.#updatePosition(message.position, message.waiting, message.etaSeconds);
        return;
      case 'prequeue':
        // The room's clock, as of now (the frame's flight time is small against a second).
        if (message.now !== undefined) this.clockSkewMs = message.now * 1000 - this.#now();
        this.#enterPrequeue(message.opensAt, message.waiting, message.commitment);
        return;
      case 'challenge':
        this.#solveChallenge(message.challenge);
        return;
      case 'notice': {
        const text = message.message?.trim() ?? '';
        this.notice = text === '' ? null : text;
        return;
      }
      case 'closed':
        this.#close(message.message);
        return;
      case 'admitted':
      case 'open':
        this.#leave(message.type, message.redirectUrl);
        return;
      case 'error':
        this.#handleError({ code: message.code, message: message.message });
        return;
      case 'pong':
        return;
      case 'superseded':
        // No reconnect: the other page has the place; a reconnect here would take it back.
        this.#dropSocket();
        this.#clear('reconnect');
        this.connection = 'elsewhere';
        return;
    }
  }

  /**
   * A drawn place's draw: keep it, and check its seed against the commitment seen before the
   * opening (once per seed; the answer is dropped if another draw came meanwhile).
   */
  #receiveDraw(draw: DrawRecord): void {
    if (this.draw?.seed === draw.seed && this.draw.commitment === draw.commitment) return;
    this.draw = draw;
    this.drawCheck = null;
    const check = ++this.#drawChecks;
    checkDraw(draw, this.#commitmentSeen, this.#sha256).then((result) => {
      if (check === this.#drawChecks) this.drawCheck = result;
    });
  }

  /**
   * Before a scheduled opening: count down to it, and keep the socket alive at the pre-queue's
   * slow pace (the room's words there change nothing but a count).
   */
  #enterPrequeue(opensAt: number, waiting: number, commitment: string): void {
    if (this.#leftLine()) return;
    this.opensAt = opensAt;
    this.waiting = waiting;
    if (this.#prequeueSize !== waiting) {
      this.#prequeueSize = waiting;
      this.#write(PREQUEUE_SIZE_KEY, String(waiting));
    }
    this.commitment = commitment;
    if (this.#commitmentSeen !== commitment) {
      // A new schedule (a new pre-queue) brings a new commitment; the draw is checked against
      // the last one seen before it.
      this.#commitmentSeen = commitment;
      this.#write(COMMITMENT_KEY, commitment);
    }
    if (this.phase !== 'prequeue') {
      // A place in line is only ever drawn at the opening: none is held now. After a re-schedule
      // the place shown before is gone too, so the progress bar starts from the drawn one.
      this.position = null;
      this.etaSeconds = null;
      this.positionAtJoin = null;
      this.announcedPosition = null;
      this.#lastAnnouncedAt = Number.NEGATIVE_INFINITY;
      this.#remove(POSITION_AT_JOIN_KEY);
      this.phase = 'prequeue';
    }
    this.#quietLimitMs = this.#timing.prequeueStatusMs;
    this.#scheduleStatus(this.#quietLimitMs);
    this.#tick();
  }

  /**
   * Moves the pre-queue's clock on, next at the turn of the second. At zero the room is drawing:
   * the clock stops and the page waits for its first place (`#scheduleDrawWait`).
   */
  #tick(): void {
    this.#clear('clock');
    this.clock = this.#now();
    if (this.phase !== 'prequeue' || this.#finished) return;
    if (this.secondsToOpening === 0) {
      if (!this.#awaitingDraw) {
        this.#awaitingDraw = true;
        this.#drawAskAt = this.clock + this.#drawWait();
      }
      this.#scheduleDrawWait();
      return;
    }
    if (this.#awaitingDraw) {
      // A later opening (a re-schedule): its own draw will be waited for; the pre-queue's pace.
      this.#awaitingDraw = false;
      this.#drawAskAt = null;
      this.#scheduleStatus(this.#timing.prequeueStatusMs);
    }
    // At the turn of the room's second, which the countdown follows.
    const intoSecond = (((this.clock + this.clockSkewMs) % 1000) + 1000) % 1000;
    this.#schedule('clock', 1000 - intoSecond + 5, () => this.#tick());
  }

  /** Was this place in a pre-queue (its commitment seen), with no place in line shown since? */
  #drawnPlaceDue(): boolean {
    return this.#commitmentSeen !== null && this.position === null && this.positionAtJoin === null;
  }

  /**
   * How long to wait for the draw's first place before asking: as long as the room may take to
   * tell the whole pre-queue, and a random moment of as long again, so that the members who
   * have not heard do not all ask in the same second.
   */
  #drawWait(): number {
    const { statusAfterMs, drawWaitPerMemberMs, drawWaitMaxMs } = this.#timing;
    const window = Math.min(
      drawWaitMaxMs,
      statusAfterMs + this.#prequeueSize * drawWaitPerMemberMs,
    );
    return window + this.#random() * window;
  }

  /**
   * While the line is drawn: ask once for the place when `#drawAskAt` comes, with a `status`
   * whose answer comes with the room's later tick (so its silence is no sign of a dead socket),
   * and meanwhile keep the pre-queue's slow keep-alive as a `ping`, whose `pong` comes at once
   * (its silence is).
   */
  #scheduleDrawWait(): void {
    const now = this.#now();
    const keepAliveAt = (this.#lastFrameAt ?? now) + this.#timing.prequeueStatusMs;
    const at = Math.min(this.#drawAskAt ?? keepAliveAt, keepAliveAt);
    this.#schedule('status', Math.max(0, at - now), () => {
      if (!this.#awaitingDraw) {
        this.#scheduleStatus(this.#quietLimitMs);
        return;
      }
      if (this.connection === 'live') {
        if (this.#drawAskAt !== null && this.#now() >= this.#drawAskAt) {
          // Asked; if no place comes still, ask again after as long a wait.
          if (this.#send({ action: 'status' })) this.#drawAskAt = this.#now() + this.#drawWait();
        } else if (this.#send({ action: 'ping' })) {
          this.#expectReply();
        }
      }
      this.#scheduleDrawWait();
    });
  }

  /**
   * The sale is over: say so with the operator's words, close the socket for good and forget
   * the ticket, so that a reload joins afresh (and hears `closed` again) instead of resuming.
   */
  #close(message: string): void {
    if (this.phase === 'admitted' || this.phase === 'open') return;
    this.closedMessage = message.trim();
    this.notice = null;
    this.#ticket = null;
    this.#forgetPlace();
    this.phase = 'closed';
    this.stop();
  }

  #leftLine(): boolean {
    return this.phase === 'admitted' || this.phase === 'open' || this.phase === 'closed';
  }

  #updatePosition(position: number, waiting: number, etaSeconds: number | null): void {
    if (this.#leftLine()) return;
    this.#clear('clock');
    this.#awaitingDraw = false;
    this.#drawAskAt = null;
    // Positions can arrive out of order across a reconnect; never show a higher one again.
    const shown = this.position === null ? position : Math.min(this.position, position);
    this.position = shown;
    this.waiting = Math.max(waiting, shown);
    this.etaSeconds = etaSeconds;
    this.phase = 'waiting';
    if (this.positionAtJoin === null || this.positionAtJoin < shown) {
      this.positionAtJoin = shown;
      this.#write(POSITION_AT_JOIN_KEY, String(shown));
    }
    this.#announce(shown);
    this.#scheduleStatus(this.#quietLimitMs);
  }

  /**
   * How long to wait for the next position before asking: the room's promise with slack, but no
   * longer than four times the longest of the last few gaps (a visitor near the front hears
   * every second and notices a dead socket in seconds, not minutes), within the bounds.
   */
  #quietLimit(nextUpdateSeconds: number): number {
    const now = this.#now();
    if (this.#lastPositionAt !== null) {
      this.#recentGaps = [...this.#recentGaps.slice(-4), now - this.#lastPositionAt];
    }
    this.#lastPositionAt = now;
    const { statusAfterMs, statusAfterMaxMs } = this.#timing;
    if (nextUpdateSeconds <= 0) return statusAfterMs;
    let limit = nextUpdateSeconds * 1500 + 5000;
    if (this.#recentGaps.length >= 3) limit = Math.min(limit, 4 * Math.max(...this.#recentGaps));
    return Math.min(statusAfterMaxMs, Math.max(statusAfterMs, limit));
  }

  #announce(position: number): void {
    if (position === this.announcedPosition) return;
    const now = this.#now();
    if (
      this.announcedPosition !== null &&
      now - this.#lastAnnouncedAt < this.#timing.announceEveryMs
    ) {
      return;
    }
    this.announcedPosition = position;
    this.#lastAnnouncedAt = now;
  }

  #leave(phase: 'admitted' | 'open', redirectUrl: string): void {
    // The server builds a main-site URL; refuse anything else (a `javascript:` URL above all).
    if (!isNavigable(redirectUrl)) return;
    this.phase = phase;
    this.redirectUrl = redirectUrl;
    this.#ticket = null;
    this.#remove(TICKET_KEY);
    this.#remove(POSITION_AT_JOIN_KEY);
    this.#remove(COMMITMENT_KEY);
    this.#remove(PREQUEUE_SIZE_KEY);
    this.stop();
    this.#options.navigate(redirectUrl);
  }

  #handleError(error: RoomError): void {
    this.lastError = error;
    switch (error.code) {
      case 'invalid_identity':
        // Trying again changes nothing: the visitor must come back through the site's link.
        this.identityRefused = true;
        this.stop();
        return;
      case 'invalid_ticket':
        // The old place is gone (expired, abandoned or from another room): take a new one.
        this.#ticket = null;
        this.#sayHello();
        return;
      case 'invalid_proof':
        this.#proof = null;
        this.#proofRefused();
        return;
      case 'rate_limited':
        if (this.#joinedOnSocket) {
          this.#scheduleStatus(this.#timing.statusAfterMs * 4);
        } else {
          // Without a place yet: say so (not "the connection dropped"), and ask again later.
          if (this.#ticket === null) this.placeDeferred = true;
          // Skip the quick first steps: at least 4 s, 4-8 s with jitter.
          this.#attempt = Math.max(this.#attempt, 4);
          this.#socketLost();
        }
        return;
      case 'internal':
        // Without a place yet there is nothing to wait for on this socket: try again later.
        if (!this.#joinedOnSocket) this.#socketLost();
        return;
      case 'bad_request':
        return;
    }
  }

  /** The socket died or never came up: reconnect after a backoff, or wait for the network. */
  #socketLost(): void {
    this.#dropSocket();
    if (!this.#active()) return;
    if (!this.#isOnline()) {
      this.connection = 'offline';
      return;
    }
    this.connection = 'reconnecting';
    const delay = this.#backoff(this.#attempt);
    this.#attempt += 1;
    this.#schedule('reconnect', delay, () => this.#connect());
  }

  /** Exponential backoff with "equal jitter": half the step fixed, half random. */
  #backoff(attempt: number): number {
    const step = Math.min(this.#timing.backoffMaxMs, this.#timing.backoffBaseMs * 2 ** attempt);
    return Math.round(step / 2 + this.#random() * (step / 2));
  }

  /**
   * Asks with `status` after `delay` without a position. No pings: the room's positions keep
   * the socket from idling out (API Gateway counts a push as activity) and prove it alive, so a
   * line of a million sends nothing while the room keeps the promise each position makes.
   */
  #scheduleStatus(delay: number): void {
    // While the line is drawn, its own pace (a `status` unanswered then is no dead socket).
    if (this.#awaitingDraw) {
      this.#scheduleDrawWait();
      return;
    }
    this.#schedule('status', delay, () => {
      if (this.connection === 'live' && (this.phase === 'waiting' || this.phase === 'prequeue')) {
        if (this.#send({ action: 'status' })) this.#expectReply();
      }
      this.#scheduleStatus(this.#quietLimitMs);
    });
  }

  /** Silence for `replyTimeoutMs` from now means the socket is dead (no close event may come). */
  #expectReply(): void {
    if (this.#pending.has('reply')) return;
    this.#schedule('reply', this.#timing.replyTimeoutMs, () => this.#socketLost());
  }

  #forgetPlace(): void {
    this.#remove(TICKET_KEY);
    this.#remove(POSITION_AT_JOIN_KEY);
    this.#remove(COMMITMENT_KEY);
    this.#remove(PREQUEUE_SIZE_KEY);
    this.#commitmentSeen = null;
    this.#prequeueSize = 0;
    this.position = null;
    this.waiting = null;
    this.etaSeconds = null;
    this.positionAtJoin = null;
    this.announcedPosition = null;
    this.#lastAnnouncedAt = Number.NEGATIVE_INFINITY;
    this.opensAt = null;
    this.commitment = null;
    this.draw = null;
    this.drawCheck = null;
    this.#drawChecks += 1;
    this.#clear('clock');
    this.#awaitingDraw = false;
    this.#drawAskAt = null;
    this.phase = 'joining';
  }

  #send(message: ClientMessage): boolean {
    const socket = this.#socket;
    if (socket === null || socket.readyState !== OPEN) return false;
    try {
      socket.send(JSON.stringify(message));
      this.#lastFrameAt = this.#now();
      return true;
    } catch {
      return false;
    }
  }

  #dropSocket(): void {
    for (const name of ['connect', 'reply', 'status', 'recycle'] as const) {
      this.#clear(name);
    }
    // A proof is paid on its socket: the next socket's join brings a new challenge.
    this.#abortSolving();
    const socket = this.#socket;
    if (socket === null) return;
    this.#socket = null;
    socket.onopen = null;
    socket.onmessage = null;
    socket.onclose = null;
    socket.onerror = null;
    if (socket.readyState === OPEN || socket.readyState === CONNECTING) {
      try {
        socket.close(1000);
      } catch {
        // Already closing: nothing left to release.
      }
    }
  }

  #schedule(name: TimerName, ms: number, run: () => void): void {
    this.#clear(name);
    const handle = this.#timers.setTimeout(() => {
      this.#pending.delete(name);
      run();
    }, ms);
    this.#pending.set(name, handle);
  }

  #clear(name: TimerName): void {
    if (!this.#pending.has(name)) return;
    this.#timers.clearTimeout(this.#pending.get(name));
    this.#pending.delete(name);
  }

  // Storage can throw (quota, privacy modes); the place then lives for this page only.
  #read(key: string): string | null {
    try {
      return this.#options.storage.getItem(key);
    } catch {
      return null;
    }
  }

  #write(key: string, value: string): void {
    try {
      this.#options.storage.setItem(key, value);
    } catch {
      // Kept in memory instead.
    }
  }

  #remove(key: string): void {
    try {
      this.#options.storage.removeItem(key);
    } catch {
      // Nothing stored, nothing to forget.
    }
  }
}

/** 128 random bits, base64url: a `joinKey`. */
function newJoinKey(): string {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
}

/**
 * When a challenge expires (epoch seconds), from its `parameters.expiresAt`
 * (`functions/core/proof-of-work.ts`); null when it does not say.
 */
function challengeExpiry(challenge: Record<string, unknown> | undefined): number | null {
  const parameters = challenge?.parameters as { expiresAt?: unknown } | undefined;
  const expiresAt = parameters?.expiresAt;
  return typeof expiresAt === 'number' && Number.isFinite(expiresAt) ? expiresAt : null;
}

/**
 * An absolute http(s) URL or a path on this origin: what `navigate` may be given. A browser reads
 * `/\host` like `//host` (another origin), so a path may hold no backslash at all.
 */
function isNavigable(url: string): boolean {
  if (/^https?:\/\//i.test(url)) return true;
  return url.startsWith('/') && !url.startsWith('//') && !url.includes('\\');
}
