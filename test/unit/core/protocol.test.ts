import { describe, expect, it } from 'vitest';
import { MAX_FRAME_BYTES, parseClientFrame } from '../../../functions/core/protocol.ts';

describe('parseClientFrame', () => {
  it.each([
    ['{"action":"join"}', { action: 'join' }],
    ['{"action":"join","return":"/tickets?x=1"}', { action: 'join', return: '/tickets?x=1' }],
    ['{"action":"resume","ticket":"abc"}', { action: 'resume', ticket: 'abc' }],
    ['{"action":"status"}', { action: 'status' }],
    ['{"action":"ping"}', { action: 'ping' }],
  ])('accepts the protocol message %s', (frame, expected) => {
    // Act
    const parsed = parseClientFrame(frame);

    // Assess
    expect(parsed).toEqual({ ok: true, message: expected });
  });

  it.each([
    ['not json', 'not JSON'],
    ['[1,2]', 'JSON object'],
    ['null', 'JSON object'],
    ['"join"', 'JSON object'],
    ['{}', 'missing action'],
    ['{"action":"dance"}', 'unknown action "dance"'],
    ['{"action":42}', 'missing action'],
    ['{"action":"toString"}', 'unknown action'],
    ['{"action":"__proto__"}', 'unknown action'],
    ['{"action":"resume"}', 'invalid resume'],
    ['{"action":"resume","ticket":""}', 'invalid resume'],
    ['{"action":"resume","ticket":7}', 'invalid resume'],
    ['{"action":"ping","extra":1}', 'invalid ping'],
  ])('answers %s with a bad_request naming the problem', (frame, fragment) => {
    // Act
    const parsed = parseClientFrame(frame);

    // Assess
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.error.code).toBe('bad_request');
    expect(parsed.error.message).toContain(fragment);
  });

  it('refuses a frame one byte over the size limit without parsing it', () => {
    // Prepare
    const padding = 'x'.repeat(MAX_FRAME_BYTES - '{"action":"ping","p":""}'.length + 1);
    const frame = `{"action":"ping","p":"${padding}"}`;

    // Act
    const parsed = parseClientFrame(frame);

    // Assess
    expect(parsed.ok).toBe(false);
    expect(parsed.ok ? '' : parsed.error.message).toContain('larger than 4096 bytes');
  });

  it('measures the limit in bytes, not characters', () => {
    // Prepare: 1,500 three-byte characters are 4,500 bytes.
    const frame = `{"action":"join","return":"/${'€'.repeat(1500)}"}`;

    // Act
    const parsed = parseClientFrame(frame);

    // Assess
    expect(parsed.ok).toBe(false);
  });

  it('survives deeply nested JSON', () => {
    // Prepare
    const frame = `{"action":"join","return":${'['.repeat(1000)}${']'.repeat(1000)}}`;

    // Act
    const parsed = parseClientFrame(frame);

    // Assess: `return` is taken loosely and made safe later; nothing throws.
    expect(parsed.ok).toBe(true);
  });
});
