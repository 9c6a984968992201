import { beforeAll, describe, expect, it, vi } from 'vitest';
import {
  createPassCheck,
  DENY_RETRY_AFTER_SECONDS,
  decideGate,
  type GateConfig,
  type GateContext,
  type GateRequest,
  MAX_PASS_CANDIDATES,
  MAX_PASS_TTL_SECONDS,
  parseGateConfig,
  verifyGatePass,
} from '../../../edge/gate.ts';
import {
  gateConfig,
  MAIN_ORIGIN,
  NOW,
  PASS_TTL_SECONDS,
  passClaims,
  passFor,
  ROOM_ID,
  type RoomKeys,
  roomKeys,
  signedClaims,
  ticketFor,
  WAITING_ROOM_URL,
} from './fixtures.ts';

let room: RoomKeys;
let validPass: string;

beforeAll(async () => {
  room = await roomKeys();
  validPass = await passFor(room.key);
});

function verifierAt(config: GateConfig, now: number) {
  const check = createPassCheck(room.keys, config);
  return (token: string) => check(token, now);
}

function context(
  overrides: Partial<GateContext> = {},
  config: GateConfig = gateConfig(),
): GateContext {
  return {
    enabled: true,
    config,
    verify: verifierAt(config, NOW),
    now: NOW,
    ...overrides,
  };
}

function request(path: string, query = '', cookieHeader?: string, method = 'GET'): GateRequest {
  return { method, path, query, cookieHeader };
}

/** The `return` parameter of a redirect to the waiting room. */
function returnOf(location: string): string | null {
  return new URL(location).searchParams.get('return');
}

const SECONDS_LEFT = PASS_TTL_SECONDS - 60;

describe('a pass in the wr_pass cookie', () => {
  it('lets a request with a valid pass cookie through', async () => {
    // Prepare
    const req = request('/checkout', '', `wr_pass=${validPass}`);

    // Act
    const decision = await decideGate(req, context());

    // Assess
    expect(decision).toEqual({ kind: 'pass' });
  });

  it('finds the pass among other cookies, whatever the spacing', async () => {
    const req = request('/checkout', '', `theme=dark;session=abc ;  wr_pass = ${validPass} ;x=1`);

    const decision = await decideGate(req, context());

    expect(decision.kind).toBe('pass');
  });

  it('accepts a pass cookie whose value is in double quotes', async () => {
    const req = request('/checkout', '', `wr_pass="${validPass}"`);

    const decision = await decideGate(req, context());

    expect(decision.kind).toBe('pass');
  });

  it('lets the first valid pass through when the cookie is sent several times', async () => {
    const expired = await passFor(room.key, { issuedAt: NOW - 2 * PASS_TTL_SECONDS });
    const req = request(
      '/checkout',
      '',
      `wr_pass=not-a-pass; wr_pass=${expired}; wr_pass=${validPass}`,
    );

    const decision = await decideGate(req, context());

    expect(decision.kind).toBe('pass');
  });

  it('ignores an invalid pass cookie and sends the visitor to the waiting room', async () => {
    const req = request('/checkout', '', 'wr_pass=eyJhbGciOiJFUzI1NiJ9.e30.c2ln');

    const decision = await decideGate(req, context());

    expect(decision).toMatchObject({ kind: 'redirect', status: 302 });
    expect(decision.kind === 'redirect' && decision.setCookie).toBeFalsy();
  });

  it('lets a valid pass cookie through even when the query holds another pass', async () => {
    const req = request('/checkout', `wr_pass=${validPass}`, `wr_pass=${validPass}`);

    const decision = await decideGate(req, context());

    expect(decision.kind).toBe('pass');
  });
});

