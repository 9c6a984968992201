/**
 * The CloudFront adapter with the same-origin config the CDK app bakes: the origin from `Host`,
 * the flag and the key set read from that origin, a pass check per origin and key set.
 */
import { beforeAll, describe, expect, it, vi } from 'vitest';
import {
  createEdgeGateHandler,
  MAX_ORIGINS_PER_CONTAINER,
  originFromHost,
} from '../../../edge/cloudfront.ts';
import type { CloudFrontResultResponse } from '../../../edge/cloudfront-types.ts';
import { type EdgeConfig, parseEdgeConfig } from '../../../edge/edge-config.ts';
import { JWKS_RETRY_AFTER_ERROR_MS, JWKS_TTL_MS } from '../../../edge/key-set.ts';
import { jwksOf } from '../../../functions/core/tokens.ts';
import { viewerRequestEvent } from '../../helpers/cloudfront-events.ts';
import {
  gateConfig,
  NOW,
  PASS_TTL_SECONDS,
  passClaims,
  passFor,
  type RoomKeys,
  roomKeys,
  signedClaims,
} from './fixtures.ts';

const SAME_ORIGIN = parseEdgeConfig({
  gate: {
    roomId: 'spring-sale',
    ungatedPaths: ['/waiting-room/', '/.well-known/', '/__room/'],
    defaultEnabled: true,
    flagTtlMs: 5000,
    passTtlSeconds: PASS_TTL_SECONDS,
  },
  jwksUrl: '/.well-known/jwks.json',
  flagUrl: '/__room/flag.json',
});

let room: RoomKeys;
let shopPass: string;

beforeAll(async () => {
  room = await roomKeys();
  // Issued for https://shop.example.com, the default Host of the event factory.
  shopPass = await passFor(room.key);
});

interface HarnessOptions {
  config?: EdgeConfig;
  readJwks?: (url: string) => Promise<unknown>;
  readFlag?: (url: string) => Promise<boolean>;
}

function harness(options: HarnessOptions = {}) {
  let now = NOW * 1000;
  const clock = {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
  };
  const readFlag = vi.fn(options.readFlag ?? (async () => true));
  const readJwks = vi.fn(options.readJwks ?? (async () => jwksOf([room.key])));
  const onJwksError = vi.fn();
  const handler = createEdgeGateHandler({
    config: options.config ?? SAME_ORIGIN,
    readFlag,
    readJwks,
    clock,
    onJwksError,
  });
  return { handler, readFlag, readJwks, onJwksError, clock };
}

function locationOf(result: unknown): string | undefined {
  return (result as CloudFrontResultResponse).headers?.location?.[0]?.value;
}

