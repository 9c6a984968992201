/** Shared keys, passes and config for the gate tests. */

import { type JWTPayload, SignJWT } from 'jose';
import type { GateConfig } from '../../../edge/gate.ts';
import {
  generateSigningKey,
  jwksOf,
  type PassClaims,
  type SigningKey,
  signPass,
  signTicket,
  type VerifyKeys,
  verifierFor,
} from '../../../functions/core/tokens.ts';

export const ROOM_ID = 'spring-sale';
export const MAIN_ORIGIN = 'https://shop.example.com';
export const WAITING_ROOM_URL = 'https://wr.example.com/';
/** A fixed "now", epoch seconds. */
export const NOW = 1_760_000_000;
export const PASS_TTL_SECONDS = 1200;

export function gateConfig(overrides: Partial<GateConfig> = {}): GateConfig {
  return {
    roomId: ROOM_ID,
    mainOrigin: MAIN_ORIGIN,
    waitingRoomUrl: WAITING_ROOM_URL,
    ungatedPaths: ['/waiting-room/', '/ws', '/.well-known/', '/__room/'],
    defaultEnabled: true,
    flagTtlMs: 5000,
    passTtlSeconds: PASS_TTL_SECONDS,
    ...overrides,
  };
}

export interface RoomKeys {
  key: SigningKey;
  /** A key of some other room: its passes must never open this gate. */
  otherKey: SigningKey;
  keys: VerifyKeys;
}

export async function roomKeys(): Promise<RoomKeys> {
  const key = await generateSigningKey();
  const otherKey = await generateSigningKey();
  return { key, otherKey, keys: verifierFor(jwksOf([key])) };
}

/** A pass issued `NOW` for this room and main site, unless told otherwise. */
export function passFor(key: SigningKey, overrides: Partial<PassClaims> = {}): Promise<string> {
  return signPass(key, {
    roomId: ROOM_ID,
    mainOrigin: MAIN_ORIGIN,
    sessionId: 'session-1',
    issuedAt: NOW - 60,
    ttlSeconds: PASS_TTL_SECONDS,
    jti: 'pass-1',
    ...overrides,
  });
}

/**
 * A token with a pass's header and exactly `claims` (none added), signed by `key`: for passes
 * the room never issues, such as one that lasts longer than its pass lifetime.
 */
export function signedClaims(key: SigningKey, claims: JWTPayload): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid: key.kid })
    .sign(key.privateKey);
}

/** The claims of a pass of this room and main site issued at `iat` and expiring at `exp`. */
export function passClaims(iat: number | undefined, exp: number): JWTPayload {
  return {
    iss: ROOM_ID,
    aud: MAIN_ORIGIN,
    sub: 'session-1',
    jti: 'pass-1',
    ...(iat === undefined ? {} : { iat }),
    exp,
  };
}

/** A resume ticket of this room: signed by the same key, yet not a pass. */
export function ticketFor(key: SigningKey): Promise<string> {
  return signTicket(key, {
    roomId: ROOM_ID,
    sessionId: 'session-1',
    issuedAt: NOW - 60,
    ttlSeconds: PASS_TTL_SECONDS,
  });
}
