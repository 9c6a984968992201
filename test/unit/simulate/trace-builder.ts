/**
 * Builds visitor traces by hand for the simulator's invariant tests, and signs real passes for
 * them with a fresh room key.
 */
import { randomUUID } from 'node:crypto';
import {
  generateSigningKey,
  jwksOf,
  type SigningKey,
  signPass,
} from '../../../functions/core/tokens.ts';
import type { TraceEvent, VisitorPlan, VisitorTrace } from '../../../tools/simulate/events.ts';

/** A moment of the crafted runs: epoch milliseconds, `T` + offset in seconds. */
export const T = 1_700_000_000_000;
export const at = (seconds: number) => T + seconds * 1000;

export const ROOM_ID = 'waiting-room';
export const ORIGIN = 'http://127.0.0.1:8080';

export interface TestKey {
  key: SigningKey;
  jwks: ReturnType<typeof jwksOf>;
  /** A pass for `sessionId` issued at `seconds` after `T`. */
  pass(sessionId: string, seconds: number): Promise<string>;
}

export async function testKey(): Promise<TestKey> {
  const key = await generateSigningKey();
  return {
    key,
    jwks: jwksOf([key]),
    pass: (sessionId, seconds) =>
      signPass(key, {
        roomId: ROOM_ID,
        mainOrigin: ORIGIN,
        sessionId,
        issuedAt: Math.floor(at(seconds) / 1000),
        ttlSeconds: 1200,
        jti: randomUUID(),
      }),
  };
}

export function planOf(index: number, overrides: Partial<VisitorPlan> = {}): VisitorPlan {
  return {
    index,
    startMs: 0,
    returnPath: `/sim/${index}`,
    churn: null,
    abandon: null,
    recheck: null,
    localAddress: null,
    ...overrides,
  };
}

/** A fluent trace: each step appends the events a real visitor would emit. */
export class TraceBuilder {
  readonly events: TraceEvent[] = [];
  readonly sessionId: string;

  constructor(
    readonly index: number,
    readonly plan: VisitorPlan = planOf(index),
  ) {
    this.sessionId = `session-${index}`;
  }

  /** Dials, opens, sends `join` at `sent` and hears `joined` at `joined` (seconds after T). */
  /**
   * A join that went unanswered at `first` (its answer lost) and was sent again with the same
   * key on a new socket at `sent`, answered at `joined`.
   */
  retriedJoin(first: number, sent: number, joined: number): this {
    this.events.push(
      { t: at(first) - 5, k: 'dial', purpose: 'join', attempt: 1 },
      { t: at(first) - 1, k: 'open' },
      { t: at(first), k: 'send', action: 'join' },
      { t: at(sent) - 5, k: 'dial', purpose: 'join', attempt: 2 },
      { t: at(sent) - 1, k: 'open' },
      { t: at(sent), k: 'send', action: 'join' },
      { t: at(joined), k: 'joined', sessionId: this.sessionId },
    );
    return this;
  }

  join(sent: number, joined: number): this {
    this.events.push(
      { t: at(sent) - 5, k: 'dial', purpose: 'join', attempt: 1 },
      { t: at(sent) - 1, k: 'open' },
      { t: at(sent), k: 'send', action: 'join' },
      { t: at(joined), k: 'joined', sessionId: this.sessionId },
    );
    return this;
  }

  position(seconds: number, position: number, waiting = 100): this {
    this.events.push({ t: at(seconds), k: 'position', position, waiting });
    return this;
  }

  admitted(seconds: number, pass: string, returnPath = this.plan.returnPath): this {
    this.events.push(
      {
        t: at(seconds),
        k: 'admitted',
        pass,
        redirectUrl: `${ORIGIN}${returnPath}?wr_pass=${pass}`,
        expiresAt: Math.floor(at(seconds) / 1000) + 1200,
      },
      { t: at(seconds) + 1, k: 'close', code: 1000, expected: true },
    );
    return this;
  }

  /** Churn: drops the socket at `seconds` and resumes `away` seconds later. */
  churn(seconds: number, away: number, answer: 'joined' | 'invalid_ticket' = 'joined'): this {
    const back = seconds + away;
    this.events.push(
      { t: at(seconds), k: 'drop', pauseMs: away * 1000 },
      { t: at(seconds) + 1, k: 'close', code: 1006, expected: true },
      { t: at(back), k: 'dial', purpose: 'resume', attempt: 1 },
      { t: at(back) + 2, k: 'open' },
      { t: at(back) + 3, k: 'send', action: 'resume' },
    );
    this.events.push(
      answer === 'joined'
        ? { t: at(back) + 5, k: 'joined', sessionId: this.sessionId }
        : { t: at(back) + 5, k: 'error', code: 'invalid_ticket' },
    );
    return this;
  }

  /** Comes back after admission with the ticket and gets `pass`. */
  recheck(seconds: number, pass: string): this {
    this.events.push(
      { t: at(seconds), k: 'dial', purpose: 'recheck', attempt: 1 },
      { t: at(seconds) + 1, k: 'open' },
      { t: at(seconds) + 2, k: 'send', action: 'resume' },
      { t: at(seconds) + 4, k: 'joined', sessionId: this.sessionId },
      {
        t: at(seconds) + 5,
        k: 'admitted',
        pass,
        redirectUrl: `${ORIGIN}${this.plan.returnPath}?wr_pass=${pass}`,
        expiresAt: 0,
      },
      { t: at(seconds) + 6, k: 'close', code: 1000, expected: true },
    );
    return this;
  }

  abandon(seconds: number): this {
    this.events.push(
      { t: at(seconds), k: 'abandon' },
      { t: at(seconds) + 1, k: 'close', code: 1000, expected: true },
    );
    return this;
  }

  stop(seconds: number, state: 'waiting' | 'scheduled' = 'waiting'): this {
    this.events.push({ t: at(seconds), k: 'stop', state });
    return this;
  }

  build(): VisitorTrace {
    return { plan: this.plan, events: [...this.events] };
  }
}