describe('a pass in the wr_pass query parameter', () => {
  it('moves the pass into a cookie and redirects to the same URL without it', async () => {
    const req = request('/products/42', `wr_pass=${validPass}`);

    const decision = await decideGate(req, context());

    expect(decision).toEqual({
      kind: 'redirect',
      status: 302,
      location: `${MAIN_ORIGIN}/products/42`,
      setCookie: `wr_pass=${validPass}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${SECONDS_LEFT}; Secure`,
      headers: { 'Cache-Control': 'no-store', 'Referrer-Policy': 'no-referrer' },
    });
  });

  it('keeps the other query parameters and their order', async () => {
    const req = request('/search', `q=red+shoes&wr_pass=${validPass}&page=2&q=blue%20hats`);

    const decision = await decideGate(req, context());

    expect(decision.kind === 'redirect' && decision.location).toBe(
      `${MAIN_ORIGIN}/search?q=red+shoes&page=2&q=blue%20hats`,
    );
  });

  it('strips every wr_pass parameter, encoded names included', async () => {
    const req = request('/', `a=1&wr%5Fpass=junk&wr_pass=${validPass}&b=2`);

    const decision = await decideGate(req, context());

    expect(decision.kind === 'redirect' && decision.location).toBe(`${MAIN_ORIGIN}/?a=1&b=2`);
  });

  it('sets Max-Age to the seconds the pass has left', async () => {
    const shortPass = await passFor(room.key, { issuedAt: NOW - 100, ttlSeconds: 130 });
    const req = request('/', `wr_pass=${shortPass}`);

    const decision = await decideGate(req, context());

    expect(decision.kind === 'redirect' && decision.setCookie).toContain('; Max-Age=30');
  });

  it('leaves Secure off the cookie when the main site is plain http', async () => {
    const config = gateConfig({
      mainOrigin: 'http://localhost:8080',
      waitingRoomUrl: 'http://localhost:8080/waiting-room/',
    });
    const localPass = await passFor(room.key, { mainOrigin: 'http://localhost:8080' });
    const req = request('/', `wr_pass=${localPass}`);

    const decision = await decideGate(req, context({}, config));

    expect(decision.kind === 'redirect' && decision.setCookie).toBe(
      `wr_pass=${localPass}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${SECONDS_LEFT}`,
    );
  });

  it('also moves the pass into a cookie on a HEAD request', async () => {
    const req = request('/', `wr_pass=${validPass}`, undefined, 'HEAD');

    const decision = await decideGate(req, context());

    expect(decision.kind === 'redirect' && decision.setCookie).toContain(`wr_pass=${validPass};`);
  });

  it('lets a POST with a valid pass in its query through instead of dropping its body', async () => {
    const req = request('/cart', `wr_pass=${validPass}`, undefined, 'POST');

    const decision = await decideGate(req, context());

    expect(decision.kind).toBe('pass');
  });
});

