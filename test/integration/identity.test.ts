/**
 * One place per person, on both runtimes: a site signs its users' identity tokens, the room
 * checks them with the site's key (a PEM file, or a JWKS URL) and keeps one place per `sub`.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, SignJWT } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import type { ServerMessage } from '../../functions/core/protocol.ts';
import { RUNTIMES, type RuntimeRoom, startRuntimeRoom } from '../helpers/local-room.ts';
import { WsVisitor } from '../helpers/ws-visitor.ts';

const ROOM_ID = 'waiting-room';
const site = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' });

let room: RuntimeRoom | undefined;
const visitors: WsVisitor[] = [];
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(visitors.splice(0).map((v) => v.close()));
  await room?.close();
  room = undefined;
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

function token(sub: string, key = site.privateKey): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: 'ES256', kid: 'site-1' })
    .setSubject(sub)
    .setAudience(ROOM_ID)
    .setIssuedAt(now)
    .setExpirationTime(now + 300)
    .sign(key);
}

/** The site's public key as a PEM file. */
async function keyFile(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'wr-identity-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'site.pem');
  await writeFile(file, site.publicKey.export({ type: 'spki', format: 'pem' }));
  return file;
}

/** The site's public keys served as a JWKS on loopback, as a site would publish them. */
async function jwksUrl(): Promise<string> {
  const jwk = { ...(await exportJWK(site.publicKey)), kid: 'site-1', alg: 'ES256', use: 'sig' };
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', () => done()));
  cleanups.push(() => new Promise<void>((done) => server.close(() => done())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
}

async function joinAs(
  r: RuntimeRoom,
  identity?: string,
): Promise<{ visitor: WsVisitor; first: ServerMessage }> {
  const visitor = await WsVisitor.connect(r.wsUrl);
  visitors.push(visitor);
  visitor.send({ action: 'join', ...(identity ? { identity } : {}) });
  const first = await new Promise<ServerMessage>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no answer')), 15_000);
    const poll = setInterval(() => {
      const message = visitor.received[0]?.message;
      if (!message) return;
      clearInterval(poll);
      clearTimeout(timer);
      resolve(message);
    }, 10);
  });
  return { visitor, first };
}

describe.each(RUNTIMES)('one place per person (%s)', (runtime) => {
  it.each([
    ['a PEM file', async () => ({ WR_IDENTITY_PUBLIC_KEY_FILE: await keyFile() })],
    ['a JWKS URL', async () => ({ WR_IDENTITY_JWKS_URL: await jwksUrl() })],
  ])(
    "keeps one place per person with the site's key from %s, and refuses forged tokens",
    async (_, keyEnv) => {
      // Prepare
      room = await startRuntimeRoom(runtime, { WR_ADMIT_PER_MINUTE: '0', ...(await keyEnv()) });
      const alice = await token('alice');

      // Act
      const first = await joinAs(room, alice);
      const again = await joinAs(room, alice);
      const bob = await joinAs(room, await token('bob'));
      const forged = await joinAs(room, await token('carol', stranger.privateKey));
      const anonymous = await joinAs(room);

      // Assess
      expect(first.first).toMatchObject({ type: 'joined' });
      const aliceId = (first.first as { sessionId: string }).sessionId;
      expect(again.first).toMatchObject({ type: 'joined', sessionId: aliceId });
      await first.visitor.next('superseded', { since: 0, timeoutMs: 10_000 });
      expect(bob.first).toMatchObject({ type: 'joined' });
      expect((bob.first as { sessionId: string }).sessionId).not.toBe(aliceId);
      expect(forged.first).toMatchObject({ type: 'error', code: 'invalid_identity' });
      expect(anonymous.first).toMatchObject({ type: 'joined' });
      const position = await again.visitor.next('position', { since: 0, timeoutMs: 15_000 });
      expect(position.position).toBe(1);
    },
    60_000,
  );

  it('refuses a join without a token when WR_IDENTITY_REQUIRED=true', async () => {
    // Prepare
    room = await startRuntimeRoom(runtime, {
      WR_IDENTITY_PUBLIC_KEY_FILE: await keyFile(),
      WR_IDENTITY_REQUIRED: 'true',
    });

    // Act
    const anonymous = await joinAs(room);
    const signedIn = await joinAs(room, await token('dave'));

    // Assess
    expect(anonymous.first).toMatchObject({ type: 'error', code: 'invalid_identity' });
    expect(signedIn.first).toMatchObject({ type: 'joined' });
  }, 60_000);
});
