import { generateKeyPairSync } from 'node:crypto';
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import {
  createIdentityVerifier,
  identityKey,
  parseIdentityPublicKey,
} from '../../../functions/core/identity.ts';
import type { ServerMessage } from '../../../functions/core/protocol.ts';
import { handleFrame } from '../../../functions/router.ts';
import { createHarness, ROOM_ID } from '../../helpers/room-harness.ts';

const site = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const rsaSite = generateKeyPairSync('rsa', { modulusLength: 2048 });
const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const NOW = Date.UTC(2026, 10, 25, 12, 0, 0);

/** An identity token as a site makes one: `sub`, `aud` = the room id, `exp`. */
function token(
  sub: string | null,
  options: {
    aud?: string;
    expiresIn?: number;
    key?: typeof site.privateKey;
    alg?: string;
    at?: number;
  } = {},
): Promise<string> {
  const at = Math.floor((options.at ?? NOW) / 1000);
  const jwt = new SignJWT({})
    .setProtectedHeader({ alg: options.alg ?? 'ES256' })
    .setAudience(options.aud ?? ROOM_ID)
    .setIssuedAt(at)
    .setExpirationTime(at + (options.expiresIn ?? 300));
  if (sub !== null) jwt.setSubject(sub);
  return jwt.sign(options.key ?? site.privateKey);
}

const pem = (key: typeof site.publicKey) => key.export({ type: 'spki', format: 'pem' }).toString();

describe('identity tokens', () => {
  const verifier = createIdentityVerifier({
    roomId: ROOM_ID,
    key: parseIdentityPublicKey(pem(site.publicKey)),
    required: false,
  });

  it("takes the site's ES256 and RS256 tokens and keys the person by a hash, never the id", async () => {
    // Prepare
    const rsa = createIdentityVerifier({
      roomId: ROOM_ID,
      key: parseIdentityPublicKey(pem(rsaSite.publicKey)),
      required: false,
    });

    // Act
    const es = await verifier.verify(await token('user-42'), NOW);
    const rs = await rsa.verify(
      await token('user-42', { key: rsaSite.privateKey, alg: 'RS256' }),
      NOW,
    );

    // Assess
    expect(es).toBe(identityKey(ROOM_ID, 'user-42'));
    expect(rs).toBe(es);
    expect(es).not.toContain('user-42');
    expect(identityKey('other-room', 'user-42')).not.toBe(es);
  });

  it.each([
    ['for another room', () => token('u', { aud: 'other-room' })],
    ['expired past the clock tolerance', () => token('u', { at: NOW - 400_000 })],
    ['without a subject', () => token(null)],
    ['signed by another key', () => token('u', { key: stranger.privateKey })],
    ['not a token', async () => 'not-a-token'],
    [
      'with alg none',
      async () => {
        const [, payload] = (await token('u')).split('.');
        return `${Buffer.from('{"alg":"none"}').toString('base64url')}.${payload}.`;
      },
    ],
  ])('refuses a token %s', async (_, make) => {
    expect(await verifier.verify(await make(), NOW)).toBeNull();
  });

  it('tells the site when its key set cannot be read, and refuses the token', async () => {
    // Prepare
    const problems: unknown[] = [];
    const down = createIdentityVerifier({
      roomId: ROOM_ID,
      key: async () => {
        throw new Error('connect ECONNREFUSED');
      },
      required: false,
      onKeyError: (error) => problems.push(error),
    });

    // Act
    const verified = await down.verify(await token('u'), NOW);
    const badToken = await down.verify('not-a-token', NOW);

    // Assess
    expect(verified).toBeNull();
    expect(badToken).toBeNull();
    expect(problems).toHaveLength(1);
  });

  it('refuses keys that are not EC P-256 or RSA of 2048 bits, saying why', () => {
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    expect(() => parseIdentityPublicKey(pem(small.publicKey))).toThrow(/2048 bits or more/);
    expect(() => parseIdentityPublicKey(pem(p384.publicKey))).toThrow(/P-256/);
    expect(() => parseIdentityPublicKey('garbage')).toThrow(/PEM public key/);
    // A private key would give its public half: a setting never takes one.
    const privatePem = site.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect(() => parseIdentityPublicKey(privatePem)).toThrow(/PEM public key/);
  });
});

describe('one place per person', () => {
  async function room(required = false) {
    const h = await createHarness({ config: { admitPerMinute: 0 } });
    h.router.identities = createIdentityVerifier({
      roomId: ROOM_ID,
      key: parseIdentityPublicKey(pem(site.publicKey)),
      required,
    });
    const superseded: string[] = [];
    h.router.connections = { supersede: async (id) => void superseded.push(id) };
    const join = async (connectionId: string, identity?: string): Promise<ServerMessage[]> =>
      handleFrame(
        h.router,
        connectionId,
        JSON.stringify({ action: 'join', ...(identity ? { identity } : {}) }),
      );
    return { h, join, superseded };
  }

  it('answers a second join of the same person, on another connection, for the same place, which moves there', async () => {
    // Prepare
    const { h, join, superseded } = await room();
    const alice = await token('alice');

    // Act
    const first = await join('c1', alice);
    const second = await join('c2', alice);
    const bob = await join('c3', await token('bob'));

    // Assess
    const idOf = (replies: ServerMessage[]) =>
      (replies.find((m) => m.type === 'joined') as { sessionId: string } | undefined)?.sessionId;
    expect(idOf(first)).toBeDefined();
    expect(idOf(second)).toBe(idOf(first));
    expect(idOf(bob)).not.toBe(idOf(first));
    expect(superseded).toEqual(['c1']);
    expect((await h.store.get(idOf(first) as string))?.connectionId).toBe('c2');
    expect(h.store.counts).toBeDefined();
    expect((await h.store.counts()).arriving).toBe(2);
  });

  it('makes one place of two joins of the same person at the same moment', async () => {
    // Prepare
    const { h, join } = await room();
    const alice = await token('alice');

    // Act
    const replies = await Promise.all([join('c1', alice), join('c2', alice), join('c3', alice)]);

    // Assess
    const ids = replies.map(
      (r) => (r.find((m) => m.type === 'joined') as { sessionId: string }).sessionId,
    );
    expect(new Set(ids).size).toBe(1);
    expect((await h.store.counts()).arriving).toBe(1);
  });

  it('gives a person a new place once the old one ended (abandoned)', async () => {
    // Prepare
    const { h, join } = await room();
    const first = await join('c1', await token('alice'));
    await h.tick();
    await h.disconnect('c1');
    h.clock.advance(200_000);
    await h.tick();

    // Act
    const again = await join('c2', await token('alice', { at: h.clock.now() }));

    // Assess
    const idOf = (replies: ServerMessage[]) =>
      (replies.find((m) => m.type === 'joined') as { sessionId: string }).sessionId;
    expect(idOf(again)).not.toBe(idOf(first));
  });

  it('refuses a bad token, and no token when one is required, with invalid_identity and no place', async () => {
    // Prepare
    const optional = await room();
    const required = await room(true);

    // Act
    const forged = await optional.join('c1', await token('alice', { key: stranger.privateKey }));
    const anonymous = await optional.join('c2');
    const missing = await required.join('c3');

    // Assess
    expect(forged).toEqual([expect.objectContaining({ type: 'error', code: 'invalid_identity' })]);
    expect(anonymous.map((m) => m.type)).toEqual(['joined']);
    expect(missing).toEqual([expect.objectContaining({ type: 'error', code: 'invalid_identity' })]);
    expect((await required.h.store.counts()).arriving).toBe(0);
    expect((await optional.h.store.counts()).arriving).toBe(1);
  });
});
