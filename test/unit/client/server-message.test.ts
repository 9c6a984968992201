import { describe, expect, it } from 'vitest';
import { parseServerMessage } from '../../../client/src/lib/server-message.ts';

describe('parseServerMessage', () => {
  it('reads a position with a paused estimate', () => {
    // Prepare
    const frame = JSON.stringify({ type: 'position', position: 3, waiting: 9, etaSeconds: null });

    // Act
    const message = parseServerMessage(frame);

    // Assess
    expect(message).toEqual({
      type: 'position',
      position: 3,
      waiting: 9,
      etaSeconds: null,
      nextUpdateSeconds: 0,
    });
  });

  it("reads the room's promise of the next update", () => {
    // Prepare
    const frame = JSON.stringify({
      type: 'position',
      position: 3,
      waiting: 9,
      etaSeconds: 12,
      nextUpdateSeconds: 200,
    });

    // Act
    const message = parseServerMessage(frame);

    // Assess
    expect(message).toMatchObject({ nextUpdateSeconds: 200 });
  });

  it('reads an admission', () => {
    // Prepare
    const admitted = { type: 'admitted', pass: 'j', expiresAt: 1, redirectUrl: 'https://a.test/' };

    // Act
    const message = parseServerMessage(JSON.stringify(admitted));

    // Assess
    expect(message).toEqual(admitted);
  });

  it.each([
    ['not JSON', '{'],
    ['an unknown type', JSON.stringify({ type: 'surprise' })],
    [
      'a position below 1',
      JSON.stringify({ type: 'position', position: 0, waiting: 0, etaSeconds: 1 }),
    ],
    ['an unknown error code', JSON.stringify({ type: 'error', code: 'teapot', message: '' })],
    ['a binary frame', new ArrayBuffer(4)],
  ])('ignores %s', (_what, frame) => {
    // Prepare, Act
    const message = parseServerMessage(frame);

    // Assess
    expect(message).toBeNull();
  });
});