describe('createEdgeGateHandler with the same-origin config', () => {
  it('sends a visitor without a pass to the waiting room on the host they asked for', async () => {
    // Prepare
    const { handler } = harness();

    // Act
    const result = await handler(viewerRequestEvent({ uri: '/products/42', querystring: 'c=red' }));

    // Assess
    expect(result).toMatchObject({ status: '302' });
    expect(locationOf(result)).toBe(
      'https://shop.example.com/waiting-room/?return=%2Fproducts%2F42%3Fc%3Dred',
    );
  });

  it('lets a valid pass for that origin through, reading the flag and keys from it', async () => {
    const { handler, readFlag, readJwks } = harness();
    const event = viewerRequestEvent({ uri: '/checkout', cookies: [`wr_pass=${shopPass}`] });

    const result = await handler(event);

    expect(result).toBe(event.Records[0]?.cf.request);
    expect(readFlag.mock.calls).toEqual([['https://shop.example.com/__room/flag.json']]);
    expect(readJwks.mock.calls).toEqual([['https://shop.example.com/.well-known/jwks.json']]);
  });

  it('sets the cookie and strips the pass from the URL on the origin of the request', async () => {
    const { handler } = harness();

    const result = await handler(
      viewerRequestEvent({ uri: '/products/42', querystring: `wr_pass=${shopPass}&ref=mail` }),
    );

    expect(locationOf(result)).toBe('https://shop.example.com/products/42?ref=mail');
    expect((result as CloudFrontResultResponse).headers?.['set-cookie']?.[0]?.value).toBe(
      `wr_pass=${shopPass}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${PASS_TTL_SECONDS - 60}; Secure`,
    );
  });

  it('refuses a pass that lasts longer than the baked pass lifetime, cookie or query', async () => {
    // Prepare: signed by the room key, a minute longer than the room's passes last.
    const { handler } = harness();
    const longLived = await signedClaims(
      room.key,
      passClaims(NOW - 60, NOW - 60 + PASS_TTL_SECONDS + 60),
    );

    // Act
    const inCookie = await handler(
      viewerRequestEvent({ uri: '/checkout', cookies: [`wr_pass=${longLived}`] }),
    );
    const inQuery = await handler(
      viewerRequestEvent({ uri: '/checkout', querystring: `wr_pass=${longLived}` }),
    );

    // Assess
    for (const result of [inCookie, inQuery]) {
      expect(result).toMatchObject({ status: '302' });
      expect(locationOf(result)).toBe('https://shop.example.com/waiting-room/?return=%2Fcheckout');
      expect((result as CloudFrontResultResponse).headers?.['set-cookie']).toBeUndefined();
    }
  });

  it('enforces the lifetime baked into its config for every origin it resolves', async () => {
    const baked = parseEdgeConfig({
      ...SAME_ORIGIN,
      gate: { ...SAME_ORIGIN.gate, passTtlSeconds: 300 },
    });
    const { handler } = harness({ config: baked });
    const fiveMinutes = await passFor(room.key, { ttlSeconds: 300 });

    const refused = await handler(
      viewerRequestEvent({ uri: '/checkout', cookies: [`wr_pass=${shopPass}`] }),
    );
    const taken = viewerRequestEvent({ uri: '/checkout', cookies: [`wr_pass=${fiveMinutes}`] });

    expect(refused).toMatchObject({ status: '302' });
    expect(await handler(taken)).toBe(taken.Records[0]?.cf.request);
  });

  it('treats each alias as an origin of its own: a pass is good only where it was issued for', async () => {
    const { handler, readFlag } = harness();
    const event = viewerRequestEvent({
      host: 'www.shop.example.com',
      uri: '/checkout',
      cookies: [`wr_pass=${shopPass}`],
    });

    const result = await handler(event);

    expect(locationOf(result)).toBe(
      'https://www.shop.example.com/waiting-room/?return=%2Fcheckout',
    );
    expect(readFlag).toHaveBeenCalledWith('https://www.shop.example.com/__room/flag.json');
  });

  it('takes the host in any case and with the default port as the same origin', async () => {
    const { handler } = harness();
    const event = viewerRequestEvent({
      host: 'SHOP.Example.com:443',
      uri: '/checkout',
      cookies: [`wr_pass=${shopPass}`],
    });

    const result = await handler(event);

    expect(result).toBe(event.Records[0]?.cf.request);
  });

  it('answers 400, and reads nothing, for a request without a Host header', async () => {
    const { handler, readFlag, readJwks } = harness();

    const result = (await handler(viewerRequestEvent({ host: null }))) as CloudFrontResultResponse;

    expect(result).toMatchObject({ status: '400', statusDescription: 'Bad Request' });
    expect(result.headers?.['cache-control']?.[0]?.value).toBe('no-store');
    expect(readFlag).not.toHaveBeenCalled();
    expect(readJwks).not.toHaveBeenCalled();
  });

  it.each(['shop.example.com/evil', 'user@shop.example.com', 'shop.example.com#x', ''])(
    'answers 400 for the Host %j',
    async (host) => {
      const { handler } = harness();

      const result = await handler(viewerRequestEvent({ host }));

      expect(result).toMatchObject({ status: '400' });
    },
  );

  it('does not read the key set for a request that carries no pass', async () => {
    const { handler, readJwks } = harness();

    await handler(viewerRequestEvent({ uri: '/checkout' }));

    expect(readJwks).not.toHaveBeenCalled();
  });

  it('fails closed until the key set has been read: a valid pass still goes to the waiting room', async () => {
    // Prepare
    const { handler, onJwksError } = harness({
      readJwks: () => Promise.reject(new Error('key set answered 404')),
    });

    // Act
    const result = await handler(
      viewerRequestEvent({ uri: '/checkout', cookies: [`wr_pass=${shopPass}`] }),
    );

    // Assess
    expect(locationOf(result)).toBe('https://shop.example.com/waiting-room/?return=%2Fcheckout');
    expect(onJwksError).toHaveBeenCalledWith(
      expect.any(Error),
      'https://shop.example.com/.well-known/jwks.json',
    );
  });

  it('lets the pass through once the key set can be read again', async () => {
    const readJwks = vi
      .fn()
      .mockRejectedValueOnce(new Error('down'))
      .mockResolvedValue(jwksOf([room.key]));
    const { handler, clock } = harness({ readJwks });
    const event = () => viewerRequestEvent({ uri: '/checkout', cookies: [`wr_pass=${shopPass}`] });
    await handler(event());

    clock.advance(JWKS_RETRY_AFTER_ERROR_MS);
    const later = event();
    const result = await handler(later);

    expect(result).toBe(later.Records[0]?.cf.request);
  });

  it('checks passes afresh with a new key set: one verified under withdrawn keys no longer passes', async () => {
    // Prepare
    const readJwks = vi
      .fn()
      .mockResolvedValueOnce(jwksOf([room.key]))
      .mockResolvedValue(jwksOf([room.otherKey]));
    const { handler, clock } = harness({ readJwks });
    const otherPass = await passFor(room.otherKey);
    const withPass = (pass: string) =>
      viewerRequestEvent({ uri: '/checkout', cookies: [`wr_pass=${pass}`] });
    const before = withPass(shopPass);
    const beforeResult = await handler(before);

    // Act
    clock.advance(JWKS_TTL_MS);
    const oldKeyResult = await handler(withPass(shopPass));
    const newKey = withPass(otherPass);
    const newKeyResult = await handler(newKey);

    // Assess
    expect(beforeResult).toBe(before.Records[0]?.cf.request);
    expect(oldKeyResult).toMatchObject({ status: '302' });
    expect(newKeyResult).toBe(newKey.Records[0]?.cf.request);
  });

  it(`keeps at most ${MAX_ORIGINS_PER_CONTAINER} origins, and sets one up again when it comes back`, async () => {
    const { handler, readFlag } = harness();
    const visit = (i: number) => handler(viewerRequestEvent({ host: `h${i}.example.com` }));
    await visit(0);
    await visit(0);

    for (let i = 1; i <= MAX_ORIGINS_PER_CONTAINER; i++) await visit(i);
    await visit(0);

    const reads = readFlag.mock.calls.filter(
      ([url]) => url === 'https://h0.example.com/__room/flag.json',
    );
    expect(reads).toHaveLength(2);
  });
});

