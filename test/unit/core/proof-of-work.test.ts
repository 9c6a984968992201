import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { newKeyRing } from '../../../functions/core/key-ring.ts';
import {
  createProofOfWork,
  deriveProofSecret,
  POW_CHALLENGE_TTL_SECONDS,
  POW_RETIRED_KEY_GRACE_SECONDS,
  type Proof,
  type ProofSecrets,
  proofSecretsOfRing,
} from '../../../functions/core/proof-of-work.ts';
import { generateSigningKey } from '../../../functions/core/tokens.ts';
import { solve } from '../../helpers/pow-solver.ts';

// altcha-lib checks a challenge's expiry against the system clock too: the room's clock here
// is the real time of the test's start.
const NOW = Date.now();
const ROOM = 'test-room';
const COST = 20;

const [roomKey, otherKey, nextKey] = await Promise.all([
  generateSigningKey(),
  generateSigningKey(),
  generateSigningKey(),
]);
const secrets = async (...keys: (typeof roomKey)[]): Promise<ProofSecrets> => {
  const accepted = await Promise.all(keys.map((key) => deriveProofSecret(key, ROOM)));
  return { current: accepted[0] as ProofSecrets['current'], accepted };
};
const room = createProofOfWork({ roomId: ROOM, secrets: () => secrets(roomKey) });

async function solved(cost = COST, maker = room, at = NOW): Promise<Proof> {
  return solve(await maker.challenge(cost, at));
}

/** A copy of a proof with one change to its challenge's parameters. */
function withParameter(proof: Proof, change: (parameters: Record<string, unknown>) => void): Proof {
  const challenge = structuredClone(proof.challenge) as { parameters: Record<string, unknown> };
  change(challenge.parameters);
  return { challenge, solution: proof.solution };
}

