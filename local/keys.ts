/**
 * The local runtime's key ring (`functions/core/key-ring.ts`): the key that signs, the next one
 * (already in the JWKS) and the retired ones, so that `npm run room -- rotate-key` cuts no pass.
 *
 * - With a data directory: `signing-keys.json` in it (the ring's stored form: PKCS#8 PEMs and
 *   times, mode 0600, replaced atomically by a temporary file and a rename, so a crash leaves
 *   the old ring or the new one, never half of one). A `signing-key.pem` left by an older
 *   version becomes the current key of a new ring (its passes and tickets stay valid); the file
 *   is then no longer read.
 * - `WR_KEY_FILE` pins the key: the room signs with that one key (created with mode 0600 if the
 *   file does not exist), publishes only it, and refuses to rotate, since the operator who
 *   pinned it owns its rotation (rotating would mean a second key the file cannot hold).
 * - `WR_DATA_DIR=:memory:`: a ring in memory for this run; it rotates, and is lost on exit.
 */
import { randomBytes } from 'node:crypto';
import { chmod, open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { JSONWebKeySet } from 'jose';
import {
  describeKeyRing,
  type KeyRing,
  type KeyRingReport,
  type KeyRotationResult,
  liveKeys,
  mapKeyRing,
  newKeyRing,
  parseKeyRing,
  retiredKeepSeconds,
  rotateKeyRing,
  serializeKeyRing,
  withNextKey,
} from '../functions/core/key-ring.ts';
import type { Clock } from '../functions/core/ports.ts';
import {
  generateSigningKey,
  importKeyRing,
  importSigningKey,
  jwksOf,
  type SignerKeys,
  type SigningKey,
  signerKeysOf,
  TICKET_TTL_SECONDS,
} from '../functions/core/tokens.ts';
import { ConfigError } from './config.ts';

/** The key and its PKCS#8 PEM (which `start:aws-local` stores in SSM, as a deploy does). */
export type LocalSigningKey = SigningKey & { pkcs8: string };

/** The ring's file in the data directory. */
export const KEY_RING_FILE = 'signing-keys.json';
/** The single key file of versions before the ring; taken as the current key of a new ring. */
export const LEGACY_KEY_FILE = 'signing-key.pem';

/** Why a rotation cannot be done at all here (not merely "too soon"). */
/** Why a room whose key `WR_KEY_FILE` pins cannot rotate it (both local runtimes say this). */
export function pinnedKeyMessage(file: string): string {
  return `the signing key is pinned by WR_KEY_FILE (${file}): the room signs with that one key and cannot publish a next one. Unset WR_KEY_FILE to let the room keep a key ring in WR_DATA_DIR, or replace the file yourself (every pass and ticket it signed stops working)`;
}

export class KeyRotationUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeyRotationUnavailableError';
  }
}

export interface LocalKeyRing {
  /** The key that signs now. */
  readonly current: LocalSigningKey;
  /** The JWKS to publish now; the same object for as long as the set is the same. */
  jwks(): JSONWebKeySet;
  /** What the signer signs and verifies tickets with now; same object while the set is. */
  signerKeys(): SignerKeys;
  report(): KeyRingReport;
  /** Rotates (saving the ring first when it lives on disk); refused answers are values. */
  rotate(options?: { force?: boolean }): Promise<KeyRotationResult>;
  /** The ring as stored (PEMs), for start:aws-local to seed its SSM stand-in with. */
  stored(): Promise<KeyRing<string>>;
  /** The ring as it is now, keys imported (the proof-of-work secrets are derived from it). */
  ring(): KeyRing<LocalSigningKey>;
}

export interface KeyRingLocation {
  /** `WR_KEY_FILE`: a pinned key; null: the data directory's ring, or memory. */
  keyFile: string | null;
  /** The data directory; null: memory. */
  dataDir: string | null;
  passTtlSeconds: number;
  clock: Clock;
}

/** Opens (or creates) the local key ring; a bad file stops the start naming its variable. */
export async function openLocalKeyRing(location: KeyRingLocation): Promise<LocalKeyRing> {
  const { clock } = location;
  const now = () => Math.floor(clock.now() / 1000);
  const keepSeconds = retiredKeepSeconds({
    passTtlSeconds: location.passTtlSeconds,
    ticketTtlSeconds: TICKET_TTL_SECONDS,
  });

  if (location.keyFile !== null) {
    const key = await loadOrCreateKey(location.keyFile);
    const file = location.keyFile;
    return ringOver({ current: { key, since: 0 }, next: null, retired: [] }, keepSeconds, now, {
      save: null,
      pinned: pinnedKeyMessage(file),
    });
  }

  if (location.dataDir === null) {
    const ring = newKeyRing(await generateSigningKey(), await generateSigningKey(), now());
    return ringOver(ring, keepSeconds, now, { save: null, pinned: null });
  }

  const path = join(location.dataDir, KEY_RING_FILE);
  const save = (ring: KeyRing<LocalSigningKey>) => saveRing(path, ring);
  let ring = await readRingFile(path);
  if (ring === null) {
    const legacy = await readLegacyKey(join(location.dataDir, LEGACY_KEY_FILE));
    ring = legacy
      ? { current: { key: legacy, since: 0 }, next: null, retired: [] }
      : { current: { key: await generateSigningKey(), since: now() }, next: null, retired: [] };
  }
  if (ring.next === null) {
    ring = withNextKey(ring, await generateSigningKey(), now());
    await save(ring);
  }
  return ringOver(ring, keepSeconds, now, { save, pinned: null });
}

