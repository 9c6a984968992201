import { describe, expect, it } from 'vitest';
import {
  admittedInLastMinute,
  allowance,
  bucketCapacity,
  EMPTY_ROOM_STATE,
  etaSeconds,
} from '../../../functions/core/admission.ts';

describe('token bucket', () => {
  it('holds one tick of admissions rounded up to a whole visitor', () => {
    expect(bucketCapacity(600, 1000)).toBe(10);
    expect(bucketCapacity(30, 1000)).toBe(1);
    expect(bucketCapacity(90, 1000)).toBe(2);
    expect(bucketCapacity(0, 1000)).toBe(0);
  });

  it('admits the rate over a minute of one-second ticks', () => {
    // Prepare
    let state = EMPTY_ROOM_STATE;
    let admitted = 0;

    // Act
    for (let t = 1; t <= 60; t++) {
      const result = allowance(state, 90, 1000, t * 1000, 1000);
      admitted += result.admit;
      state = result.next;
    }

    // Assess
    expect(admitted).toBe(90);
  });

  it('does not save up tokens through a long gap between ticks', () => {
    // Prepare
    const first = allowance(EMPTY_ROOM_STATE, 60, 1000, 1000, 0).next;

    // Act: ten minutes without a tick, then a crowd.
    const later = allowance(first, 60, 1000, 601_000, 10_000);

    // Assess
    expect(later.admit).toBe(1);
  });

  it('pauses at rate 0 and forgets what it held', () => {
    // Prepare
    const full = { ...EMPTY_ROOM_STATE, tokens: 5, refilledAt: 0 };

    // Act
    const paused = allowance(full, 0, 1000, 1000, 100);

    // Assess
    expect(paused.admit).toBe(0);
    expect(paused.next.tokens).toBe(0);
  });

  it('applies a new rate from the next tick', () => {
    // Prepare
    const state = allowance(EMPTY_ROOM_STATE, 60, 1000, 1000, 0).next;

    // Act
    const faster = allowance(state, 6000, 1000, 2000, 1000);

    // Assess: 6,000 a minute is 100 a one-second tick.
    expect(faster.admit).toBe(100);
  });

  it('admits no more than there are visitors waiting, keeping the rest', () => {
    // Act
    const result = allowance(EMPTY_ROOM_STATE, 600, 1000, 1000, 3);

    // Assess
    expect(result.admit).toBe(3);
    expect(result.next.tokens).toBeCloseTo(7);
  });

  it('counts admissions of the last minute only', () => {
    // Prepare
    let state = EMPTY_ROOM_STATE;
    for (let t = 1; t <= 120; t++) state = allowance(state, 60, 1000, t * 1000, 1000).next;

    // Act
    const count = admittedInLastMinute(state, 120_000);

    // Assess
    expect(count).toBe(60);
  });
});

describe('etaSeconds', () => {
  it('is the time the rate needs to reach the position', () => {
    expect(etaSeconds(1, 60)).toBe(1);
    expect(etaSeconds(90, 60)).toBe(90);
    expect(etaSeconds(7, 600)).toBe(1);
  });

  it('is null while admission is paused', () => {
    expect(etaSeconds(3, 0)).toBeNull();
  });
});
