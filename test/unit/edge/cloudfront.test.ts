import { beforeAll, describe, expect, it, vi } from 'vitest';
import { createViewerRequestHandler } from '../../../edge/cloudfront.ts';
import type { CloudFrontResultResponse } from '../../../edge/cloudfront-types.ts';
import type { GateConfig } from '../../../edge/gate.ts';
import { jwksOf } from '../../../functions/core/tokens.ts';
import { viewerRequestEvent } from '../../helpers/cloudfront-events.ts';
import { gateConfig, NOW, PASS_TTL_SECONDS, passFor, type RoomKeys, roomKeys } from './fixtures.ts';

let room: RoomKeys;
let validPass: string;

beforeAll(async () => {
  room = await roomKeys();
  validPass = await passFor(room.key);
});

const clock = { now: () => NOW * 1000 };

function handlerWith(
  readFlag: () => Promise<boolean> = async () => true,
  config: GateConfig = gateConfig(),
) {
  return createViewerRequestHandler({ config, jwks: jwksOf([room.key]), readFlag, clock });
}

describe('createViewerRequestHandler', () => {
  it('returns the request unchanged when the pass cookie is valid', async () => {
    // Prepare
    const handler = handlerWith();
    const event = viewerRequestEvent({ uri: '/checkout', cookies: [`wr_pass=${validPass}`] });
    const before = structuredClone(event.Records[0]?.cf.request);

    // Act
    const result = await handler(event);

    // Assess
    expect(result).toBe(event.Records[0]?.cf.request);
    expect(result).toEqual(before);
  });

  it('reads a pass cookie sent in a Cookie header of its own', async () => {
    const handler = handlerWith();
    const event = viewerRequestEvent({
      uri: '/checkout',
      cookies: ['theme=dark; lang=en', `wr_pass=${validPass}`, 'ab_test=b'],
    });

    const result = await handler(event);

    expect(result).toBe(event.Records[0]?.cf.request);
  });

  it('answers a visitor without a pass with a 302 to the waiting room', async () => {
    const handler = handlerWith();
    const event = viewerRequestEvent({ uri: '/products/42', querystring: 'color=red' });

    const result = await handler(event);

    expect(result).toEqual({
      status: '302',
      statusDescription: 'Found',
      headers: {
        location: [
          {
            key: 'Location',
            value: 'https://wr.example.com/?return=%2Fproducts%2F42%3Fcolor%3Dred',
          },
        ],
        'x-content-type-options': [{ key: 'X-Content-Type-Options', value: 'nosniff' }],
        'content-security-policy': [
          {
            key: 'Content-Security-Policy',
            value: "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
          },
        ],
        'cache-control': [{ key: 'Cache-Control', value: 'no-store' }],
      },
    });
  });

  it('sets the cookie and strips the pass from a URL that carries one', async () => {
    const handler = handlerWith();
    const event = viewerRequestEvent({
      uri: '/products/42',
      querystring: `wr_pass=${validPass}&ref=mail`,
    });

    const result = (await handler(event)) as CloudFrontResultResponse;

    expect(result).toEqual({
      status: '302',
      statusDescription: 'Found',
      headers: {
        location: [{ key: 'Location', value: 'https://shop.example.com/products/42?ref=mail' }],
        'set-cookie': [
          {
            key: 'Set-Cookie',
            value: `wr_pass=${validPass}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${PASS_TTL_SECONDS - 60}; Secure`,
          },
        ],
        'x-content-type-options': [{ key: 'X-Content-Type-Options', value: 'nosniff' }],
        'content-security-policy': [
          {
            key: 'Content-Security-Policy',
            value: "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
          },
        ],
        'cache-control': [{ key: 'Cache-Control', value: 'no-store' }],
        'referrer-policy': [{ key: 'Referrer-Policy', value: 'no-referrer' }],
      },
    });
  });

  it('answers a POST without a pass with a 503 and Retry-After', async () => {
    const handler = handlerWith();
    const event = viewerRequestEvent({ method: 'POST', uri: '/cart' });

    const result = (await handler(event)) as CloudFrontResultResponse;

    expect(result).toMatchObject({
      status: '503',
      statusDescription: 'Service Unavailable',
      bodyEncoding: 'text',
      headers: {
        'retry-after': [{ key: 'Retry-After', value: '30' }],
        'cache-control': [{ key: 'Cache-Control', value: 'no-store' }],
      },
    });
    expect(result.body).toContain('https://wr.example.com/');
  });

  it('lets everything through when the flag says the room is off', async () => {
    const handler = handlerWith(async () => false);
    const event = viewerRequestEvent({ uri: '/checkout' });

    const result = await handler(event);

    expect(result).toBe(event.Records[0]?.cf.request);
  });

  it('lets an ungated path through with the room on', async () => {
    const handler = handlerWith();
    const event = viewerRequestEvent({ uri: '/.well-known/jwks.json' });

    const result = await handler(event);

    expect(result).toBe(event.Records[0]?.cf.request);
  });

  it('keeps the room on when the flag cannot be read and the build default is on', async () => {
    const handler = handlerWith(() => Promise.reject(new Error('timeout')));
    const event = viewerRequestEvent({ uri: '/checkout' });

    const result = (await handler(event)) as CloudFrontResultResponse;

    expect(result.status).toBe('302');
  });

  it('reads the flag once for many requests within its TTL', async () => {
    const readFlag = vi.fn().mockResolvedValue(true);
    const handler = handlerWith(readFlag);

    await Promise.all(
      Array.from({ length: 20 }, () => handler(viewerRequestEvent({ uri: '/checkout' }))),
    );

    expect(readFlag).toHaveBeenCalledTimes(1);
  });

  it('reports failed flag reads to onFlagError', async () => {
    const onFlagError = vi.fn();
    const handler = createViewerRequestHandler({
      config: gateConfig(),
      jwks: jwksOf([room.key]),
      readFlag: () => Promise.reject(new Error('timeout')),
      clock,
      onFlagError,
    });

    await handler(viewerRequestEvent());

    expect(onFlagError).toHaveBeenCalledTimes(1);
  });
});
