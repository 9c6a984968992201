/** Packed trace events survive the trip from a worker to the parent unchanged. */
import { describe, expect, it } from 'vitest';
import { packEvent, type TraceEvent, unpackEvent } from '../../../tools/simulate/events.ts';

const EVERY_KIND: TraceEvent[] = [
  { t: 1.5, k: 'dial', purpose: 'resume', attempt: 2 },
  { t: 2, k: 'open' },
  { t: 3, k: 'send', action: 'join' },
  { t: 4, k: 'joined', sessionId: 's' },
  { t: 5, k: 'position', position: 3, waiting: 9 },
  {
    t: 6,
    k: 'admitted',
    pass: 'a.b.c',
    redirectUrl: 'http://x/sim/1?wr_pass=a.b.c',
    expiresAt: 99,
  },
  { t: 7, k: 'open-room', redirectUrl: 'http://x/' },
  { t: 8, k: 'pong' },
  { t: 9, k: 'error', code: 'rate_limited' },
  { t: 10, k: 'garbled', text: '{' },
  { t: 11, k: 'close', code: 1006, expected: false },
  { t: 12, k: 'socket-error', message: 'ECONNREFUSED' },
  { t: 13, k: 'drop', pauseMs: 700 },
  { t: 14, k: 'abandon' },
  { t: 15, k: 'give-up', reason: 'no connection' },
  { t: 16, k: 'stop', state: 'waiting' },
  { t: 17, k: 'position', position: 2, waiting: 9, drawn: true },
  { t: 18, k: 'prequeue', opensAt: 1_800_000_000, waiting: 40, commitment: 'c'.repeat(64) },
  { t: 19, k: 'prequeue', opensAt: 1_800_000_000, waiting: 41, commitment: null },
  { t: 20, k: 'draw', seed: 'a'.repeat(64), commitment: 'c'.repeat(64) },
  { t: 21, k: 'challenge', attempts: 2000 },
  { t: 22, k: 'solved', ms: 812.5, queuedMs: 3, ok: true },
  { t: 23, k: 'solved', ms: 0, queuedMs: 0, ok: false },
  { t: 24, k: 'replay', result: 'refused' },
  { t: 25, k: 'position', position: 4, waiting: 9, next: 12 },
  { t: 26, k: 'position', position: 3, waiting: 9, drawn: true, next: 6 },
  { t: 27, k: 'retry', reason: 'apigw: Too Many Requests', purpose: 'join', delayMs: 6000 },
];

describe('packed trace events', () => {
  it('unpack to the events they were packed from, for every kind', () => {
    for (const event of EVERY_KIND) {
      expect(unpackEvent(packEvent(42, event))).toEqual({ index: 42, event });
    }
  });

  it('leave the draw out of positions and a repeated commitment out of prequeue', () => {
    // Act
    const plain = packEvent(1, { t: 1, k: 'position', position: 2, waiting: 9 });
    const repeated = packEvent(1, {
      t: 2,
      k: 'prequeue',
      opensAt: 5,
      waiting: 3,
      commitment: null,
    });

    // Assess
    expect(plain).toEqual([1, 1, 'position', 2, 9]);
    expect(repeated).toEqual([1, 2, 'prequeue', 5, 3]);
  });
});
