/**
 * The fair-launch settings of the room config (`RoomConfig` in `ports.ts`) as operators write
 * them: the opening time, the proof-of-work cost and the operator's texts. One rule for every
 * place that takes them (the admin endpoint, `npm run room`, the SSM parameters, the console),
 * so a value one accepts is never refused by another.
 */
import type { RoomConfig } from './ports.ts';
import { MAX_OPERATOR_TEXT } from './protocol.ts';

/**
 * The highest proof-of-work cost the room takes: the mean number of key derivations a solve
 * makes. A browser on two cores makes about 7,000 a second (README: proof of work), so a
 * million is over two minutes on average and up to twice that, near the 5 minutes a challenge
 * lives: any higher would leave most visitors' proofs expired before they are done.
 */
export const MAX_POW_COST = 1_000_000;

/** The word that stands for "no value" where a value cannot be empty (SSM, the command line). */
export const NONE = 'none';

/** Whether `text` is the sentinel {@link NONE} (any case, surrounding spaces ignored). */
export function isNone(text: string): boolean {
  return text.trim().toLowerCase() === NONE;
}

/** The fair-launch settings with their defaults: no schedule, no proof of work, no texts. */
export const FAIR_LAUNCH_DEFAULTS = {
  opensAt: null,
  powCost: 0,
  message: null,
  closed: null,
} as const satisfies Required<Omit<RoomConfig, 'enabled' | 'admitPerMinute'>>;

export type FairLaunchSettings = {
  opensAt: number | null;
  powCost: number;
  message: string | null;
  closed: string | null;
};

/** The fair-launch settings of a config, each absent one as its default. */
export function fairLaunchOf(config: RoomConfig): FairLaunchSettings {
  return {
    opensAt: config.opensAt ?? null,
    powCost: config.powCost ?? 0,
    message: config.message ?? null,
    closed: config.closed ?? null,
  };
}

/**
 * Characters an operator's text may not hold: control characters (line breaks, tabs, escape),
 * the line and paragraph separators, lone surrogates, and format characters (the bidirectional
 * overrides and marks, zero-width spaces, tag characters: they could make the banner read other
 * than what was typed), except the zero-width joiner and non-joiner some scripts and emoji need.
 * The page shows the text on one line, as plain text.
 */
const FORBIDDEN_IN_TEXT = /[\p{Cc}\p{Zl}\p{Zp}\p{Cs}]|(?![\u200C\u200D])\p{Cf}/u;

/**
 * Why `text` cannot be an operator's message or closing words, or null. The text is taken
 * trimmed: 1 to {@link MAX_OPERATOR_TEXT} characters (UTF-16 units, as the page counts them),
 * on one line, with no control characters, and not the word {@link NONE}.
 */
export function operatorTextProblem(text: string): string | null {
  const trimmed = text.trim();
  if (trimmed === '') return 'must not be empty';
  if (trimmed.length > MAX_OPERATOR_TEXT) {
    return `must be at most ${MAX_OPERATOR_TEXT} characters (got ${trimmed.length})`;
  }
  if (FORBIDDEN_IN_TEXT.test(trimmed)) {
    return 'must be one line of plain text, without control characters (no line breaks or tabs)';
  }
  // Where a text cannot be empty (SSM, the command line) this word clears it.
  if (isNone(trimmed)) return `cannot be the word "${NONE}" (null clears it)`;
  return null;
}

/** Whether `cost` is a proof-of-work cost the room takes: a whole number, 0 (off) to the max. */
export function isPowCost(cost: unknown): cost is number {
  return typeof cost === 'number' && Number.isInteger(cost) && cost >= 0 && cost <= MAX_POW_COST;
}

/** The latest instant a `Date` can hold (epoch ms). */
const MAX_TIME = 8.64e15;

/** Whether `at` is an opening time the room takes: whole epoch ms that a `Date` can hold. */
export function isOpeningTime(at: number): boolean {
  return Number.isInteger(at) && at >= 0 && at <= MAX_TIME;
}

/** ISO-8601 date and time with seconds optional and a zone that is `Z` or an offset. */
const ISO_TIME =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(Z|[+-]\d{2}(?::?\d{2})?)$/i;

/**
 * An ISO-8601 time with its zone (`2026-12-01T10:00:00Z`, `2026-12-01T11:00+01:00`) as epoch
 * ms, or null when it is not one: a time without a zone would mean a different instant on
 * every machine, so it is refused, as is a date that does not exist (30 February).
 */
export function parseOpeningTime(text: string): number | null {
  const match = ISO_TIME.exec(text.trim());
  if (!match) return null;
  const [, y, mo, d, h, mi, s = '0', fraction = '', zone = 'Z'] = match;
  const [year, month, day, hour, minute, second] = [y, mo, d, h, mi, s].map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  // Before 1970 is no opening time (and Date.UTC reads years below 100 as 19xx).
  if (year < 1970) return null;
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth) return null;
  if (hour > 23 || minute > 59 || second > 59) return null;
  let offsetMinutes = 0;
  if (zone.toUpperCase() !== 'Z') {
    const digits = zone.slice(1).replace(':', '');
    const offsetHours = Number(digits.slice(0, 2));
    const offsetRest = digits.length > 2 ? Number(digits.slice(2)) : 0;
    if (offsetHours > 23 || offsetRest > 59) return null;
    offsetMinutes = (zone.startsWith('-') ? -1 : 1) * (offsetHours * 60 + offsetRest);
  }
  const ms = Number(fraction.padEnd(3, '0').slice(0, 3));
  const at = Date.UTC(year, month - 1, day, hour, minute, second, ms) - offsetMinutes * 60_000;
  return isOpeningTime(at) ? at : null;
}

/** An opening time as operators read it (ISO-8601 in UTC), or `none`. */
export function formatOpeningTime(at: number | null): string {
  return at === null ? NONE : new Date(at).toISOString();
}