describe('a visitor without a valid pass', () => {
  it('is sent to the waiting room with the path and query to return to', async () => {
    const req = request('/products/42', 'color=red&size=M');

    const decision = await decideGate(req, context());

    expect(decision).toEqual({
      kind: 'redirect',
      status: 302,
      location: 'https://wr.example.com/?return=%2Fproducts%2F42%3Fcolor%3Dred%26size%3DM',
      headers: { 'Cache-Control': 'no-store' },
    });
  });

  it('is sent back without the invalid wr_pass that was in the query', async () => {
    const req = request('/products/42', 'color=red&wr_pass=forged.pass.value&size=M');

    const decision = await decideGate(req, context());

    expect(decision.kind === 'redirect' && returnOf(decision.location)).toBe(
      '/products/42?color=red&size=M',
    );
  });

  it('keeps the waiting-room page path and adds return to it', async () => {
    const config = gateConfig({
      mainOrigin: 'http://localhost:8080',
      waitingRoomUrl: 'http://localhost:8080/waiting-room/',
    });

    const decision = await decideGate(request('/'), context({}, config));

    expect(decision.kind === 'redirect' && decision.location).toBe(
      'http://localhost:8080/waiting-room/?return=%2F',
    );
  });

  it('is sent to the waiting room on a HEAD request too', async () => {
    const decision = await decideGate(request('/', '', undefined, 'HEAD'), context());

    expect(decision.kind === 'redirect' && decision.location).toBe(
      'https://wr.example.com/?return=%2F',
    );
  });

  it('is refused with 503 and Retry-After on a POST, which a redirect would turn into a GET', async () => {
    const decision = await decideGate(request('/cart', '', undefined, 'POST'), context());

    expect(decision).toEqual({
      kind: 'deny',
      status: 503,
      headers: {
        'Cache-Control': 'no-store',
        'Retry-After': String(DENY_RETRY_AFTER_SECONDS),
        'Content-Type': 'text/plain; charset=utf-8',
      },
      body: expect.stringContaining('https://wr.example.com/'),
    });
  });

  it.each(['PUT', 'PATCH', 'DELETE', 'OPTIONS'])('is refused on a %s', async (method) => {
    const decision = await decideGate(request('/api/cart', '', undefined, method), context());

    expect(decision.kind).toBe('deny');
  });

  it('treats a lowercase get like a GET', async () => {
    const decision = await decideGate(request('/', '', undefined, 'get'), context());

    expect(decision.kind).toBe('redirect');
  });

  it('lets a POST with a valid pass cookie through', async () => {
    const req = request('/cart', '', `wr_pass=${validPass}`, 'POST');

    const decision = await decideGate(req, context());

    expect(decision.kind).toBe('pass');
  });
});

