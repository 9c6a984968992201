import { generateKeyPairSync } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { bakedConfig } from '../../../edge/baked-config.ts';
import {
  type EdgeConfig,
  isOriginPath,
  parseEdgeConfig,
  resolveForOrigin,
} from '../../../edge/edge-config.ts';
import { jwksOf } from '../../../functions/core/tokens.ts';
import { gateConfig, type RoomKeys, roomKeys } from './fixtures.ts';

const UNGATED = ['/waiting-room/', '/.well-known/', '/__room/'];

/** The form the CDK app bakes: no origin, no key, everything a path on the main site. */
function sameOrigin(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    gate: {
      roomId: 'spring-sale',
      ungatedPaths: UNGATED,
      defaultEnabled: true,
      flagTtlMs: 5000,
      passTtlSeconds: 1200,
    },
    jwksUrl: '/.well-known/jwks.json',
    flagUrl: '/__room/flag.json',
    ...overrides,
  };
}

let room: RoomKeys;

beforeAll(async () => {
  room = await roomKeys();
});

describe('parseEdgeConfig, same-origin form', () => {
  it('takes a config with no origin, no key, and paths for the page, the flag and the keys', () => {
    // Prepare
    const raw = sameOrigin({
      gate: {
        roomId: 'spring-sale',
        waitingRoomUrl: '/waiting-room/',
        ungatedPaths: UNGATED,
        defaultEnabled: true,
        flagTtlMs: 5000,
        passTtlSeconds: 1200,
      },
    });

    // Act
    const config = parseEdgeConfig(raw);

    // Assess
    expect(config).toEqual(raw);
  });

  it('takes absolute https URLs for the flag and the keys as well', () => {
    const raw = sameOrigin({
      jwksUrl: 'https://keys.example.com/jwks.json',
      flagUrl: 'https://wr.example.com/flag.json',
    });

    expect(parseEdgeConfig(raw)).toMatchObject({
      jwksUrl: 'https://keys.example.com/jwks.json',
      flagUrl: 'https://wr.example.com/flag.json',
    });
  });

  it('is the form of the example config the repository runs with', () => {
    expect(bakedConfig).toMatchObject({ jwksUrl: '/.well-known/jwks.json' });
    expect(bakedConfig.gate.passTtlSeconds).toBe(1200);
    expect(bakedConfig.gate.mainOrigin).toBeUndefined();
    expect(bakedConfig.jwks).toBeUndefined();
  });

  it.each([
    ['scheme-relative', '//evil.example/jwks.json'],
    ['backslash', '/\\evil.example/jwks.json'],
    ['relative', 'jwks.json'],
    ['plain http to another machine', 'http://keys.example.com/jwks.json'],
    ['another scheme', 'file:///etc/passwd'],
    ['a control character', '/.well-known/\njwks.json'],
  ])('refuses a jwksUrl that is %s', (_name, jwksUrl) => {
    expect(() => parseEdgeConfig(sameOrigin({ jwksUrl }))).toThrow(
      /invalid edge config at jwksUrl: must be a path/,
    );
  });

  it('refuses a config without the pass lifetime (an older form), naming the field', () => {
    const { passTtlSeconds: _ttl, ...gate } = sameOrigin().gate as Record<string, unknown>;

    expect(() => parseEdgeConfig(sameOrigin({ gate }))).toThrow(
      /invalid edge config at gate.passTtlSeconds/,
    );
  });

  it('refuses a pass lifetime that is not a whole number of seconds up to a week', () => {
    const gate = sameOrigin().gate as Record<string, unknown>;

    for (const passTtlSeconds of [0, 1.5, 1_200_000, '1200']) {
      expect(() => parseEdgeConfig(sameOrigin({ gate: { ...gate, passTtlSeconds } }))).toThrow(
        /at gate.passTtlSeconds/,
      );
    }
  });

  it('refuses a flag path that the gate itself would gate', () => {
    expect(() => parseEdgeConfig(sameOrigin({ flagUrl: '/flag.json' }))).toThrow(
      /at flagUrl: flagUrl is a path on the main site but not under gate.ungatedPaths/,
    );
  });

  it('refuses a key-set path that the gate itself would gate', () => {
    expect(() => parseEdgeConfig(sameOrigin({ jwksUrl: '/keys/jwks.json' }))).toThrow(
      /at jwksUrl: jwksUrl is a path on the main site but not under gate.ungatedPaths/,
    );
  });

  it('refuses a waiting-room path that is gated, given or by default', () => {
    const gate = {
      roomId: 'r',
      ungatedPaths: ['/.well-known/', '/__room/'],
      defaultEnabled: true,
      passTtlSeconds: 1200,
    };

    expect(() => parseEdgeConfig(sameOrigin({ gate: { ...gate, flagTtlMs: 0 } }))).toThrow(
      /at gate.waitingRoomUrl: the waiting-room page is a path on the main site/,
    );
    expect(() =>
      parseEdgeConfig(sameOrigin({ gate: { ...gate, flagTtlMs: 0, waitingRoomUrl: '/queue/' } })),
    ).toThrow(/every visitor would loop/);
  });
});

