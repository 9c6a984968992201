/**
 * The pass lifetime at the gate of both runtimes (`npm start` and `npm run start:aws-local`, which
 * share the HTTP front of local/front.ts), over HTTP: a pass signed by the room's own key whose
 * `exp - iat` is longer than `WR_PASS_TTL_SECONDS`, or that has no `iat`, gets what any invalid
 * pass gets; one of exactly that lifetime, and the pass the room itself issues, go through.
 */
import { decodeJwt, type JWTPayload, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUNTIMES, type RuntimeRoom, startRuntimeRoom } from '../helpers/local-room.ts';
import { WsVisitor } from '../helpers/ws-visitor.ts';

const ROOM_ID = 'waiting-room';
/** Not the default (1200), so that a gate holding to a fixed lifetime would let a pass through. */
const PASS_TTL_SECONDS = 300;
const PAGE = '/tickets?show=evening';
const TEN_YEARS = 10 * 365 * 86400;

describe.each(RUNTIMES)('the gate of the %s runtime, WR_PASS_TTL_SECONDS=300', (runtime) => {
  let room: RuntimeRoom;

  beforeAll(async () => {
    room = await startRuntimeRoom(runtime, {
      WR_TICK_MS: '100',
      WR_PASS_TTL_SECONDS: String(PASS_TTL_SECONDS),
    });
  }, 30_000);

  afterAll(async () => {
    await room.close();
  });

  /** Claims of a pass of this room issued ten seconds ago, lasting `seconds`. */
  function claims(seconds: number): JWTPayload {
    const iat = Math.floor(Date.now() / 1000) - 10;
    return { iss: ROOM_ID, aud: room.url, sub: 'visitor', jti: 'j', iat, exp: iat + seconds };
  }

  /** Signed by the room's own key, with the header the room writes. */
  function signed(payload: JWTPayload): Promise<string> {
    return new SignJWT(payload)
      .setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid: room.key.kid })
      .sign(room.key.privateKey);
  }

  function get(path: string, cookie?: string, method = 'GET'): Promise<Response> {
    return fetch(`${room.url}${path}`, {
      method,
      redirect: 'manual',
      headers: cookie ? { cookie } : {},
    });
  }

  function expectWaitingRoom(response: Response): void {
    expect(response.status).toBe(302);
    const location = new URL(response.headers.get('location') ?? '');
    expect(`${location.origin}${location.pathname}`).toBe(`${room.url}/waiting-room/`);
    expect(location.searchParams.get('return')).toBe(PAGE);
    expect(response.headers.getSetCookie()).toEqual([]);
  }

  it('lets a pass of exactly the configured lifetime through', async () => {
    // Prepare
    const token = await signed(claims(PASS_TTL_SECONDS));

    // Act
    const response = await get(PAGE, `wr_pass=${token}`);

    // Assess
    expect(response.status).toBe(200);
  });

  it('sends a pass a minute longer than the lifetime, in the cookie, to the waiting room', async () => {
    const token = await signed(claims(PASS_TTL_SECONDS + 60));

    const response = await get(PAGE, `wr_pass=${token}`);

    expectWaitingRoom(response);
  });

  it('sends it from the query to the waiting room too, sets no cookie and no referrer', async () => {
    const token = await signed(claims(PASS_TTL_SECONDS + 60));

    const response = await get(`${PAGE}&wr_pass=${token}`);

    expectWaitingRoom(response);
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
  });

  it('answers a POST carrying it 503, as any request other than GET without a valid pass', async () => {
    const token = await signed(claims(PASS_TTL_SECONDS + 60));

    const response = await get('/tickets', `wr_pass=${token}`, 'POST');

    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('30');
  });

  it('sends a ten-year pass signed by the room key to the waiting room, every time', async () => {
    const token = await signed(claims(TEN_YEARS));

    // The second and third sights would be answered from the cache of verified passes.
    const responses = [
      await get(PAGE, `wr_pass=${token}`),
      await get(PAGE, `wr_pass=${token}`),
      await get(PAGE, `wr_pass=${token}`),
    ];

    for (const response of responses) expectWaitingRoom(response);
  });

  it('sends a pass without iat to the waiting room', async () => {
    const { iat: _iat, ...undated } = claims(60);
    const token = await signed(undated);

    const response = await get(PAGE, `wr_pass=${token}`);

    expectWaitingRoom(response);
  });

  it('lets the pass the room issues through: it lasts exactly the lifetime', async () => {
    // Prepare
    const visitor = await WsVisitor.connect(room.wsUrl);
    visitor.send({ action: 'join', return: PAGE });
    const admitted = await visitor.next('admitted');
    await visitor.close();
    const { iat, exp } = decodeJwt(admitted.pass);

    // Act
    const response = await get(PAGE, `wr_pass=${admitted.pass}`);

    // Assess
    expect((exp ?? 0) - (iat ?? 0)).toBe(PASS_TTL_SECONDS);
    expect(response.status).toBe(200);
  });
});
