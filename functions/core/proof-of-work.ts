/**
 * Proof of work on `join`: while the operator sets a cost (`RoomConfig.powCost`), a join must
 * bring the solution of a challenge the room made, so that taking a place costs a browser some
 * seconds of computing and a script that wants thousands of places pays thousands of times.
 *
 * The challenges are ALTCHA v2 (`altcha-lib`), in its deterministic mode: the room draws a
 * counter, derives that counter's key (PBKDF2-SHA-256, {@link POW_ITERATIONS} iterations) and
 * asks for a counter whose key starts with the first 16 bytes of it: only that counter does, so
 * the solver tries counters 0, 1, 2... until it reaches it. The counter is drawn uniformly from
 * `[0, 2 × cost)`, so `cost` is the mean number of keys a solver derives (there is no shortcut:
 * a solver that knew the range's start would skip to it, so the range starts at 0). Making a
 * challenge costs the room one derivation, and checking a solution one HMAC (the key's signature,
 * `keySignature`), whatever the cost: asking for work never makes the room work hard. (That
 * check takes the derived key as the proof, which only the right counter gives: the counter
 * sent beside it is not looked at.)
 *
 * A challenge is signed (HMAC-SHA-256) with a secret derived from the room's own signing key
 * (HKDF, {@link deriveProofSecret}): never a secret of its own in the repository or the
 * settings. Its signed `data` names the room and the key (`kid`), and `attempts`, the cost it
 * was made for. It lives {@link POW_CHALLENGE_TTL_SECONDS}.
 *
 * A proof is good for one place, once ({@link ProofCheck} gives the id to spend with the
 * store's `spendProof`), until its challenge expires. Accepted keys: the ring's current and next
 * keys (a container that has not read a rotation yet still takes the proofs of one that has:
 * their current key is its next), and a retired key for {@link POW_RETIRED_KEY_GRACE_SECONDS}
 * after it retired (the challenges it signed just before the rotation). A key retired longer
 * ago signs no challenge that can still be alive, so its secret is no longer taken.
 *
 * Cost rule: a proof whose challenge asked for fewer attempts than the room asks now is not
 * taken (the operator raised the cost because cheap proofs were being farmed), but it is not an
 * error either: the visitor gets a new challenge at the new cost ({@link ProofCheck} `cheaper`).
 * A proof for a higher cost than now is taken.
 */

import { hkdfSync, randomInt } from 'node:crypto';
import { type Challenge, createChallenge, type Solution, verifySolution } from 'altcha-lib';
import { deriveKey } from 'altcha-lib/algorithms/pbkdf2';
import { exportJWK } from 'jose';
import * as v from 'valibot';
import type { KeyRing } from './key-ring.ts';
import { isPowCost, MAX_POW_COST } from './room-settings.ts';
import type { SigningKey } from './tokens.ts';

/** The key derivation of each attempt; WebCrypto runs it natively in every browser. */
export const POW_ALGORITHM = 'PBKDF2/SHA-256';
/** PBKDF2 iterations per attempt (ALTCHA's `cost`): enough that the browser's call overhead is small. */
export const POW_ITERATIONS = 1_000;
/** Bytes of a derived key. */
export const POW_KEY_LENGTH = 32;
/** How long a challenge can be answered: the proof is good for one place within it. */
export const POW_CHALLENGE_TTL_SECONDS = 300;
/** Slack for clocks of two containers (one made the challenge, another checks it). */
export const POW_CLOCK_SKEW_SECONDS = 60;
/** How long after a rotation the retired key's challenges are still taken. */
export const POW_RETIRED_KEY_GRACE_SECONDS = POW_CHALLENGE_TTL_SECONDS + POW_CLOCK_SKEW_SECONDS;