describe('parseEdgeConfig, fully baked form', () => {
  it('still takes an origin, absolute URLs and the public keys themselves', () => {
    // Prepare
    const raw = {
      gate: gateConfig(),
      jwks: jwksOf([room.key]),
      flagUrl: 'https://wr.example.com/room-flag.json',
    };

    // Act
    const config = parseEdgeConfig(raw);

    // Assess
    expect(config.gate).toEqual(gateConfig());
    expect(config.jwks?.keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', kid: room.key.kid });
  });

  it('refuses a waiting-room URL on mainOrigin whose path is gated', () => {
    const raw = {
      gate: gateConfig({ waitingRoomUrl: 'https://shop.example.com/queue/' }),
      jwks: jwksOf([room.key]),
      flagUrl: 'https://wr.example.com/room-flag.json',
    };

    expect(() => parseEdgeConfig(raw)).toThrow(
      /invalid edge config at gate: invalid gate config: .*would loop/,
    );
  });

  it('refuses a baked key set that holds a private key', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const raw = sameOrigin({
      jwksUrl: undefined,
      jwks: { keys: [privateKey.export({ format: 'jwk' })] },
    });

    expect(() => parseEdgeConfig(raw)).toThrow(/at jwks.keys.0: holds a private key/);
  });
});

describe('parseEdgeConfig, the keys', () => {
  it('refuses a config with both jwks and jwksUrl', () => {
    const raw = sameOrigin({ jwks: jwksOf([room.key]) });

    expect(() => parseEdgeConfig(raw)).toThrow(/give exactly one of jwks .* and jwksUrl/);
  });

  it('refuses a config with neither jwks nor jwksUrl', () => {
    const raw = sameOrigin({ jwksUrl: undefined });

    expect(() => parseEdgeConfig(raw)).toThrow(/give exactly one of jwks .* and jwksUrl/);
  });
});

describe('resolveForOrigin', () => {
  it("resolves every path against the request's origin", () => {
    // Prepare
    const config = parseEdgeConfig(sameOrigin());

    // Act
    const resolved = resolveForOrigin(config, 'https://d111.cloudfront.net');

    // Assess
    expect(resolved).toEqual({
      gate: {
        roomId: 'spring-sale',
        mainOrigin: 'https://d111.cloudfront.net',
        waitingRoomUrl: 'https://d111.cloudfront.net/waiting-room/',
        ungatedPaths: UNGATED,
        defaultEnabled: true,
        flagTtlMs: 5000,
        passTtlSeconds: 1200,
      },
      flagUrl: 'https://d111.cloudfront.net/__room/flag.json',
      jwksUrl: 'https://d111.cloudfront.net/.well-known/jwks.json',
    });
  });

  it('keeps absolute URLs as they are, and has no jwksUrl for baked keys', () => {
    const config: EdgeConfig = parseEdgeConfig({
      gate: gateConfig(),
      jwks: jwksOf([room.key]),
      flagUrl: 'https://wr.example.com/room-flag.json',
    });

    const resolved = resolveForOrigin(config, 'https://shop.example.com');

    expect(resolved.gate.waitingRoomUrl).toBe('https://wr.example.com/');
    expect(resolved.flagUrl).toBe('https://wr.example.com/room-flag.json');
    expect(resolved.jwksUrl).toBeUndefined();
  });
});

describe('isOriginPath', () => {
  it.each([
    ['/waiting-room/', true],
    ['/__room/flag.json?v=1', true],
    ['//evil.example/', false],
    ['/\\evil.example', false],
    ['https://shop.example.com/', false],
    ['', false],
  ])('%s is a path on the origin: %s', (path, expected) => {
    expect(isOriginPath(path)).toBe(expected);
  });
});
