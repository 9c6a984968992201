import { describe, expect, it } from 'vitest';
import { countdownInWords, countdownParts } from '../../../client/src/lib/countdown.ts';
import { pageTexts } from '../../../client/src/lib/i18n.ts';

describe('countdownParts', () => {
  it.each([
    [5, [0, 5]],
    [65, [1, 5]],
    [3600, [1, 0, 0]],
    [2 * 86_400 + 3 * 3600 + 4 * 60 + 5, [2, 3, 4, 5]],
    [0, [0, 0]],
  ])('splits %i seconds into %j, from the largest unit needed', (seconds, values) => {
    // Prepare, Act
    const parts = countdownParts(seconds);

    // Assess
    expect(parts.map((part) => part.value)).toEqual(values);
  });

  it('names the units from days down to seconds', () => {
    // Prepare, Act
    const parts = countdownParts(90_061);

    // Assess
    expect(parts.map((part) => part.unit)).toEqual(['day', 'hour', 'minute', 'second']);
  });
});

describe('countdownInWords', () => {
  it('says the countdown as a list, leaving out the units at zero', () => {
    // Prepare
    const english = pageTexts(['en-GB']);
    const german = pageTexts(['de-DE']);

    // Act
    const words = [
      countdownInWords(3600 + 3, english),
      countdownInWords(125, german),
      countdownInWords(60, english),
      countdownInWords(0, english),
    ];

    // Assess
    expect(words).toEqual([
      '1 hour and 3 seconds',
      '2 Minuten und 5 Sekunden',
      '1 minute',
      '0 seconds',
    ]);
  });
});