/**
 * The suggested costs, from `npm run bench:pow` (README: proof of work). Chromium on 2 cores
 * derives about 7,000 keys a second, so on such a machine (a modest phone does about as well)
 * a solve takes (median / 9 in 10 under): light 0.7 s / 1.3 s, medium 3 s / 5 s, heavy
 * 14 s / 26 s; a machine with more cores, proportionally less.
 */
export const POW_COSTS = { light: 5_000, medium: 20_000, heavy: 100_000 } as const;

/** What a client sends back: the challenge as the room sent it, and its solution. */
export interface Proof {
  challenge: Record<string, unknown>;
  solution: Record<string, unknown>;
}

export type ProofCheck =
  /** Good: spend `id` (until `expiresAt`, epoch ms) and take one place. */
  | { outcome: 'good'; id: string; expiresAt: number }
  /** A good proof, made for fewer attempts than the room asks now: ask again. */
  | { outcome: 'cheaper' }
  /** Expired, tampered with, wrongly solved, or another room's or key's. */
  | { outcome: 'invalid'; reason: 'malformed' | 'foreign' | 'expired' | 'signature' | 'solution' };

/** The HMAC secrets one room key gives: one signs challenges, the other derived keys. */
export interface ProofSecret {
  kid: string;
  challenge: string;
  key: string;
}

/** The secrets a room signs with now, and every one it takes. */
export interface ProofSecrets {
  current: ProofSecret;
  accepted: readonly ProofSecret[];
}

/** Makes and checks the challenges of one room. */
export interface ProofOfWork {
  /** A new challenge asking for `cost` attempts on average, made at `now` (epoch ms). */
  challenge(cost: number, now: number): Promise<Record<string, unknown>>;
  /** Checks a proof against the room's cost now; never throws for a bad proof. */
  check(proof: Proof, cost: number, now: number): Promise<ProofCheck>;
}

export interface ProofOfWorkOptions {
  roomId: string;
  /** The secrets of the room's key ring now (they change when it rotates). */
  secrets: () => ProofSecrets | Promise<ProofSecrets>;
}

const HKDF_SALT = 'waiting-room proof-of-work';
const derived = new WeakMap<object, Map<string, ProofSecret>>();

/**
 * The proof-of-work secrets of one room key: HKDF-SHA-256 over the private key's scalar, with a
 * fixed label and the room id, so they are never the key itself, differ per room, and change
 * when the key rotates. Remembered per key object.
 */
export async function deriveProofSecret(key: SigningKey, roomId: string): Promise<ProofSecret> {
  let perRoom = derived.get(key.privateKey);
  const known = perRoom?.get(roomId);
  if (known) return known;
  const { d } = await exportJWK(key.privateKey);
  if (!d) throw new Error('the signing key is not a private key');
  const scalar = Buffer.from(d, 'base64url');
  const secret = (label: string) =>
    Buffer.from(hkdfSync('sha256', scalar, HKDF_SALT, `${label}\n${roomId}`, 32)).toString(
      'base64url',
    );
  const made = { kid: key.kid, challenge: secret('challenge'), key: secret('derived key') };
  if (!perRoom) {
    perRoom = new Map();
    derived.set(key.privateKey, perRoom);
  }
  perRoom.set(roomId, made);
  return made;
}

/**
 * The secrets of a key ring at `now` (epoch seconds): the current key signs; current, next and
 * keys retired less than {@link POW_RETIRED_KEY_GRACE_SECONDS} ago are taken.
 */
export async function proofSecretsOfRing(
  ring: KeyRing<SigningKey>,
  roomId: string,
  now: number,
): Promise<ProofSecrets> {
  const keys = [
    ring.current.key,
    ...(ring.next ? [ring.next.key] : []),
    ...ring.retired
      .filter((r) => r.retiredAt + POW_RETIRED_KEY_GRACE_SECONDS > now)
      .map((r) => r.key),
  ];
  const accepted = await Promise.all(keys.map((key) => deriveProofSecret(key, roomId)));
  return { current: accepted[0] as ProofSecret, accepted };
}