describe('proof of work', () => {
  it('takes a solved challenge, with the challenge nonce as the id to spend until it expires', async () => {
    // Prepare
    const proof = await solved();

    // Act
    const check = await room.check(proof, COST, NOW + 1000);

    // Assess
    const { nonce, expiresAt } = (proof.challenge as { parameters: Record<string, unknown> })
      .parameters;
    expect(check).toEqual({ outcome: 'good', id: nonce, expiresAt: expect.any(Number) });
    expect(expiresAt).toBe(Math.floor(NOW / 1000) + POW_CHALLENGE_TTL_SECONDS);
    if (check.outcome === 'good') expect(check.expiresAt).toBeGreaterThan(Number(expiresAt) * 1000);
  });

  it('gives the same id to a proof checked twice, so the store can refuse it the second time', async () => {
    // Prepare
    const proof = await solved();

    // Act
    const first = await room.check(proof, COST, NOW);
    const again = await room.check(structuredClone(proof), COST, NOW);

    // Assess
    expect(again).toEqual(first);
  });

  it('asks for a cost of about `cost` attempts: the counter is drawn from [0, 2 x cost)', async () => {
    // Act
    const counters = await Promise.all(
      Array.from({ length: 8 }, async () => (await solved(5)).solution.counter as number),
    );

    // Assess
    for (const counter of counters) expect(counter).toBeGreaterThanOrEqual(0);
    for (const counter of counters) expect(counter).toBeLessThan(10);
  });

  it('refuses a challenge once it expired, by the room clock', async () => {
    // Prepare
    const proof = await solved();

    // Act
    const check = await room.check(proof, COST, NOW + POW_CHALLENGE_TTL_SECONDS * 1000);

    // Assess
    expect(check).toEqual({ outcome: 'invalid', reason: 'expired' });
  });

  it('refuses any change to a signed parameter of the challenge', async () => {
    const proof = await solved();
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('nonce', 'salt', 'keyPrefix', 'keySignature'),
        fc.nat(31),
        async (field, at) => {
          // Prepare
          const tampered = withParameter(proof, (parameters) => {
            const value = String(parameters[field]);
            const flipped = value[at] === '0' ? '1' : '0';
            parameters[field] = value.slice(0, at) + flipped + value.slice(at + 1);
          });

          // Act
          const check = await room.check(tampered, COST, NOW);

          // Assess
          expect(check.outcome).toBe('invalid');
        },
      ),
      { numRuns: 30 },
    );
  });

  it.each([
    [
      'a lower cost asked',
      (p: Record<string, unknown>) =>
        Object.assign(p, { data: { ...(p.data as object), attempts: 1 } }),
    ],
    [
      'a later expiry',
      (p: Record<string, unknown>) => Object.assign(p, { expiresAt: Number(p.expiresAt) + 60 }),
    ],
    ['fewer iterations', (p: Record<string, unknown>) => Object.assign(p, { cost: 1 })],
    [
      'another algorithm',
      (p: Record<string, unknown>) => Object.assign(p, { algorithm: 'SHA-256' }),
    ],
    [
      'no key signature',
      (p: Record<string, unknown>) => Object.assign(p, { keySignature: undefined }),
    ],
  ])('refuses a challenge edited for %s', async (_, change) => {
    // Prepare
    const tampered = withParameter(await solved(), change);

    // Act
    const check = await room.check(tampered, COST, NOW);

    // Assess
    expect(check.outcome).toBe('invalid');
  });

  // The derived key is what proves the work (the room checks it against the key signature it
  // made, one HMAC, without deriving anything): the counter only says where it was found.
  it('refuses a wrong solution: another key, or a malformed one', async () => {
    // Prepare
    const proof = await solved();
    const { counter, derivedKey } = proof.solution as { counter: number; derivedKey: string };
    const wrong = [
      { counter, derivedKey: `${derivedKey.slice(0, -1)}${derivedKey.endsWith('0') ? '1' : '0'}` },
      { counter, derivedKey: derivedKey.toUpperCase() },
      { counter: -1, derivedKey },
      { counter: String(counter), derivedKey },
      {},
    ];

    // Act
    const checks = await Promise.all(
      wrong.map((solution) => room.check({ challenge: proof.challenge, solution }, COST, NOW)),
    );

    // Assess
    for (const check of checks) expect(check.outcome).toBe('invalid');
  });

  it("refuses another room's challenge, and one signed with another key", async () => {
    // Prepare
    const otherRoom = createProofOfWork({
      roomId: 'other-room',
      secrets: async () => {
        const secret = await deriveProofSecret(roomKey, 'other-room');
        return { current: secret, accepted: [secret] };
      },
    });
    const otherKeyRoom = createProofOfWork({ roomId: ROOM, secrets: () => secrets(otherKey) });
    const forged = withParameter(await solved(COST, otherKeyRoom), (parameters) => {
      // The other key's challenge, claiming to be signed by the room's key.
      (parameters.data as Record<string, unknown>).kid = roomKey.kid;
    });

    // Act
    const checks = await Promise.all([
      room.check(await solved(COST, otherRoom), COST, NOW),
      room.check(await solved(COST, otherKeyRoom), COST, NOW),
      room.check(forged, COST, NOW),
    ]);

    // Assess
    expect(checks).toEqual([
      { outcome: 'invalid', reason: 'foreign' },
      { outcome: 'invalid', reason: 'foreign' },
      { outcome: 'invalid', reason: 'signature' },
    ]);
  });

  it('answers `cheaper` for a good proof of a lower cost than asked now, and takes a higher one', async () => {
    // Prepare
    const proof = await solved(COST);

    // Act
    const raised = await room.check(proof, COST + 1, NOW);
    const lowered = await room.check(proof, 1, NOW);

    // Assess
    expect(raised).toEqual({ outcome: 'cheaper' });
    expect(lowered.outcome).toBe('good');
  });

  it('derives secrets per room and per key, never the key itself', async () => {
    // Act
    const a = await deriveProofSecret(roomKey, ROOM);
    const b = await deriveProofSecret(roomKey, 'other-room');
    const c = await deriveProofSecret(otherKey, ROOM);

    // Assess
    expect(new Set([a.challenge, a.key, b.challenge, b.key, c.challenge, c.key]).size).toBe(6);
    expect(a.kid).toBe(roomKey.kid);
  });

  it("takes the ring's next key, and a retired key only for the life of its challenges", async () => {
    // Prepare
    const at = Math.floor(NOW / 1000);
    const rotated = {
      ...newKeyRing(nextKey, otherKey, at),
      retired: [{ key: roomKey, retiredAt: at - 10 }],
    };
    const longAgo = {
      ...rotated,
      retired: [{ key: roomKey, retiredAt: at - POW_RETIRED_KEY_GRACE_SECONDS }],
    };
    const before = await proofSecretsOfRing(newKeyRing(roomKey, nextKey, at), ROOM, at);
    const makerBefore = createProofOfWork({ roomId: ROOM, secrets: () => before });
    const proofBefore = await solved(COST, makerBefore);

    // Act
    const justRotated = createProofOfWork({
      roomId: ROOM,
      secrets: () => proofSecretsOfRing(rotated, ROOM, at),
    });
    const rotatedLongAgo = createProofOfWork({
      roomId: ROOM,
      secrets: () => proofSecretsOfRing(longAgo, ROOM, at),
    });
    const fromTheRotated = await solved(COST, justRotated);

    // Assess
    expect((await justRotated.check(proofBefore, COST, NOW)).outcome).toBe('good');
    expect(await rotatedLongAgo.check(proofBefore, COST, NOW)).toEqual({
      outcome: 'invalid',
      reason: 'foreign',
    });
    // A container still on the ring before the rotation takes the new current key's challenges.
    expect((await makerBefore.check(fromTheRotated, COST, NOW)).outcome).toBe('good');
  });

  it('makes challenges only for a cost that is on', async () => {
    await expect(room.challenge(0, NOW)).rejects.toThrow(RangeError);
    await expect(room.challenge(1.5, NOW)).rejects.toThrow(RangeError);
  });
});
