import { describe, expect, it } from 'vitest';
import { MAX_OPERATOR_TEXT } from '../../../functions/core/protocol.ts';
import {
  formatOpeningTime,
  isPowCost,
  MAX_POW_COST,
  operatorTextProblem,
  parseOpeningTime,
} from '../../../functions/core/room-settings.ts';

describe('opening times', () => {
  it.each([
    ['2030-06-01T09:00:00Z', Date.UTC(2030, 5, 1, 9)],
    ['2030-06-01T09:00Z', Date.UTC(2030, 5, 1, 9)],
    ['2030-06-01T11:00:00+02:00', Date.UTC(2030, 5, 1, 9)],
    ['2030-06-01T04:30:00-0430', Date.UTC(2030, 5, 1, 9)],
    ['2030-06-01T09:00:00.250Z', Date.UTC(2030, 5, 1, 9, 0, 0, 250)],
    ['  2030-06-01T09:00:00z  ', Date.UTC(2030, 5, 1, 9)],
  ])('reads %s', (text, expected) => {
    expect(parseOpeningTime(text)).toBe(expected);
  });

  it.each([
    ['2030-06-01T09:00:00'],
    ['2030-06-01'],
    ['2030-02-30T09:00:00Z'],
    ['2030-06-01T24:00:00Z'],
    ['2030-06-01T09:00:00+25:00'],
    ['1969-12-31T23:59:59Z'],
    ['next friday'],
    [''],
  ])('refuses %j: no zone, no such date, or not a time', (text) => {
    expect(parseOpeningTime(text)).toBeNull();
  });

  it('writes an opening time back as ISO-8601 in UTC, and none for no schedule', () => {
    expect(formatOpeningTime(Date.UTC(2030, 5, 1, 9))).toBe('2030-06-01T09:00:00.000Z');
    expect(formatOpeningTime(null)).toBe('none');
  });
});

describe("operator's texts", () => {
  it('takes one line of plain text up to the limit, HTML-looking or not', () => {
    expect(operatorTextProblem('Sold out!')).toBeNull();
    expect(operatorTextProblem('<b>bold</b> & more 🎟️')).toBeNull();
    // Joiners some scripts and emoji need: a family emoji, a Persian half-space.
    expect(operatorTextProblem('Family tickets 👨\u200d👩\u200d👧 می\u200cخواهم')).toBeNull();
    expect(operatorTextProblem(`  ${'x'.repeat(MAX_OPERATOR_TEXT)}  `)).toBeNull();
  });

  it.each([
    ['', 'must not be empty'],
    ['  ', 'must not be empty'],
    ['x'.repeat(MAX_OPERATOR_TEXT + 1), `at most ${MAX_OPERATOR_TEXT}`],
    ['one\ntwo', 'control characters'],
    ['a\rb', 'control characters'],
    ['tab\there', 'control characters'],
    ['esc\u001b[31m', 'control characters'],
    ['line\u2028separator', 'control characters'],
    ['right-to-left \u202e override', 'control characters'],
    ['a right-to-left \u200f mark', 'control characters'],
    ['zero\u200bwidth space', 'control characters'],
    ['byte order \ufeff mark', 'control characters'],
    ['tag \u{e0041} character', 'control characters'],
    ['lone \ud800 surrogate', 'control characters'],
    ['None', 'the word "none"'],
  ])('refuses %j', (text, problem) => {
    expect(operatorTextProblem(text)).toContain(problem);
  });
});

describe('proof-of-work costs', () => {
  it('takes whole numbers from 0 to the max only', () => {
    expect([0, 1, MAX_POW_COST].every(isPowCost)).toBe(true);
    expect([-1, 1.5, MAX_POW_COST + 1, Number.NaN].some(isPowCost)).toBe(false);
  });
});
