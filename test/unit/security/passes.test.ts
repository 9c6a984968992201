/**
 * Every hostile token of hostile-passes.ts against the gate's pure decision and against the
 * CloudFront adapter, in the cookie and in the query; plus the clock-skew rule for `iat` and the
 * pass lifetime rule for `exp - iat`.
 */
import { SignJWT } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { createViewerRequestHandler } from '../../../edge/cloudfront.ts';
import type { CloudFrontResultResponse } from '../../../edge/cloudfront-types.ts';
import {
  createPassCheck,
  decideGate,
  type GateContext,
  verifyGatePass,
} from '../../../edge/gate.ts';
import {
  jwksOf,
  MAX_CLOCK_SKEW_SECONDS,
  verifierFor,
  verifyPass,
} from '../../../functions/core/tokens.ts';
import { viewerRequestEvent } from '../../helpers/cloudfront-events.ts';
import {
  gateConfig,
  MAIN_ORIGIN,
  NOW,
  PASS_TTL_SECONDS,
  ROOM_ID,
  type RoomKeys,
  roomKeys,
} from '../edge/fixtures.ts';
import {
  baselinePass,
  genuinePass,
  HOSTILE_PASS_NAMES,
  type HostilePass,
  hostilePass,
  hostilePasses,
  type PassTarget,
} from './hostile-passes.ts';

let room: RoomKeys;
let target: PassTarget;
let hostile: HostilePass[];

beforeAll(async () => {
  room = await roomKeys();
  target = {
    key: room.key,
    roomId: ROOM_ID,
    mainOrigin: MAIN_ORIGIN,
    now: NOW,
    passTtlSeconds: PASS_TTL_SECONDS,
  };
  hostile = await hostilePasses(target);
});

const WAITING_ROOM = 'https://wr.example.com/?return=%2Fcheckout';

function gateContext(): GateContext {
  const check = createPassCheck(room.keys, gateConfig());
  return { enabled: true, config: gateConfig(), verify: (t) => check(t, NOW), now: NOW };
}

function cloudFront() {
  return createViewerRequestHandler({
    config: gateConfig(),
    jwks: jwksOf([room.key]),
    readFlag: async () => true,
    clock: { now: () => NOW * 1000 },
  });
}

const cases = HOSTILE_PASS_NAMES;
const pick = (name: string): HostilePass => hostilePass(hostile, name);

describe('the list of hostile passes', () => {
  it('holds distinct tokens, from a few bytes to 64 KB', () => {
    expect(new Set(hostile.map((h) => h.token)).size).toBe(HOSTILE_PASS_NAMES.length);
    expect(Math.max(...hostile.map((h) => h.size))).toBeGreaterThanOrEqual(64 * 1024);
  });
});

describe('decideGate refuses every hostile pass', () => {
  it.each(cases)('%s, in the cookie: to the waiting room, no cookie set', async (name) => {
    // Prepare
    const { token } = pick(name);

    // Act
    const decision = await decideGate(
      { method: 'GET', path: '/checkout', query: '', cookieHeader: `wr_pass=${token}` },
      gateContext(),
    );

    // Assess
    expect(decision, name).toMatchObject({ kind: 'redirect', location: WAITING_ROOM });
    expect(decision.kind === 'redirect' && decision.setCookie).toBeFalsy();
  });

  it.each(cases)('%s, in the query: to the waiting room, no cookie, no referrer', async (name) => {
    const { token } = pick(name);

    const decision = await decideGate(
      {
        method: 'GET',
        path: '/checkout',
        query: `wr_pass=${encodeURIComponent(token)}`,
        cookieHeader: undefined,
      },
      gateContext(),
    );

    expect(decision, name).toEqual({
      kind: 'redirect',
      status: 302,
      location: WAITING_ROOM,
      headers: { 'Cache-Control': 'no-store', 'Referrer-Policy': 'no-referrer' },
    });
  });

  it.each(cases)('%s, in the query of a POST: 503, never let through', async (name) => {
    const { token } = pick(name);

    const decision = await decideGate(
      { method: 'POST', path: '/cart', query: `wr_pass=${token}`, cookieHeader: undefined },
      gateContext(),
    );

    expect(decision.kind, name).toBe('deny');
  });

  it.each(cases)(
    "%s: does not verify as a pass at all (the gate's verifyGatePass)",
    async (name) => {
      const verified = await verifyGatePass(verifierFor(jwksOf([room.key])), pick(name).token, {
        roomId: ROOM_ID,
        mainOrigin: MAIN_ORIGIN,
        passTtlSeconds: PASS_TTL_SECONDS,
        now: NOW,
      });

      expect(verified, name).toBeNull();
    },
  );

  it('lets the genuine pass built the same way through, so the cases above can fail', async () => {
    const token = await genuinePass(target);

    const decision = await decideGate(
      { method: 'GET', path: '/checkout', query: '', cookieHeader: `wr_pass=${token}` },
      gateContext(),
    );

    expect(decision.kind).toBe('pass');
  });

  it('lets the claims every case starts from through, so each is refused for its own change', async () => {
    const token = await baselinePass(target);

    const decision = await decideGate(
      { method: 'GET', path: '/checkout', query: '', cookieHeader: `wr_pass=${token}` },
      gateContext(),
    );

    expect(decision.kind).toBe('pass');
  });
});

