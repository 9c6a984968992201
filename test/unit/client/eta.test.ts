import { describe, expect, it } from 'vitest';
import { etaInWords } from '../../../client/src/lib/eta.ts';

describe('etaInWords', () => {
  it.each([
    [0, 'less than a minute'],
    [59, 'less than a minute'],
    [60, 'about 1 minute'],
    [89, 'about 1 minute'],
    [150, 'about 3 minutes'],
    [59 * 60, 'about 59 minutes'],
    [60 * 60, 'about 1 hour'],
    [75 * 60, 'about 1 hour 15 minutes'],
    [77 * 60, 'about 1 hour 15 minutes'],
    [2 * 3600 + 58 * 60, 'about 3 hours'],
    [25 * 3600, 'more than a day'],
  ])('puts %i seconds as "%s"', (seconds, words) => {
    // Prepare, Act
    const text = etaInWords(seconds);

    // Assess
    expect(text).toBe(words);
  });

  it('says admission is paused when there is no estimate', () => {
    // Prepare, Act
    const text = etaInWords(null);

    // Assess
    expect(text).toBe('paused by the organiser');
  });

  it('says less than a minute for a value that is not a number', () => {
    // Prepare, Act
    const text = etaInWords(Number.NaN);

    // Assess
    expect(text).toBe('less than a minute');
  });
});
