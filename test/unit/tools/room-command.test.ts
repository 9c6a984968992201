import { describe, expect, it } from 'vitest';
import { formatStatus, parseRoomCommand, UsageError } from '../../../tools/room.ts';

describe('npm run room', () => {
  it.each([
    [['status'], { kind: 'status' }],
    [[], { kind: 'status' }],
    [['on'], { kind: 'set', change: { enabled: true } }],
    [['off'], { kind: 'set', change: { enabled: false } }],
    [['rate', '120'], { kind: 'set', change: { admitPerMinute: 120 } }],
    [['rate', '0'], { kind: 'set', change: { admitPerMinute: 0 } }],
  ])('reads %j', (words, expected) => {
    expect(parseRoomCommand(words)).toEqual(expected);
  });

  it.each([
    [['rate']],
    [['rate', '-1']],
    [['rate', '1.5']],
    [['rate', 'fast']],
    [['jump']],
    [['on', 'now']],
  ])('refuses %j with a usage error', (words) => {
    expect(() => parseRoomCommand(words)).toThrow(UsageError);
  });

  it('prints a status an operator can read at a glance', () => {
    // Act
    const text = formatStatus({
      enabled: true,
      admitPerMinute: 0,
      waiting: 1200,
      arriving: 3,
      admittedLastMinute: 0,
      admittedTotal: 50,
      abandonedTotal: 4,
      connections: 1203,
    });

    // Assess
    expect(text).toContain('ON');
    expect(text).toContain('admission paused');
    expect(text).toContain('1200 (+3 arriving)');
  });
});