const hex = (length: number) => v.pipe(v.string(), v.regex(new RegExp(`^[0-9a-f]{${length}}$`)));

/** The shape of a challenge this room makes; its signature covers every field of it. */
const ChallengeSchema = v.object({
  parameters: v.strictObject({
    algorithm: v.literal(POW_ALGORITHM),
    nonce: hex(32),
    salt: hex(32),
    cost: v.literal(POW_ITERATIONS),
    keyLength: v.literal(POW_KEY_LENGTH),
    keyPrefix: hex(POW_KEY_LENGTH),
    keySignature: hex(64),
    expiresAt: v.pipe(v.number(), v.integer()),
    data: v.strictObject({
      room: v.string(),
      kid: v.string(),
      attempts: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(MAX_POW_COST)),
    }),
  }),
  signature: hex(64),
});
const SolutionSchema = v.object({
  counter: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(0xffffffff)),
  derivedKey: hex(POW_KEY_LENGTH * 2),
  time: v.optional(v.number()),
});

/** The room's maker and checker of challenges. */
export function createProofOfWork(options: ProofOfWorkOptions): ProofOfWork {
  const { roomId } = options;
  return {
    async challenge(cost, now) {
      if (!isPowCost(cost) || cost === 0) throw new RangeError(`not a proof-of-work cost: ${cost}`);
      const { current } = await options.secrets();
      const challenge = await createChallenge({
        algorithm: POW_ALGORITHM,
        cost: POW_ITERATIONS,
        keyLength: POW_KEY_LENGTH,
        counter: randomInt(0, 2 * cost),
        deriveKey,
        expiresAt: Math.floor(now / 1000) + POW_CHALLENGE_TTL_SECONDS,
        data: { room: roomId, kid: current.kid, attempts: cost },
        hmacSignatureSecret: current.challenge,
        hmacKeySignatureSecret: current.key,
      });
      return challenge as unknown as Record<string, unknown>;
    },

    async check(proof, cost, now) {
      const challenge = v.safeParse(ChallengeSchema, proof.challenge);
      const solution = v.safeParse(SolutionSchema, proof.solution);
      if (!challenge.success || !solution.success)
        return { outcome: 'invalid', reason: 'malformed' };
      const { parameters } = challenge.output;
      const nowSeconds = now / 1000;
      if (parameters.data.room !== roomId) return { outcome: 'invalid', reason: 'foreign' };
      const secret = (await options.secrets()).accepted.find((s) => s.kid === parameters.data.kid);
      if (!secret) return { outcome: 'invalid', reason: 'foreign' };
      // Expired by the room's clock; and never alive longer than the room would have made it.
      if (
        parameters.expiresAt <= nowSeconds ||
        parameters.expiresAt > nowSeconds + POW_CHALLENGE_TTL_SECONDS + POW_CLOCK_SKEW_SECONDS
      ) {
        return { outcome: 'invalid', reason: 'expired' };
      }
      // The parameters are checked as received (the schema only looked at them): the signature
      // covers exactly what the room made.
      const verified = await verifySolution({
        challenge: proof.challenge as unknown as Challenge,
        solution: solution.output as Solution,
        deriveKey,
        hmacSignatureSecret: secret.challenge,
        hmacKeySignatureSecret: secret.key,
      }).catch(() => null);
      if (verified === null) return { outcome: 'invalid', reason: 'malformed' };
      if (verified.expired) return { outcome: 'invalid', reason: 'expired' };
      if (verified.invalidSignature) return { outcome: 'invalid', reason: 'signature' };
      if (!verified.verified) return { outcome: 'invalid', reason: 'solution' };
      if (parameters.data.attempts < cost) return { outcome: 'cheaper' };
      return {
        outcome: 'good',
        id: parameters.nonce,
        // Spent for as long as any container could still take it.
        expiresAt: (parameters.expiresAt + POW_CLOCK_SKEW_SECONDS) * 1000,
      };
    },
  };
}
