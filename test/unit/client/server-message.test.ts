import { describe, expect, it } from 'vitest';
import { parseServerMessage } from '../../../client/src/lib/server-message.ts';

const HASH = 'ab'.repeat(32);
const SEED = '0f'.repeat(32);
const POSITION = { type: 'position', position: 3, waiting: 9, etaSeconds: 30 };

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

  it('reads a drawn position with its seed and commitment', () => {
    // Prepare
    const draw = { commitment: HASH, seed: SEED };
    const frame = JSON.stringify({ ...POSITION, draw });

    // Act
    const message = parseServerMessage(frame);

    // Assess
    expect(message).toMatchObject({ type: 'position', position: 3, draw });
  });

  it('keeps a position whose draw record is broken, without the record', () => {
    // Prepare
    const frame = JSON.stringify({ ...POSITION, draw: { commitment: HASH, seed: 'javascript:' } });

    // Act
    const message = parseServerMessage(frame);

    // Assess
    expect(message).toMatchObject({ type: 'position', position: 3 });
    expect(message).not.toHaveProperty('draw', expect.anything());
  });

  it.each([
    ['a pre-queue', { type: 'prequeue', opensAt: 1_900_000_000, waiting: 12, commitment: HASH }],
    ['a challenge', { type: 'challenge', challenge: { algorithm: 'SHA-256', salt: 'x' } }],
    ['a notice', { type: 'notice', message: 'Back at 10:30.' }],
    ['a notice taken down', { type: 'notice', message: null }],
    ['a closed sale', { type: 'closed', message: 'Sold out. Thank you!' }],
    ['a refused proof', { type: 'error', code: 'invalid_proof', message: 'expired' }],
  ])('reads %s', (_what, sent) => {
    // Prepare, Act
    const message = parseServerMessage(JSON.stringify(sent));

    // Assess
    expect(message).toEqual(sent);
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
    [
      'a pre-queue without its opening time',
      JSON.stringify({ type: 'prequeue', waiting: 3, commitment: HASH }),
    ],
    [
      'a pre-queue whose commitment is not hex',
      JSON.stringify({ type: 'prequeue', opensAt: 1, waiting: 3, commitment: '<b>hi</b>' }),
    ],
    ['a challenge that is not an object', JSON.stringify({ type: 'challenge', challenge: 'x' })],
    ['a notice without its message', JSON.stringify({ type: 'notice' })],
    ['a notice that is not text', JSON.stringify({ type: 'notice', message: { html: '<b>' } })],
  ])('ignores %s', (_what, frame) => {
    // Prepare, Act
    const message = parseServerMessage(frame);

    // Assess
    expect(message).toBeNull();
  });
});
