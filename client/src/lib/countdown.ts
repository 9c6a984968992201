import type { PageTexts, TimeUnit } from './i18n.ts';

export interface CountdownPart {
  unit: TimeUnit;
  value: number;
}

const UNITS: readonly [TimeUnit, number][] = [
  ['day', 86_400],
  ['hour', 3600],
  ['minute', 60],
  ['second', 1],
];

/**
 * The countdown's parts for `seconds` left: from the largest unit that is not zero down to
 * seconds, and always at least minutes and seconds (`0 min 05 s` reads as a countdown, `5 s`
 * looks like a glitch). Days are not capped.
 */
export function countdownParts(seconds: number): CountdownPart[] {
  let rest = Math.max(0, Math.floor(seconds));
  const parts = UNITS.map(([unit, size]) => {
    const value = Math.floor(rest / size);
    rest -= value * size;
    return { unit, value };
  });
  const first = parts.findIndex((part) => part.value > 0);
  return parts.slice(Math.min(first === -1 ? 2 : first, 2));
}

/** The countdown in words for screen readers: "2 hours, 5 minutes and 3 seconds". */
export function countdownInWords(seconds: number, texts: PageTexts): string {
  const parts = countdownParts(seconds);
  const nonZero = parts.filter((part) => part.value > 0);
  const spoken = nonZero.length > 0 ? nonZero : parts.slice(-1);
  return texts.list(spoken.map((part) => texts.duration(part.value, part.unit)));
}
