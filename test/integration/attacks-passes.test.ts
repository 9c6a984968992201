/**
 * Hostile passes against the running local runtime over HTTP (the list of
 * test/unit/security/hostile-passes.ts, in the cookie and in the query), and interoperability
 * with an independent JWT implementation (jsonwebtoken) against the published JWKS.
 */
import { createPublicKey, KeyObject } from 'node:crypto';
import type { JSONWebKeySet } from 'jose';
import jwt from 'jsonwebtoken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRoom, type TestRoom } from '../helpers/local-room.ts';
import { WsVisitor } from '../helpers/ws-visitor.ts';
import {
  baselinePass,
  foreignSigningKey,
  genuinePass,
  HOSTILE_PASS_NAMES,
  type HostilePass,
  hostilePass,
  hostilePasses,
} from '../unit/security/hostile-passes.ts';

const ROOM_ID = 'waiting-room';
/**
 * The room's pass lifetime: not the default, so that the refusal of the lifetime cases shows the
 * gate enforces `WR_PASS_TTL_SECONDS` as set (a pass 60 s longer would pass a gate set to 1200).
 */
const PASS_TTL_SECONDS = 900;
/** Node's default limit on the request line plus headers; a longer request never reaches the gate. */
const NODE_MAX_HEADER_BYTES = 16 * 1024;

let room: TestRoom;

beforeAll(async () => {
  room = await startTestRoom({ WR_TICK_MS: '100', WR_PASS_TTL_SECONDS: String(PASS_TTL_SECONDS) });
});

/**
 * The hostile pass called `name`, made just before it is sent: the running room checks with the
 * real clock, so a token made seconds earlier (say, just beyond the allowed clock skew)
 * would drift into what it imitates.
 */
async function freshHostilePass(name: string): Promise<HostilePass> {
  const all = await hostilePasses({
    key: room.room.key,
    roomId: ROOM_ID,
    mainOrigin: room.url,
    now: Math.floor(Date.now() / 1000),
    passTtlSeconds: PASS_TTL_SECONDS,
  });
  return hostilePass(all, name);
}

afterAll(async () => {
  await room.close();
});

function get(path: string, cookie?: string): Promise<Response> {
  return fetch(`${room.url}${path}`, {
    redirect: 'manual',
    headers: cookie ? { cookie } : {},
  });
}

/** The answer every refused request gets: the waiting room, and no pass cookie. */
function expectRefused(response: Response, token: HostilePass): void {
  if (token.size > NODE_MAX_HEADER_BYTES) {
    // Refused by Node's HTTP parser before any handler runs: 431 Request Header Fields Too Large.
    expect(response.status).toBe(431);
    return;
  }
  expect(response.status).toBe(302);
  const location = new URL(response.headers.get('location') ?? '');
  expect(`${location.origin}${location.pathname}`).toBe(`${room.url}/waiting-room/`);
  expect(location.searchParams.get('return')).toBe('/tickets?show=evening');
  expect(response.headers.getSetCookie()).toEqual([]);
}

describe('the local runtime refuses every hostile pass over HTTP', () => {
  it.each(HOSTILE_PASS_NAMES)('%s, in the wr_pass cookie', async (name) => {
    // Prepare
    const token = await freshHostilePass(name);

    // Act
    const response = await get('/tickets?show=evening', `wr_pass=${token.token}`);

    // Assess
    expectRefused(response, token);
  });

  it.each(HOSTILE_PASS_NAMES)('%s, in the wr_pass query parameter', async (name) => {
    const token = await freshHostilePass(name);

    const response = await get(`/tickets?show=evening&wr_pass=${encodeURIComponent(token.token)}`);

    expectRefused(response, token);
    if (response.status === 302) {
      expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    }
  });

  it('serves the page for a genuine pass in the cookie, so the cases above can fail', async () => {
    const token = await genuinePass({
      key: room.room.key,
      roomId: ROOM_ID,
      mainOrigin: room.url,
      now: Math.floor(Date.now() / 1000),
      passTtlSeconds: PASS_TTL_SECONDS,
    });

    const response = await get('/tickets?show=evening', `wr_pass=${token}`);

    expect(response.status).toBe(200);
  });

  it('serves the page for the claims every case starts from, so each is refused for its own change', async () => {
    const token = await baselinePass({
      key: room.room.key,
      roomId: ROOM_ID,
      mainOrigin: room.url,
      now: Math.floor(Date.now() / 1000),
      passTtlSeconds: PASS_TTL_SECONDS,
    });

    const response = await get('/tickets?show=evening', `wr_pass=${token}`);

    expect(response.status).toBe(200);
  });
});

describe('interoperability with jsonwebtoken', () => {
  async function publishedKey() {
    const jwks = (await (await fetch(`${room.url}/.well-known/jwks.json`)).json()) as JSONWebKeySet;
    const jwk = jwks.keys[0];
    if (!jwk) throw new Error('the JWKS holds no key');
    return { jwk, pem: createPublicKey({ key: jwk, format: 'jwk' }) };
  }

  it('verifies a pass the room issued against the published JWKS', async () => {
    // Prepare
    const visitor = await WsVisitor.connect(room.wsUrl);
    visitor.send({ action: 'join', return: '/tickets' });
    const admitted = await visitor.next('admitted');
    await visitor.close();
    const { jwk, pem } = await publishedKey();

    // Act
    const claims = jwt.verify(admitted.pass, pem, {
      algorithms: ['ES256'],
      audience: room.url,
      issuer: ROOM_ID,
    }) as jwt.JwtPayload;
    const header = jwt.decode(admitted.pass, { complete: true })?.header;

    // Assess
    expect(header).toMatchObject({ alg: 'ES256', kid: jwk.kid });
    expect(claims).toMatchObject({ iss: ROOM_ID, aud: room.url, exp: admitted.expiresAt });
    expect(typeof claims.sub).toBe('string');
    expect(typeof claims.jti).toBe('string');
  });

  it("refuses a pass jsonwebtoken signs with a foreign P-256 key under the room's kid", async () => {
    // Prepare
    const { jwk } = await publishedKey();
    const foreign = KeyObject.from((await foreignSigningKey()).privateKey);
    const now = Math.floor(Date.now() / 1000);
    const claims = { sub: 'attacker', jti: 'forged', iat: now - 5, exp: now + 600 };
    const sign = (key: KeyObject) =>
      jwt.sign(claims, key, {
        algorithm: 'ES256',
        keyid: jwk.kid as string,
        audience: room.url,
        issuer: ROOM_ID,
      });
    const forged = sign(foreign);
    // The same claims signed by jsonwebtoken with the room's own key: the gate must take it, so
    // the refusal above is the key's doing and not a format jsonwebtoken writes differently.
    const control = sign(KeyObject.from(room.room.key.privateKey));

    // Act
    const refused = await get('/tickets?show=evening', `wr_pass=${forged}`);
    const refusedInQuery = await get(`/tickets?show=evening&wr_pass=${forged}`);
    const taken = await get('/tickets?show=evening', `wr_pass=${control}`);

    // Assess
    expect(jwt.decode(forged, { complete: true })?.header.kid).toBe(jwk.kid);
    expect(refused.status).toBe(302);
    expect(new URL(refused.headers.get('location') ?? '').pathname).toBe('/waiting-room/');
    expect(refusedInQuery.status).toBe(302);
    expect(refusedInQuery.headers.getSetCookie()).toEqual([]);
    expect(taken.status).toBe(200);
  });
});