describe('the CloudFront adapter refuses every hostile pass', () => {
  it.each(cases)('%s, in a Cookie header: a 302 to the waiting room', async (name) => {
    // Prepare
    const event = viewerRequestEvent({
      uri: '/checkout',
      cookies: [`wr_pass=${pick(name).token}`],
    });

    // Act
    const result = (await cloudFront()(event)) as CloudFrontResultResponse;

    // Assess
    expect(result.status, name).toBe('302');
    expect(result.headers?.location?.[0]?.value).toBe(WAITING_ROOM);
    expect(result.headers?.['set-cookie']).toBeUndefined();
  });

  it.each(cases)('%s, in the query string: a 302 to the waiting room', async (name) => {
    const event = viewerRequestEvent({
      uri: '/checkout',
      querystring: `wr_pass=${encodeURIComponent(pick(name).token)}`,
    });

    const result = (await cloudFront()(event)) as CloudFrontResultResponse;

    expect(result.status, name).toBe('302');
    expect(result.headers?.location?.[0]?.value).toBe(WAITING_ROOM);
    expect(result.headers?.['set-cookie']).toBeUndefined();
    expect(result.headers?.['referrer-policy']?.[0]?.value).toBe('no-referrer');
  });

  it('returns the request of the genuine pass untouched', async () => {
    const event = viewerRequestEvent({
      uri: '/checkout',
      cookies: [`wr_pass=${await genuinePass(target)}`],
    });

    const result = await cloudFront()(event);

    expect(result).toBe(event.Records[0]?.cf.request);
  });
});

describe('a pass issued in the future', () => {
  async function issuedAt(iat: number): Promise<string> {
    return new SignJWT({ jti: 'j' })
      .setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid: room.key.kid })
      .setIssuer(ROOM_ID)
      .setAudience(MAIN_ORIGIN)
      .setSubject('s')
      .setIssuedAt(iat)
      .setExpirationTime(iat + 1200)
      .sign(room.key.privateKey);
  }

  const verify = (token: string) =>
    verifyPass(verifierFor(jwksOf([room.key])), token, {
      roomId: ROOM_ID,
      mainOrigin: MAIN_ORIGIN,
      now: NOW,
    });

  it('is taken when its iat is ahead by no more than the allowed clock skew', async () => {
    // Prepare: the signer's clock runs a little ahead of the gate's.
    const token = await issuedAt(NOW + MAX_CLOCK_SKEW_SECONDS);

    // Act
    const verified = await verify(token);

    // Assess
    expect(verified?.sessionId).toBe('s');
  });

  it('is refused one second past the allowed clock skew', async () => {
    const token = await issuedAt(NOW + MAX_CLOCK_SKEW_SECONDS + 1);

    const verified = await verify(token);

    expect(verified).toBeNull();
  });

  it('keeps the skew small: a minute, so a pass cannot be stretched by more', () => {
    expect(MAX_CLOCK_SKEW_SECONDS).toBeLessThanOrEqual(60);
  });
});
