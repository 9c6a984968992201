/**
 * The room's key ring: the key that signs, the key that will sign next, and the keys that signed
 * before, so that a key rotation cuts no pass and no ticket.
 *
 * - `current` signs every new pass and ticket.
 * - `next` signs nothing yet, but is published in the JWKS from the moment it is made. Gates and
 *   origins cache the JWKS (5 minutes at the edge, `max-age=300` on the document, and as long
 *   again in CloudFront on AWS), so when a rotation makes `next` current, every cache already
 *   holds it: a pass signed right after the rotation verifies everywhere at once.
 * - `retired` keys signed until `retiredAt`. They stay published, and keep verifying tickets,
 *   until every token they signed has expired ({@link retiredKeepSeconds}), then they are dropped.
 *
 * A rotation is refused while `next` has been published for less than
 * {@link MIN_NEXT_AGE_SECONDS}: a cache could still hold a set without it. Counting from when
 * `next` was published, rather than from the previous rotation, also covers a ring made a minute
 * ago or migrated from a single key (whose `next` is brand new). `force` overrides that, with a
 * warning.
 *
 * Everything here is pure and generic over the key (a PEM in a stored ring, a fake in the
 * property tests); times are epoch seconds. The ring is stored as a small JSON document
 * ({@link serializeKeyRing}); a bare PEM is read as a ring of one current key (a room deployed
 * before rings), whose `next` is made by the first rotation or deploy.
 */
import * as v from 'valibot';

/** How long the gate at the edge keeps a JWKS it read (edge/key-set.ts `JWKS_TTL_MS`). */
export const GATE_JWKS_CACHE_SECONDS = 300;
/** `Cache-Control: max-age` of the published JWKS: CloudFront and origins keep it that long. */
export const JWKS_MAX_AGE_SECONDS = 300;
/** Slack for clocks, Lambda containers still on the ring they read a minute ago, slow caches. */
export const KEY_RING_MARGIN_SECONDS = 300;
/**
 * How long `next` must have been published before it may sign. On AWS a JWKS can be held by
 * CloudFront (max-age) and then by a gate or an origin (max-age again): 10 minutes, plus the
 * margin. Locally one max-age would do; one rule for both keeps them alike.
 */
export const MIN_NEXT_AGE_SECONDS =
  JWKS_MAX_AGE_SECONDS +
  Math.max(GATE_JWKS_CACHE_SECONDS, JWKS_MAX_AGE_SECONDS) +
  KEY_RING_MARGIN_SECONDS;
/**
 * Retired keys kept at most. A stored ring must fit an SSM standard parameter (4 KB): ten PEMs
 * of about 280 characters each do. Rotations are at least 15 minutes apart and a retired key is
 * kept two days, so only a burst of rotations meets this; the next is then refused until the
 * oldest retired key has expired, or `force` drops it (tickets it signed stop resuming).
 */
export const MAX_RETIRED_KEYS = 8;

export interface KeyRing<K> {
  /** Signs; `since`: when it became current (0: unknown, a ring migrated from one key). */
  current: { key: K; since: number };
  /** Published, signs nothing yet; `since`: when it was first published. Null only in a ring read from one bare key. */
  next: { key: K; since: number } | null;
  /** Keys that signed before, oldest first; `retiredAt`: when each stopped signing. */
  retired: { key: K; retiredAt: number }[];
}

/**
 * How long a retired key stays published and verifies tickets: the longest lifetime of
 * anything it signed, plus the margin (a container may sign with it up to a minute after the
 * rotation, and clocks differ).
 */
export function retiredKeepSeconds(lifetimes: {
  passTtlSeconds: number;
  ticketTtlSeconds: number;
}): number {
  return Math.max(lifetimes.passTtlSeconds, lifetimes.ticketTtlSeconds) + KEY_RING_MARGIN_SECONDS;
}

/** A new ring: a current key and a next one, both published from `now`. */
export function newKeyRing<K>(current: K, next: K, now: number): KeyRing<K> {
  return { current: { key: current, since: now }, next: { key: next, since: now }, retired: [] };
}

/** The ring without the retired keys whose tokens have all expired by `now`. */
export function dropExpiredKeys<K>(ring: KeyRing<K>, now: number, keepSeconds: number): KeyRing<K> {
  return { ...ring, retired: ring.retired.filter((r) => r.retiredAt + keepSeconds > now) };
}

/**
 * The keys to publish in the JWKS and to verify tickets with at `now`: current, next, and the
 * retired keys still within their keep time. `next` verifies tickets too: on AWS a container
 * that has already read the rotated ring signs with it while another still holds the old one.
 */
