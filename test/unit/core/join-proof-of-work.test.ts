import { generateKeyPairSync } from 'node:crypto';
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { MemorySourcePlaces } from '../../../functions/adapters/local/memory-source-places.ts';
import { createIdentityVerifier } from '../../../functions/core/identity.ts';
import {
  createProofOfWork,
  deriveProofSecret,
  POW_CHALLENGE_TTL_SECONDS,
  type Proof,
} from '../../../functions/core/proof-of-work.ts';
import type { ServerMessage } from '../../../functions/core/protocol.ts';
import { handleFrame } from '../../../functions/router.ts';
import { solve } from '../../helpers/pow-solver.ts';
import { createHarness, joinedOf, ManualClock, ROOM_ID } from '../../helpers/room-harness.ts';

const COST = 16;

/**
 * A room asking for a proof of work. Its clock starts at the real time: altcha-lib checks a
 * challenge's expiry against the system clock too.
 */
async function powRoom(options: { cost?: number; enabled?: boolean } = {}) {
  const h = await createHarness({
    clock: new ManualClock(Date.now()),
    config: {
      admitPerMinute: 0,
      enabled: options.enabled ?? true,
      powCost: options.cost ?? COST,
    },
  });
  const secret = await deriveProofSecret(h.key, ROOM_ID);
  h.router.proofs = createProofOfWork({
    roomId: ROOM_ID,
    secrets: () => ({ current: secret, accepted: [secret] }),
  });
  const join = (
    connectionId: string,
    extra: { proof?: Proof; identity?: string } = {},
    source: string | null = null,
  ): Promise<ServerMessage[]> =>
    handleFrame(h.router, connectionId, JSON.stringify({ action: 'join', ...extra }), source);
  /** A join without proof, and the proof of the challenge it got. */
  const paid = async (connectionId = 'asker'): Promise<Proof> => {
    const [challenge] = await join(connectionId);
    if (challenge?.type !== 'challenge')
      throw new Error(`no challenge: ${JSON.stringify(challenge)}`);
    return solve(challenge.challenge);
  };
  return { h, join, paid };
}

const codeOf = (replies: ServerMessage[]) =>
  replies.length === 1 && replies[0]?.type === 'error' ? replies[0].code : replies[0]?.type;