function ringOver(
  initial: KeyRing<LocalSigningKey>,
  keepSeconds: number,
  now: () => number,
  how: { save: ((ring: KeyRing<LocalSigningKey>) => Promise<void>) | null; pinned: string | null },
): LocalKeyRing {
  let ring = initial;
  let published: { kids: string; jwks: JSONWebKeySet; signer: SignerKeys } | undefined;
  let rotating: Promise<KeyRotationResult> | undefined;
  const current = () => {
    const keys = liveKeys(ring, now(), keepSeconds);
    const kids = keys.map((k) => k.kid).join(' ');
    if (published?.kids !== kids) {
      published = { kids, jwks: jwksOf(keys), signer: signerKeysOf(ring.current.key, keys) };
    }
    return published;
  };
  const rotate = async (force: boolean): Promise<KeyRotationResult> => {
    if (how.pinned) throw new KeyRotationUnavailableError(how.pinned);
    const at = now();
    const outcome = await rotateKeyRing(ring, at, generateSigningKey, {
      keepSeconds,
      ...(force ? { force: true } : {}),
    });
    if (outcome.kind === 'refused') {
      const { reason, rotateAfter } = outcome;
      return {
        outcome: 'refused',
        reason,
        rotateAfter,
        ring: describeKeyRing(ring, at, keepSeconds),
      };
    }
    // On disk first: a ring that signs must be the one a restart finds.
    await how.save?.(outcome.ring);
    ring = outcome.ring;
    const report = describeKeyRing(ring, at, keepSeconds);
    return outcome.kind === 'rotated' && outcome.warning
      ? { outcome: 'rotated', ring: report, warning: outcome.warning }
      : { outcome: outcome.kind, ring: report };
  };
  return {
    get current() {
      return ring.current.key;
    },
    jwks: () => current().jwks,
    signerKeys: () => current().signer,
    report: () => describeKeyRing(ring, now(), keepSeconds),
    // One rotation at a time: two operators at once get one rotation and one refusal.
    rotate: async (options = {}) => {
      while (rotating) await rotating.catch(() => undefined);
      rotating = rotate(options.force === true);
      try {
        return await rotating;
      } finally {
        rotating = undefined;
      }
    },
    stored: () => mapKeyRing(ring, (key) => key.pkcs8),
    ring: () => ring,
  };
}

async function readRingFile(path: string): Promise<KeyRing<LocalSigningKey> | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new ConfigError('WR_DATA_DIR', `cannot read ${path}: ${(error as Error).message}`);
  }
  try {
    return await importKeyRing(parseKeyRing(text));
  } catch (error) {
    throw new ConfigError(
      'WR_DATA_DIR',
      `${path} is not a key ring of PKCS#8 PEM P-256 keys (${(error as Error).message})`,
    );
  }
}

async function readLegacyKey(path: string): Promise<LocalSigningKey | null> {
  let pem: string;
  try {
    pem = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new ConfigError('WR_DATA_DIR', `cannot read ${path}: ${(error as Error).message}`);
  }
  try {
    return { ...(await importSigningKey(pem)), pkcs8: pem };
  } catch (error) {
    throw new ConfigError(
      'WR_DATA_DIR',
      `${path} is not a PKCS#8 PEM P-256 private key (${(error as Error).message})`,
    );
  }
}

/** Writes the ring to a temporary file (0600), flushes it, and renames it over the old one. */
async function saveRing(path: string, ring: KeyRing<LocalSigningKey>): Promise<void> {
  const text = serializeKeyRing(await mapKeyRing(ring, (key) => key.pkcs8), 2);
  const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    const handle = await open(temporary, 'wx', 0o600);
    try {
      await handle.writeFile(`${text}\n`, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await chmod(temporary, 0o600);
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true }).catch(() => undefined);
    throw new ConfigError('WR_DATA_DIR', `cannot write ${path}: ${(error as Error).message}`);
  }
}

/** Loads the PKCS#8 PEM key in `keyFile`, or creates it there (mode 0600) if it does not exist. */
export async function loadOrCreateKey(
  keyFile: string,
  /** The setting that named the file, for error messages. */
  variable = 'WR_KEY_FILE',
): Promise<LocalSigningKey> {
  let pem: string;
  try {
    pem = await readFile(keyFile, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new ConfigError(variable, `cannot read ${keyFile}: ${(error as Error).message}`);
    }
    const key = await generateSigningKey();
    try {
      // `wx`: never overwrite a key another process wrote meanwhile.
      await writeFile(keyFile, key.pkcs8, { mode: 0o600, flag: 'wx' });
      await chmod(keyFile, 0o600);
    } catch (error) {
      throw new ConfigError(variable, `cannot write ${keyFile}: ${(error as Error).message}`);
    }
    return key;
  }
  try {
    return { ...(await importSigningKey(pem)), pkcs8: pem };
  } catch (error) {
    throw new ConfigError(
      variable,
      `${keyFile} is not a PKCS#8 PEM P-256 private key (${(error as Error).message})`,
    );
  }
}