describe('passes that must not open the gate', () => {
  const forged: Array<[string, () => Promise<string>]> = [
    ['an expired pass', () => passFor(room.key, { issuedAt: NOW - PASS_TTL_SECONDS - 1 })],
    [
      'a pass expiring this very second',
      () => passFor(room.key, { issuedAt: NOW - PASS_TTL_SECONDS }),
    ],
    [
      'a pass for another main site',
      () => passFor(room.key, { mainOrigin: 'https://evil.example' }),
    ],
    ['a pass of another room', () => passFor(room.key, { roomId: 'other-room' })],
    ['a pass signed by another key', () => passFor(room.otherKey)],
    ['a resume ticket of this room', () => ticketFor(room.key)],
    [
      // jose decodes with atob, which skips whitespace: this one verifies, yet copied into
      // Set-Cookie it would split the header.
      'a valid pass with CR LF and spaces inside its signature',
      async () => {
        const [head, body, sig = ''] = validPass.split('.');
        return `${head}.${body}.${sig.slice(0, 8)}\r\n \t${sig.slice(8)}`;
      },
    ],
    ['a valid pass padded with spaces inside', async () => validPass.replace('.', ' .')],
    ['an oversized token', async () => `${validPass}.${'a'.repeat(4096)}`],
  ];

  it.each(forged)('%s in the cookie sends the visitor to the waiting room', async (_, make) => {
    const token = await make();
    const req = request('/checkout', '', `wr_pass=${token}`);

    const decision = await decideGate(req, context());

    expect(decision).toMatchObject({
      kind: 'redirect',
      location: expect.stringMatching(/^https:\/\/wr\.example\.com\//),
    });
  });

  it.each(forged)(
    '%s in the query sends the visitor to the waiting room without a cookie',
    async (_, make) => {
      const token = await make();
      const req = request('/checkout', `wr_pass=${encodeURIComponent(token)}`);

      const decision = await decideGate(req, context());

      expect(decision.kind === 'redirect' && decision.location).toBe(
        'https://wr.example.com/?return=%2Fcheckout',
      );
      expect(decision.kind === 'redirect' && decision.setCookie).toBeFalsy();
    },
  );

  it('treats a verifier that throws like one that says no', async () => {
    const verify = vi.fn().mockRejectedValue(new Error('key set broken'));
    const req = request('/checkout', '', `wr_pass=${validPass}`);

    const decision = await decideGate(req, context({ verify }));

    expect(decision.kind).toBe('redirect');
  });
});

describe('open redirects', () => {
  const attacks = [
    '//evil.example',
    '//evil.example/path',
    '/\\evil.example',
    '/%2F%2Fevil.example',
    '/%2f%5cevil.example',
    'https://evil.example',
    'https://evil.example/',
    '@evil.example',
    '/%0d%0aLocation:%20https://evil.example',
  ];

  it.each(attacks)('the return path of %s stays on the main site', async (path) => {
    const decision = await decideGate(request(path, 'x=1'), context());

    expect(decision.kind).toBe('redirect');
    const back = decision.kind === 'redirect' ? returnOf(decision.location) : null;
    expect(back).toMatch(/^\/(?![/\\])/);
    expect(new URL(back ?? '', MAIN_ORIGIN).origin).toBe(MAIN_ORIGIN);
  });

  it.each(attacks)('the cookie redirect of %s stays on the main site', async (path) => {
    const decision = await decideGate(request(path, `wr_pass=${validPass}`), context());

    expect(decision.kind).toBe('redirect');
    const location = new URL(decision.kind === 'redirect' ? decision.location : '');
    expect(location.origin).toBe(MAIN_ORIGIN);
    expect(location.pathname).toMatch(/^\/(?![/\\])/);
  });

  it('sends the waiting room a return value that the page cannot take elsewhere', async () => {
    const decision = await decideGate(request('/a', 'next=https://evil.example'), context());

    expect(decision.kind === 'redirect' && returnOf(decision.location)).toBe(
      '/a?next=https://evil.example',
    );
  });
});

describe('ungated paths', () => {
  it.each([
    '/waiting-room/',
    '/waiting-room/assets/index-4f1a.js',
    '/waiting-room',
    '/ws',
    '/ws/',
    '/.well-known/jwks.json',
    '/__room/status',
  ])('%s passes with the room on and no pass', async (path) => {
    const decision = await decideGate(request(path), context());

    expect(decision.kind).toBe('pass');
  });

  it('passes a POST on an ungated path', async () => {
    const decision = await decideGate(request('/__room/config', '', undefined, 'POST'), context());

    expect(decision.kind).toBe('pass');
  });

  it.each([
    '/wshop',
    '/waiting-roomx',
    '/.well-knownx/jwks.json',
    '/x/waiting-room/',
    '/waiting-room/../checkout',
    '/waiting-room/./../checkout',
    '/waiting-room/%2e%2e/checkout',
    '/waiting-room/%2E%2E%2Fcheckout',
    '/waiting-room/..;/checkout',
    '/waiting-room//evil',
    '/waiting-room/\\..\\checkout',
    '/ws/%2e%2e/checkout',
    '/waiting-room/\u0000/x',
    '/ws\t',
  ])('%j is gated', async (path) => {
    const decision = await decideGate(request(path), context());

    expect(decision.kind).toBe('redirect');
  });
});

describe('the room off', () => {
  it('lets a visitor without a pass through', async () => {
    const decision = await decideGate(request('/checkout'), context({ enabled: false }));

    expect(decision.kind).toBe('pass');
  });

  it('lets a POST without a pass through', async () => {
    const decision = await decideGate(
      request('/cart', '', undefined, 'POST'),
      context({ enabled: false }),
    );

    expect(decision.kind).toBe('pass');
  });
});

describe('hostile headers', () => {
  it('checks only a few wr_pass values however many the request holds', async () => {
    const verify = vi.fn().mockResolvedValue(null);
    const tokens = Array.from({ length: 500 }, (_, i) => `aaa.bbb.c${i}`);
    const cookieHeader = tokens.map((t) => `wr_pass=${t}`).join('; ');
    const query = tokens.map((t) => `wr_pass=${t}`).join('&');

    await decideGate(request('/', query, cookieHeader), context({ verify }));

    expect(verify.mock.calls.length).toBeLessThanOrEqual(2 * MAX_PASS_CANDIDATES);
  });

  // The timeouts below are not performance assertions: a linear parser takes tens of
  // milliseconds on four megabytes, one that rescans the header per pair about a minute.
  it('finds a pass after four megabytes of other cookies', { timeout: 5000 }, async () => {
    const filler = 'a=b; '.repeat(800_000);
    const req = request('/', '', `${filler}wr_pass=${validPass}`);

    const decision = await decideGate(req, context());

    expect(decision.kind).toBe('pass');
  });

  it('decides on four megabytes of separators without an equals sign', {
    timeout: 5000,
  }, async () => {
    const req = request('/', '', `wr_pass${';'.repeat(4_000_000)}`);

    const decision = await decideGate(req, context());

    expect(decision.kind).toBe('redirect');
  });
});

describe('the pass lifetime: exp - iat at most the configured passTtlSeconds', () => {
  /** Issued a minute ago, as `passFor` issues, lasting `seconds`. */
  const lasting = (seconds: number) =>
    signedClaims(room.key, passClaims(NOW - 60, NOW - 60 + seconds));
  const verify = (token: string, passTtlSeconds = PASS_TTL_SECONDS) =>
    verifyGatePass(room.keys, token, {
      roomId: ROOM_ID,
      mainOrigin: MAIN_ORIGIN,
      passTtlSeconds,
      now: NOW,
    });
  const toWaitingRoom = `${WAITING_ROOM_URL}?return=%2Fcheckout`;

  it('takes a pass signed by the room key that lasts exactly the lifetime', async () => {
    // Prepare
    const token = await lasting(PASS_TTL_SECONDS);

    // Act
    const verified = await verify(token);
    const decision = await decideGate(request('/checkout', '', `wr_pass=${token}`), context());

    // Assess
    expect(verified).toEqual({
      sessionId: 'session-1',
      expiresAt: NOW - 60 + PASS_TTL_SECONDS,
      jti: 'pass-1',
    });
    expect(decision).toEqual({ kind: 'pass' });
  });

  it('refuses a pass signed by the room key that lasts the lifetime plus a minute', async () => {
    // Prepare
    const token = await lasting(PASS_TTL_SECONDS + 60);

    // Act
    const verified = await verify(token);
    const inCookie = await decideGate(request('/checkout', '', `wr_pass=${token}`), context());
    const inQuery = await decideGate(request('/checkout', `wr_pass=${token}`), context());
    const posted = await decideGate(
      request('/checkout', '', `wr_pass=${token}`, 'POST'),
      context(),
    );

    // Assess: the same answers as any invalid pass.
    expect(verified).toBeNull();
    expect(inCookie).toEqual({
      kind: 'redirect',
      status: 302,
      location: toWaitingRoom,
      headers: { 'Cache-Control': 'no-store' },
    });
    expect(inQuery).toEqual({
      kind: 'redirect',
      status: 302,
      location: toWaitingRoom,
      headers: { 'Cache-Control': 'no-store', 'Referrer-Policy': 'no-referrer' },
    });
    expect(posted).toMatchObject({ kind: 'deny', status: 503 });
  });

  it('refuses a pass one second longer than the lifetime: no slack', async () => {
    const token = await lasting(PASS_TTL_SECONDS + 1);

    expect(await verify(token)).toBeNull();
  });

  it('refuses a pass signed by the room key that lasts ten years', async () => {
    const token = await lasting(10 * 365 * 86400);

    const decision = await decideGate(request('/checkout', '', `wr_pass=${token}`), context());

    expect(await verify(token)).toBeNull();
    expect(decision).toMatchObject({ kind: 'redirect', location: toWaitingRoom });
  });

  it('refuses a pass without iat, even one that expires within the lifetime', async () => {
    const token = await signedClaims(room.key, passClaims(undefined, NOW + 60));

    const decision = await decideGate(request('/checkout', '', `wr_pass=${token}`), context());

    expect(await verify(token)).toBeNull();
    expect(decision).toMatchObject({ kind: 'redirect', location: toWaitingRoom });
  });

  it('refuses a pass whose iat is not a number', async () => {
    const token = await signedClaims(room.key, {
      ...passClaims(undefined, NOW + 60),
      iat: String(NOW - 60) as unknown as number,
    });

    expect(await verify(token)).toBeNull();
  });

  it('holds to the lifetime of its config, not a fixed one', async () => {
    // Prepare: a gate set to 5 minutes; a pass of the usual 20.
    const config = gateConfig({ passTtlSeconds: 300 });
    const twentyMinutes = await passFor(room.key);
    const fiveMinutes = await lasting(300);

    // Act
    const refused = await decideGate(
      request('/checkout', '', `wr_pass=${twentyMinutes}`),
      context({}, config),
    );
    const taken = await decideGate(
      request('/checkout', '', `wr_pass=${fiveMinutes}`),
      context({}, config),
    );

    // Assess
    expect(await verify(twentyMinutes, 300)).toBeNull();
    expect(refused.kind).toBe('redirect');
    expect(taken.kind).toBe('pass');
  });

  it('keeps a long-lived pass out of the cache of verified passes, on every sight', async () => {
    // Prepare: one pass check for the life of the process, as the runtimes make it.
    const check = createPassCheck(room.keys, gateConfig());
    const longLived = await lasting(10 * 365 * 86400);
    const genuine = await lasting(PASS_TTL_SECONDS);

    // Act: the genuine pass is seen (and cached) in between; later sights come at other times.
    const sights: unknown[] = [];
    const genuineSights: unknown[] = [];
    for (const now of [NOW, NOW + 1, NOW + 60, NOW + 600]) {
      sights.push(await check(longLived, now));
      genuineSights.push((await check(genuine, now))?.sessionId);
    }

    // Assess
    expect(sights).toEqual([null, null, null, null]);
    expect(genuineSights).toEqual(['session-1', 'session-1', 'session-1', 'session-1']);
  });
});

describe('parseGateConfig', () => {
  it('accepts a complete config', () => {
    const config = gateConfig();

    const parsed = parseGateConfig(config);

    expect(parsed).toEqual(config);
  });

  it('refuses a main origin with a path, naming the field', () => {
    const config = { ...gateConfig(), mainOrigin: 'https://shop.example.com/shop' };

    expect(() => parseGateConfig(config)).toThrow(/mainOrigin/);
  });

  it('refuses a waiting room on the main site whose path is gated, which would loop', () => {
    const config = gateConfig({
      mainOrigin: 'http://localhost:8080',
      waitingRoomUrl: 'http://localhost:8080/queue/',
    });

    expect(() => parseGateConfig(config)).toThrow(/loop/);
  });

  it('refuses a config without the pass lifetime, naming the field', () => {
    const { passTtlSeconds: _ttl, ...withoutTtl } = gateConfig();

    expect(() => parseGateConfig(withoutTtl)).toThrow(/invalid gate config at passTtlSeconds/);
  });

  it.each([
    ['zero', 0],
    ['negative', -1200],
    ['a fraction', 1200.5],
    ['over a week (milliseconds given for seconds)', 1_200_000],
    ['a string', '1200'],
  ])('refuses a pass lifetime that is %s', (_name, passTtlSeconds) => {
    expect(() => parseGateConfig({ ...gateConfig(), passTtlSeconds })).toThrow(/passTtlSeconds/);
  });

  it('takes a pass lifetime from one second to a week', () => {
    expect(parseGateConfig(gateConfig({ passTtlSeconds: 1 })).passTtlSeconds).toBe(1);
    expect(
      parseGateConfig(gateConfig({ passTtlSeconds: MAX_PASS_TTL_SECONDS })).passTtlSeconds,
    ).toBe(MAX_PASS_TTL_SECONDS);
  });
});