describe('join with a proof-of-work cost', () => {
  it('answers a join without a proof with a challenge, and takes no place', async () => {
    // Prepare
    const { h, join } = await powRoom();
    const sources = new MemorySourcePlaces(1);
    h.router.sources = sources;

    // Act
    const replies = await join('c1', {}, 'net-a');

    // Assess
    expect(replies).toEqual([{ type: 'challenge', challenge: expect.any(Object) }]);
    expect(await h.store.sessionOfConnection('c1')).toBeUndefined();
    expect(await h.store.counts()).toMatchObject({ arriving: 0, waiting: 0 });
    expect(await h.queue.receive(10)).toEqual([]);
    // The source's one place is still free.
    expect(await sources.take('net-a')).toBe(true);
  });

  it('makes a place for a join with a solved challenge', async () => {
    // Prepare
    const { h, join, paid } = await powRoom();
    const proof = await paid('c1');

    // Act
    const replies = await join('c1', { proof });
    await h.tick();

    // Assess
    const joined = joinedOf(replies);
    expect(await h.store.sessionOfConnection('c1')).toBe(joined.sessionId);
    expect(h.notifier.messages('c1')).toContainEqual(expect.objectContaining({ type: 'position' }));
  });

  it('refuses a proof spent already, on any connection: one proof, one place', async () => {
    // Prepare
    const { h, join, paid } = await powRoom();
    const proof = await paid();
    await join('c1', { proof });

    // Act
    const again = await join('c2', { proof });

    // Assess
    expect(codeOf(again)).toBe('invalid_proof');
    expect(await h.store.sessionOfConnection('c2')).toBeUndefined();
    expect((await h.store.counts()).arriving).toBe(1);
  });

  it('gives one place to joins racing with one proof', async () => {
    // Prepare
    const { h, join, paid } = await powRoom();
    const proof = await paid();

    // Act
    const replies = await Promise.all(['c1', 'c2', 'c3'].map((c) => join(c, { proof })));

    // Assess
    expect(replies.map(codeOf).sort()).toEqual(['invalid_proof', 'invalid_proof', 'joined']);
    expect((await h.store.counts()).arriving).toBe(1);
  });

  it('refuses an expired proof, and one whose challenge or solution was changed', async () => {
    // Prepare
    const { h, join, paid } = await powRoom();
    const expiring = await paid();
    const proof = await paid();
    const tampered = structuredClone(proof);
    (tampered.challenge.parameters as Record<string, unknown>).keyPrefix = '00'.repeat(16);
    const wrong = {
      challenge: proof.challenge,
      solution: { ...proof.solution, derivedKey: '00'.repeat(32) },
    };

    // Act
    const changed = [await join('c1', { proof: tampered }), await join('c2', { proof: wrong })];
    h.clock.advance(POW_CHALLENGE_TTL_SECONDS * 1000);
    const expired = await join('c3', { proof: expiring });

    // Assess
    expect([...changed, expired].map(codeOf)).toEqual([
      'invalid_proof',
      'invalid_proof',
      'invalid_proof',
    ]);
    expect(await h.store.counts()).toMatchObject({ arriving: 0 });
  });

  it('asks a proof made for a lower cost than now to solve a new challenge, without spending it', async () => {
    // Prepare
    const { h, join, paid } = await powRoom();
    const proof = await paid();
    h.config.set({ ...h.config.current(), powCost: COST * 2 });

    // Act
    const raised = await join('c1', { proof });
    h.config.set({ ...h.config.current(), powCost: COST });
    const lowered = await join('c1', { proof });

    // Assess
    expect(codeOf(raised)).toBe('challenge');
    expect(codeOf(lowered)).toBe('joined');
  });

  it('answers a repeated join on a connection that holds a place, and a resume, without a proof', async () => {
    // Prepare
    const { h, join, paid } = await powRoom();
    const joined = joinedOf(await join('c1', { proof: await paid() }));

    // Act
    const repeated = await join('c1');
    const resumed = await handleFrame(
      h.router,
      'c2',
      JSON.stringify({ action: 'resume', ticket: joined.ticket }),
    );

    // Assess
    expect(joinedOf(repeated).sessionId).toBe(joined.sessionId);
    expect(joinedOf(resumed).sessionId).toBe(joined.sessionId);
  });

  it('ignores a proof while the room asks for none, and sends everyone in while it is off', async () => {
    // Prepare
    const off = await powRoom({ cost: 0 });
    const closed = await powRoom({ enabled: false });
    const junk = { challenge: { nonsense: true }, solution: {} };

    // Act
    const noCost = await off.join('c1', { proof: junk });
    const roomOff = await closed.join('c1');

    // Assess
    expect(codeOf(noCost)).toBe('joined');
    expect(codeOf(roomOff)).toBe('open');
  });

  it('spends no proof on a join refused for its identity or its source', async () => {
    // Prepare
    const { h, join, paid } = await powRoom();
    const site = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    h.router.identities = createIdentityVerifier({
      roomId: ROOM_ID,
      key: site.publicKey,
      required: false,
    });
    const sources = new MemorySourcePlaces(1);
    await sources.take('full');
    h.router.sources = sources;
    const proof = await paid();
    const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const forged = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256' })
      .setSubject('u')
      .setAudience(ROOM_ID)
      .setExpirationTime('5m')
      .sign(stranger.privateKey);

    // Act
    const badIdentity = await join('c1', { proof, identity: forged });
    const fullSource = await join('c2', { proof }, 'full');
    const good = await join('c3', { proof }, 'free');

    // Assess
    expect(codeOf(badIdentity)).toBe('invalid_identity');
    expect(codeOf(fullSource)).toBe('rate_limited');
    expect(codeOf(good)).toBe('joined');
  });

  it('gives back the source place counted for a join whose proof was spent already', async () => {
    // Prepare
    const { h, join, paid } = await powRoom();
    const sources = new MemorySourcePlaces(1);
    h.router.sources = sources;
    const proof = await paid();
    await join('c1', { proof }, 'net-a');

    // Act
    const replay = await join('c2', { proof }, 'net-b');

    // Assess
    expect(codeOf(replay)).toBe('invalid_proof');
    expect(await sources.take('net-b')).toBe(true);
  });
});