describe('createEdgeGateHandler with a fully baked config', () => {
  const baked = () =>
    parseEdgeConfig({
      gate: gateConfig(),
      jwks: jwksOf([room.key]),
      flagUrl: 'https://wr.example.com/room-flag.json',
    });

  it('needs no Host header and reads no key set', async () => {
    const { handler, readJwks, readFlag } = harness({ config: baked() });
    const event = viewerRequestEvent({
      host: null,
      uri: '/checkout',
      cookies: [`wr_pass=${shopPass}`],
    });

    const result = await handler(event);

    expect(result).toBe(event.Records[0]?.cf.request);
    expect(readJwks).not.toHaveBeenCalled();
    expect(readFlag).toHaveBeenCalledWith('https://wr.example.com/room-flag.json');
  });

  it('sends visitors to the baked waiting-room URL whatever the Host says', async () => {
    const { handler } = harness({ config: baked() });

    const result = await handler(viewerRequestEvent({ host: 'other.example.net', uri: '/a' }));

    expect(locationOf(result)).toBe('https://wr.example.com/?return=%2Fa');
  });
});

describe('originFromHost', () => {
  it.each([
    ['d111111abcdef8.cloudfront.net', 'https://d111111abcdef8.cloudfront.net'],
    ['Shop.Example.COM', 'https://shop.example.com'],
    ['shop.example.com:443', 'https://shop.example.com'],
    ['shop.example.com:8443', 'https://shop.example.com:8443'],
    ['127.0.0.1:8080', 'https://127.0.0.1:8080'],
    ['[::1]:8443', 'https://[::1]:8443'],
  ])('%s is the origin %s', (host, origin) => {
    expect(originFromHost(host)).toBe(origin);
  });

  it.each([
    undefined,
    '',
    'shop.example.com/path',
    'user:pw@shop.example.com',
    'shop.example.com?x',
    'shop example.com',
    'shop.example.com:99999',
    `${'a'.repeat(300)}.com`,
  ])('%j is no origin', (host) => {
    expect(originFromHost(host)).toBeUndefined();
  });
});