export function liveKeys<K>(ring: KeyRing<K>, now: number, keepSeconds: number): K[] {
  return [
    ring.current.key,
    ...(ring.next ? [ring.next.key] : []),
    ...dropExpiredKeys(ring, now, keepSeconds).retired.map((r) => r.key),
  ];
}

/** Adds a next key to a ring that has none (a ring read from one bare key); else the same ring. */
export function withNextKey<K>(ring: KeyRing<K>, fresh: K, now: number): KeyRing<K> {
  return ring.next ? ring : { ...ring, next: { key: fresh, since: now } };
}

export interface RotationOptions {
  /** Rotate even if `next` is too new or the ring is full; see {@link RotationOutcome}. */
  force?: boolean;
  /** How long retired keys are kept ({@link retiredKeepSeconds}). */
  keepSeconds: number;
  /** @default MIN_NEXT_AGE_SECONDS */
  minNextAgeSeconds?: number;
}

export type RotationOutcome<K> =
  | {
      kind: 'rotated';
      ring: KeyRing<K>;
      /** Set when `force` let a rotation through that would have been refused: why it is risky. */
      warning?: string;
    }
  | {
      /** The ring had no next key (one bare key): one is published now; rotate again later. */
      kind: 'next-published';
      ring: KeyRing<K>;
      /** Epoch seconds from which a rotation is allowed. */
      rotateAfter: number;
    }
  | { kind: 'refused'; reason: string; rotateAfter: number };

/**
 * Rotates: the current key retires (now), next becomes current, a fresh key (from `makeKey`)
 * becomes next, and expired retired keys are dropped. Refused while next is younger than
 * `minNextAgeSeconds` (a cache may not hold it yet) or the ring already holds
 * {@link MAX_RETIRED_KEYS} retired keys, unless `force`.
 */
export async function rotateKeyRing<K>(
  ring: KeyRing<K>,
  now: number,
  makeKey: () => K | Promise<K>,
  options: RotationOptions,
): Promise<RotationOutcome<K>> {
  const minAge = options.minNextAgeSeconds ?? MIN_NEXT_AGE_SECONDS;
  const kept = dropExpiredKeys(ring, now, options.keepSeconds);
  const warnings: string[] = [];

  if (!kept.next) {
    if (!options.force) {
      return {
        kind: 'next-published',
        ring: withNextKey(kept, await makeKey(), now),
        rotateAfter: now + minAge,
      };
    }
    warnings.push(
      'the ring had no published next key: the new current key was published just now, and gates or origins still holding the old key set refuse its passes until they read it again (up to 10 minutes)',
    );
  } else if (now - kept.next.since < minAge) {
    const rotateAfter = kept.next.since + minAge;
    if (!options.force) {
      return {
        kind: 'refused',
        reason: `the next key was published ${formatSeconds(now - kept.next.since)} ago; caches of the key set may not hold it yet: rotate again in ${formatSeconds(rotateAfter - now)} (or force it)`,
        rotateAfter,
      };
    }
    warnings.push(
      `the new current key was published only ${formatSeconds(now - kept.next.since)} ago: passes signed in the next minutes may be refused by gates and origins still holding the old key set`,
    );
  }

  let retired = [...kept.retired, { key: kept.current.key, retiredAt: now }];
  if (retired.length > MAX_RETIRED_KEYS) {
    const oldest = retired[0] as { retiredAt: number };
    const rotateAfter = oldest.retiredAt + options.keepSeconds;
    if (!options.force) {
      return {
        kind: 'refused',
        reason: `the ring already holds ${MAX_RETIRED_KEYS} retired keys whose tokens are still valid; the oldest expires in ${formatSeconds(rotateAfter - now)} (forcing drops it: tickets it signed stop resuming)`,
        rotateAfter,
      };
    }
    warnings.push(
      `the oldest retired key was dropped before its tickets expired: visitors holding them cannot resume`,
    );
    retired = retired.slice(retired.length - MAX_RETIRED_KEYS);
  }

  const current = kept.next ? kept.next.key : await makeKey();
  const rotated: KeyRing<K> = {
    current: { key: current, since: now },
    next: { key: await makeKey(), since: now },
    retired,
  };
  return warnings.length > 0
    ? { kind: 'rotated', ring: rotated, warning: warnings.join('; ') }
    : { kind: 'rotated', ring: rotated };
}

