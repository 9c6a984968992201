import { describe, expect, it } from 'vitest';
import { peopleAhead, progressPercent, proofPercent } from '../../../client/src/lib/progress.ts';

describe('progressPercent', () => {
  it('is 0 where the visitor joined', () => {
    // Prepare, Act
    const percent = progressPercent(42, 42);

    // Assess
    expect(percent).toBe(0);
  });

  it('is the share of the way from the place at join to the front', () => {
    // Prepare, Act
    const percent = progressPercent(40, 10);

    // Assess
    expect(percent).toBe(75);
  });

  it('stops just short of 100 at the front, where being let in is the last step', () => {
    // Prepare, Act
    const percent = progressPercent(42, 1);

    // Assess
    expect(percent).toBe(98);
  });

  it('is 0 while either position is unknown', () => {
    // Prepare, Act
    const percents = [progressPercent(null, 5), progressPercent(5, null)];

    // Assess
    expect(percents).toEqual([0, 0]);
  });

  it('is 0, not negative, for a position behind the one at join', () => {
    // Prepare, Act
    const percent = progressPercent(10, 12);

    // Assess
    expect(percent).toBe(0);
  });
});

describe('peopleAhead', () => {
  it('counts everyone before the visitor', () => {
    // Prepare, Act
    const ahead = [peopleAhead(42), peopleAhead(1)];

    // Assess
    expect(ahead).toEqual([41, 0]);
  });
});

describe('proofPercent', () => {
  it.each([
    [0, 1000, 0],
    [500, 1000, 25],
    [1000, 1000, 50],
    [1500, 1000, 75],
    [1999, 1000, 99],
    [1_000_000, 1000, 99],
  ])(
    'shows %i tried of %i expected (a counter uniform on [0, 2 × expected)) as %i%%, never 100 before the answer',
    (tried, expected, percent) => {
      // Prepare, Act
      const shown = proofPercent(tried, expected);

      // Assess
      expect(shown).toBe(percent);
    },
  );

  it('is indeterminate when the solver gives no expected count', () => {
    // Prepare, Act
    const shown = [proofPercent(10, 0), proofPercent(10, Number.NaN)];

    // Assess
    expect(shown).toEqual([null, null]);
  });
});
