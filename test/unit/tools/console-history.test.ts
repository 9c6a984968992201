/** The console's memory: joins and abandonments per minute derived from successive totals. */
import { describe, expect, it } from 'vitest';
import { type RoomReading, SampleHistory } from '../../../tools/console/history.ts';
import type { ConsoleSample } from '../../../tools/console/protocol.ts';

const T0 = Date.UTC(2026, 10, 28, 12);

function reading(totals: Partial<RoomReading>): RoomReading {
  return {
    enabled: true,
    admitPerMinute: 60,
    waiting: 0,
    arriving: 0,
    admittedLastMinute: 0,
    admittedTotal: 0,
    abandonedTotal: 0,
    connections: 0,
    schedule: null,
    powCost: 0,
    message: null,
    closed: null,
    error: null,
    ...totals,
  };
}

describe('SampleHistory', () => {
  it('counts the joins of the last minute from waiting, arriving, admitted and abandoned', () => {
    // Prepare
    const history = new SampleHistory();
    history.add(reading({ waiting: 10, admittedTotal: 5 }), T0);

    // Act: 20 more joined; 4 of the line were admitted and 1 left.
    const sample = history.add(
      reading({ waiting: 23, arriving: 2, admittedTotal: 9, abandonedTotal: 1 }),
      T0 + 60_000,
    );

    // Assess
    expect(sample.joinsLastMinute).toBe(20);
    expect(sample.abandonedLastMinute).toBe(1);
  });

  it('extrapolates in its first minute, and says nothing before ten seconds', () => {
    // Prepare
    const history = new SampleHistory();
    history.add(reading({ waiting: 0 }), T0);

    // Act
    const early = history.add(reading({ waiting: 1 }), T0 + 2000);
    const later = history.add(reading({ waiting: 10 }), T0 + 20_000);

    // Assess
    expect(early.joinsLastMinute).toBeNull();
    expect(later.joinsLastMinute).toBe(30);
  });

  it('says nothing rather than a negative count when the room restarted and counts afresh', () => {
    // Prepare
    const history = new SampleHistory();
    history.add(reading({ waiting: 50, admittedTotal: 500 }), T0);

    // Act
    const sample = history.add(reading({ waiting: 3 }), T0 + 60_000);

    // Assess
    expect(sample.joinsLastMinute).toBeNull();
  });

  it('counts from after a restart whose totals grew back past the old ones within the minute', () => {
    // Prepare: 500 admitted, then the room restarted (counting afresh) and 600 were admitted.
    const history = new SampleHistory();
    history.add(reading({ admittedTotal: 500 }), T0);
    history.add(reading({ admittedTotal: 520 }), T0 + 10_000);
    history.add(reading({ admittedTotal: 0 }), T0 + 20_000);

    // Act: 40 s after the restart, 40 visitors have joined since.
    const sample = history.add(reading({ admittedTotal: 540 }), T0 + 60_000);

    // Assess: against the sample after the restart, over 40 s, not against 500 over a minute.
    expect(sample.joinsLastMinute).toBe(Math.round((540 * 60) / 40));
  });

  it('counts from after a gap in the totals, where a restart may hide', () => {
    // Prepare: the room could not be read for a while.
    const history = new SampleHistory();
    history.add(reading({ abandonedTotal: 50 }), T0);
    history.add(reading({ abandonedTotal: null, error: 'unreachable' }), T0 + 10_000);
    history.add(reading({ abandonedTotal: 2 }), T0 + 20_000);

    // Act
    const sample = history.add(reading({ abandonedTotal: 62 }), T0 + 60_000);

    // Assess
    expect(sample.abandonedLastMinute).toBe(Math.round((60 * 60) / 40));
  });

  it('estimates the last in line from everyone in line and the rate, and not while paused or off', () => {
    // Prepare
    const history = new SampleHistory();

    // Act
    const running = history.add(reading({ waiting: 100, arriving: 20, admitPerMinute: 60 }), T0);
    const paused = history.add(reading({ waiting: 100, admitPerMinute: 0 }), T0 + 2000);
    const off = history.add(reading({ waiting: 100, enabled: false }), T0 + 4000);

    // Assess
    expect(running.lastInLineWaitSeconds).toBe(120);
    expect(paused.lastInLineWaitSeconds).toBeNull();
    expect(off.lastInLineWaitSeconds).toBeNull();
  });

  it('keeps an hour, with older minute figures in front of its own samples', () => {
    // Prepare
    const history = new SampleHistory();
    history.add(reading({}), T0);
    const minute = (at: number) => ({ at, origin: 'cloudwatch', waiting: 1 }) as ConsoleSample;

    // Act
    history.seed([minute(T0 - 120_000), minute(T0 - 60_000), minute(T0)]);
    history.add(reading({}), T0 + 3_600_000 - 90_000);

    // Assess
    // The minute two before is past the hour; the one at the first live sample is its double.
    expect(history.samples().map((s) => [s.at - T0, s.origin])).toEqual([
      [-60_000, 'cloudwatch'],
      [0, 'live'],
      [3_510_000, 'live'],
    ]);
  });
});