function formatSeconds(seconds: number): string {
  const s = Math.max(0, Math.ceil(seconds));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.ceil(s / 60)} min`;
  return `${Math.round(s / 360) / 10} h`;
}

// --- Stored form: PKCS#8 PEMs and times, the same in a local file and in SSM. -----------------

/** The `format` of a stored ring. */
export const KEY_RING_FORMAT = 'waiting-room-key-ring/1';

const time = v.pipe(v.number(), v.integer(), v.minValue(0));
const pem = v.pipe(v.string(), v.includes('PRIVATE KEY'));
const KeyRingDocumentSchema = v.object({
  format: v.literal(KEY_RING_FORMAT),
  current: v.object({ pem, since: time }),
  next: v.nullable(v.object({ pem, since: time })),
  retired: v.array(v.object({ pem, retiredAt: time })),
});

/** The error for a stored ring that cannot be read; it never quotes the stored text. */
export class KeyRingFormatError extends Error {
  constructor(reason: string) {
    super(`not a key ring (${reason})`);
    this.name = 'KeyRingFormatError';
  }
}

/**
 * Reads a stored ring: the JSON document {@link serializeKeyRing} writes, or a bare PEM (a room
 * from before rings), which is a ring of that one current key, `since` unknown (0), no next.
 */
export function parseKeyRing(text: string): KeyRing<string> {
  const trimmed = text.trim();
  if (trimmed.startsWith('-----BEGIN')) {
    return { current: { key: `${trimmed}\n`, since: 0 }, next: null, retired: [] };
  }
  let json: unknown;
  try {
    json = JSON.parse(trimmed);
  } catch {
    throw new KeyRingFormatError('neither a PEM nor JSON');
  }
  const parsed = v.safeParse(KeyRingDocumentSchema, json);
  if (!parsed.success) {
    const issue = parsed.issues[0];
    const path = issue ? v.getDotPath(issue) : null;
    throw new KeyRingFormatError(`${path ?? 'document'}: ${issue?.message ?? 'invalid'}`);
  }
  const doc = parsed.output;
  return {
    current: { key: doc.current.pem, since: doc.current.since },
    next: doc.next ? { key: doc.next.pem, since: doc.next.since } : null,
    retired: doc.retired.map((r) => ({ key: r.pem, retiredAt: r.retiredAt })),
  };
}

/** The stored form of a ring of PEMs (compact JSON; `indent` for a file people may read). */
export function serializeKeyRing(ring: KeyRing<string>, indent?: number): string {
  return JSON.stringify(
    {
      format: KEY_RING_FORMAT,
      current: { pem: ring.current.key, since: ring.current.since },
      next: ring.next ? { pem: ring.next.key, since: ring.next.since } : null,
      retired: ring.retired.map((r) => ({ pem: r.key, retiredAt: r.retiredAt })),
    },
    null,
    indent,
  );
}

/** The same ring with every key mapped (PEMs to imported keys, say). */
export async function mapKeyRing<A, B>(
  ring: KeyRing<A>,
  f: (key: A) => B | Promise<B>,
): Promise<KeyRing<B>> {
  return {
    current: { key: await f(ring.current.key), since: ring.current.since },
    next: ring.next ? { key: await f(ring.next.key), since: ring.next.since } : null,
    retired: await Promise.all(
      ring.retired.map(async (r) => ({ key: await f(r.key), retiredAt: r.retiredAt })),
    ),
  };
}

/** What an operator is told about a ring: key ids and times (epoch seconds), never a key. */
export interface KeyRingReport {
  current: { kid: string; since: number };
  next: { kid: string; since: number } | null;
  retired: { kid: string; retiredAt: number; dropAfter: number }[];
  /** The kids in the JWKS now. */
  published: string[];
  /** From when the next rotation is allowed without force. */
  rotateAfter: number | null;
}

export function describeKeyRing<K extends { kid: string }>(
  ring: KeyRing<K>,
  now: number,
  keepSeconds: number,
  minNextAgeSeconds = MIN_NEXT_AGE_SECONDS,
): KeyRingReport {
  const kept = dropExpiredKeys(ring, now, keepSeconds);
  return {
    current: { kid: ring.current.key.kid, since: ring.current.since },
    next: ring.next ? { kid: ring.next.key.kid, since: ring.next.since } : null,
    retired: kept.retired.map((r) => ({
      kid: r.key.kid,
      retiredAt: r.retiredAt,
      dropAfter: r.retiredAt + keepSeconds,
    })),
    published: liveKeys(ring, now, keepSeconds).map((k) => k.kid),
    rotateAfter: ring.next ? ring.next.since + minNextAgeSeconds : null,
  };
}

/** What a rotation answers an operator: the outcome and the ring as it is afterwards. */
export type KeyRotationResult =
  | { outcome: 'rotated' | 'next-published'; ring: KeyRingReport; warning?: string }
  | { outcome: 'refused'; reason: string; rotateAfter: number; ring: KeyRingReport };
