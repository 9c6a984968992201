/**
 * The room's key ring in SSM: one SecureString holding the ring's stored form (`key-ring.ts`:
 * JSON with PKCS#8 PEMs and times), or, in a room deployed before rings, a bare PEM, read as a
 * ring of that one current key. Read with decryption; errors name the parameter, never its value.
 *
 * {@link rotateKeyRingInSsm} is what `npm run room -- rotate-key --aws` runs (through the key
 * rotation function) and what start:aws-local runs against its SSM stand-in. It publishes the
 * new JWKS before it writes the ring, so what is published is always at least what any
 * container signs with: if the write fails after the publication, the published set merely
 * holds one extra next key that never signs, and a retry publishes a set without it. Two
 * rotations at once (two operators, a retried invoke): the one that finds the parameter changed
 * since it read it writes nothing, publishes the JWKS of the ring that is stored, and fails.
 */
import { GetParameterCommand, PutParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import type { JSONWebKeySet } from 'jose';
import {
  describeKeyRing,
  type KeyRing,
  type KeyRotationResult,
  mapKeyRing,
  parseKeyRing,
  rotateKeyRing,
  serializeKeyRing,
} from '../../core/key-ring.ts';
import {
  generateSigningKey,
  importKeyRing,
  jwksOfRing,
  type SignerKeys,
  type SigningKey,
  signerKeysOfRing,
} from '../../core/tokens.ts';
import { defaultSsmClient } from './clients.ts';

export interface KeyRingParameterOptions {
  client?: Pick<SSMClient, 'send'>;
  /** Name of the SecureString parameter. */
  name: string;
}

/** The ring as stored (PEMs), or an error naming the parameter. */
export async function readKeyRingFromSsm(
  options: KeyRingParameterOptions,
): Promise<KeyRing<string>> {
  const client = options.client ?? defaultSsmClient();
  const { Parameter } = await client.send(
    new GetParameterCommand({ Name: options.name, WithDecryption: true }),
  );
  if (!Parameter?.Value) throw new Error(`SSM parameter ${options.name} holds no signing key`);
  try {
    return parseKeyRing(Parameter.Value);
  } catch (error) {
    throw notAKeyError(options.name, error);
  }
}

/** The parameter's version, to tell whether another writer came in between. */
async function versionOf(options: KeyRingParameterOptions): Promise<number | undefined> {
  const client = options.client ?? defaultSsmClient();
  const { Parameter } = await client.send(new GetParameterCommand({ Name: options.name }));
  return Parameter?.Version;
}

/** Another rotation wrote the ring while this one ran: nothing of this one was kept. */
export class ConcurrentRotationError extends Error {
  constructor(name: string) {
    super(
      `another rotation changed ${name} while this one ran: this one wrote nothing and published the stored ring's keys; run rotate-key again`,
    );
    this.name = 'ConcurrentRotationError';
  }
}

/** The ring with its keys imported; an error names the parameter, never its value. */
export async function readImportedRing(options: KeyRingParameterOptions) {
  const ring = await readKeyRingFromSsm(options);
  try {
    return await importKeyRing(ring);
  } catch (error) {
    throw notAKeyError(options.name, error);
  }
}

function notAKeyError(name: string, error: unknown): Error {
  // The message names the parameter, never its value.
  return new Error(`SSM parameter ${name} is not a PKCS#8 PEM P-256 private key or key ring`, {
    cause: error instanceof Error ? error.name : undefined,
  });
}

/** Reads the ring and returns what a signer needs at `now` (epoch ms). */
export async function loadSignerKeysFromSsm(
  options: KeyRingParameterOptions & { keepSeconds: number; now?: () => number },
): Promise<SignerKeys> {
  const ring = await readImportedRing(options);
  const now = Math.floor((options.now ?? Date.now)() / 1000);
  return signerKeysOfRing(ring, now, options.keepSeconds);
}

/** Writes the ring (SecureString, overwriting the previous ring). */
export async function writeKeyRingToSsm(
  options: KeyRingParameterOptions & { ring: KeyRing<string> },
): Promise<void> {
  const client = options.client ?? defaultSsmClient();
  await client.send(
    new PutParameterCommand({
      Name: options.name,
      Value: serializeKeyRing(options.ring),
      Type: 'SecureString',
      Overwrite: true,
    }),
  );
}

export interface RotateInSsmOptions extends KeyRingParameterOptions {
  /** Publishes the JWKS (S3 on AWS); must resolve only once it is written. */
  publish: (jwks: JSONWebKeySet) => Promise<void>;
  keepSeconds: number;
  force?: boolean;
  /** Epoch ms. */
  now?: () => number;
}

/** Rotates the ring in SSM; see the module doc for the order of the writes. */
export async function rotateKeyRingInSsm(options: RotateInSsmOptions): Promise<KeyRotationResult> {
  const now = Math.floor((options.now ?? Date.now)() / 1000);
  const version = await versionOf(options);
  const ring = await readImportedRing(options);
  const outcome = await rotateKeyRing<SigningKey & { pkcs8: string }>(
    ring,
    now,
    generateSigningKey,
    { keepSeconds: options.keepSeconds, ...(options.force ? { force: true } : {}) },
  );
  if (outcome.kind === 'refused') {
    return {
      outcome: 'refused',
      reason: outcome.reason,
      rotateAfter: outcome.rotateAfter,
      ring: describeKeyRing(ring, now, options.keepSeconds),
    };
  }
  const changed = async () => (await versionOf(options)) !== version;
  if (await changed()) throw new ConcurrentRotationError(options.name);
  await options.publish(jwksOfRing(outcome.ring, now, options.keepSeconds));
  if (await changed()) {
    // The other rotation's next key must be in what is published before anything signs with it.
    await options.publish(jwksOfRing(await readImportedRing(options), now, options.keepSeconds));
    throw new ConcurrentRotationError(options.name);
  }
  const stored = await mapKeyRing(outcome.ring, (key) => key.pkcs8);
  await writeKeyRingToSsm({ ...options, ring: stored });
  const report = describeKeyRing(outcome.ring, now, options.keepSeconds);
  return outcome.kind === 'rotated' && outcome.warning
    ? { outcome: 'rotated', ring: report, warning: outcome.warning }
    : { outcome: outcome.kind, ring: report };
}
