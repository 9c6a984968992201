import { decodeJwt, decodeProtectedHeader } from 'jose';
import { describe, expect, it } from 'vitest';
import {
  createSigner,
  generateSigningKey,
  importSigningKey,
  jwksOf,
  signPass,
  verifierFor,
  verifyPass,
} from '../../../functions/core/tokens.ts';

const ROOM = 'room-a';
const ORIGIN = 'https://shop.example.com';
const NOW_MS = Date.UTC(2026, 10, 25, 12);
const NOW = NOW_MS / 1000;

describe('passes and tickets', () => {
  it('signs a pass with the claims and header of the contract', async () => {
    // Prepare
    const key = await generateSigningKey();
    const signer = createSigner({ key, roomId: ROOM, mainOrigin: ORIGIN, passTtlSeconds: 1200 });

    // Act
    const pass = await signer.issuePass('session-1', NOW_MS);

    // Assess
    const header = decodeProtectedHeader(pass.token);
    const claims = decodeJwt(pass.token);
    expect(header).toMatchObject({ alg: 'ES256', kid: key.kid });
    expect(claims).toMatchObject({ iss: ROOM, aud: ORIGIN, sub: 'session-1', iat: NOW });
    expect(claims.exp).toBe(NOW + 1200);
    expect(typeof claims.jti).toBe('string');
    expect(pass.expiresAt).toBe(NOW + 1200);
  });

  it('verifies a pass against the published JWKS', async () => {
    // Prepare
    const key = await generateSigningKey();
    const signer = createSigner({ key, roomId: ROOM, mainOrigin: ORIGIN, passTtlSeconds: 60 });
    const { token } = await signer.issuePass('s1', NOW_MS);

    // Act
    const verified = await verifyPass(verifierFor(jwksOf([key])), token, {
      roomId: ROOM,
      mainOrigin: ORIGIN,
      now: NOW + 30,
    });

    // Assess
    expect(verified).toEqual({ sessionId: 's1', expiresAt: NOW + 60, jti: expect.any(String) });
  });

  it('refuses an expired pass, another room, another origin and another key', async () => {
    // Prepare
    const key = await generateSigningKey();
    const other = await generateSigningKey();
    const keys = verifierFor(jwksOf([key]));
    const claims = { roomId: ROOM, mainOrigin: ORIGIN, sessionId: 's', issuedAt: NOW, jti: 'j' };
    const good = await signPass(key, { ...claims, ttlSeconds: 60 });
    const foreign = await signPass(other, { ...claims, ttlSeconds: 60 });
    const expected = { roomId: ROOM, mainOrigin: ORIGIN, now: NOW };

    // Act
    const results = await Promise.all([
      verifyPass(keys, good, { ...expected, now: NOW + 61 }),
      verifyPass(keys, good, { ...expected, roomId: 'room-b' }),
      verifyPass(keys, good, { ...expected, mainOrigin: 'https://evil.example' }),
      verifyPass(keys, foreign, expected),
      verifyPass(keys, 'x'.repeat(65_536), expected),
    ]);

    // Assess
    expect(results).toEqual([null, null, null, null, null]);
  });

  it('never accepts a ticket as a pass nor a pass as a ticket', async () => {
    // Prepare
    const key = await generateSigningKey();
    const signer = createSigner({ key, roomId: ROOM, mainOrigin: ORIGIN, passTtlSeconds: 60 });
    const ticket = await signer.issueTicket('s1', NOW_MS);
    const pass = await signer.issuePass('s1', NOW_MS);
    const keys = verifierFor(jwksOf([key]));

    // Act
    const ticketAsPass = await verifyPass(keys, ticket, {
      roomId: ROOM,
      mainOrigin: ORIGIN,
      now: NOW,
    });
    const passAsTicket = await signer.readTicket(pass.token, NOW_MS);

    // Assess
    expect(ticketAsPass).toBeNull();
    expect(passAsTicket).toBeNull();
    expect(await signer.readTicket(ticket, NOW_MS)).toBe('s1');
  });

  it('reads back a saved PKCS#8 key with the same kid', async () => {
    // Prepare
    const key = await generateSigningKey();

    // Act
    const loaded = await importSigningKey(key.pkcs8);

    // Assess
    expect(loaded.kid).toBe(key.kid);
    expect(loaded.publicJwk).toEqual(key.publicJwk);
  });
});
