/**
 * Custom resource (behind the CDK Provider framework) that makes the room's key ring at deploy
 * time (`functions/core/key-ring.ts`: a current key that signs and a next key published beside
 * it), P-256 keys generated with node:crypto, stored as one SSM SecureString, and publishes the
 * ring's JWKS as `.well-known/jwks.json` in the room site's bucket. It returns only public halves.
 *
 * - Create / Update: a parameter that does not exist gets a new ring (`PutParameter` with
 *   `Overwrite: false`: a ring another writer made meanwhile wins). A parameter that exists is
 *   never given another key: a bare PEM (a room deployed before rings) becomes the current key
 *   of a ring and gets a next key; a ring is kept as it is (a rotation may have written it).
 * - The JWKS is written from the ring as SSM holds it, and only when this resource made or
 *   changed the ring, or the bucket is new to it. So a later deploy never writes a JWKS older
 *   than the one a rotation published (which the old BucketDeployment of a deploy-time JWKS
 *   could have done whenever it ran again); the key rotation function writes every other one.
 *   The JWKS goes to S3 before the ring goes to SSM: what is published always holds every key
 *   that may sign.
 * - Delete: nothing. The ring outlives the stack on purpose: deleting it would invalidate every
 *   pass and ticket in flight, and an operator can delete the parameter by hand.
 */
import { generateKeyPairSync } from 'node:crypto';
import {
  GetParameterCommand,
  ParameterAlreadyExists,
  PutParameterCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { createS3JwksPublisher } from '../../functions/adapters/aws/s3-jwks.ts';
import {
  type KeyRing,
  liveKeys,
  newKeyRing,
  parseKeyRing,
  serializeKeyRing,
  withNextKey,
} from '../../functions/core/key-ring.ts';
import { publicJwkOf } from './public-jwk.ts';

/** What the Provider framework expects back from an onEvent handler. */
export interface SigningKeyResponse {
  PhysicalResourceId: string;
  Data?: { PublicJwk: string; Jwks: string; Kid: string };
}

export interface SigningKeyHandlerOptions {
  ssm?: Pick<SSMClient, 'send'>;
  /** Publishes the JWKS to a bucket (S3 on AWS; tests hand in another). */
  publisher?: (bucket: string) => (jwks: { keys: object[] }) => Promise<void>;
  now?: () => number;
}

const DESCRIPTION =
  'Waiting room pass signing key ring (JSON: PKCS#8 PEM P-256 keys and times). Made once by deploy; rotated by npm run room -- rotate-key.';

/** Builds the handler; a test hands in other clients. */
export function createSigningKeyHandler(options: SigningKeyHandlerOptions = {}) {
  const ssm = options.ssm ?? new SSMClient({});
  const publisher = options.publisher ?? ((bucket: string) => createS3JwksPublisher({ bucket }));
  const nowSeconds = () => Math.floor((options.now ?? Date.now)() / 1000);

  return async (event: CloudFormationCustomResourceEvent): Promise<SigningKeyResponse> => {
    const props = event.ResourceProperties;
    const name = props.ParameterName;
    if (typeof name !== 'string' || !name.startsWith('/')) {
      throw new Error('ParameterName must be an SSM parameter name starting with /');
    }
    if (event.RequestType === 'Delete') {
      return { PhysicalResourceId: event.PhysicalResourceId };
    }
    const bucket = typeof props.BucketName === 'string' ? props.BucketName : null;
    const keepSeconds = Number(props.KeepRetiredSeconds ?? 0);
    const oldBucket =
      event.RequestType === 'Update' ? event.OldResourceProperties.BucketName : undefined;
    const publish = async (ring: KeyRing<string>) => {
      if (bucket) await publisher(bucket)(jwksOf(ring, nowSeconds(), keepSeconds));
    };

    let ring = await readRing(ssm, name);
    if (ring === null) {
      const made = newKeyRing(newPem(), newPem(), nowSeconds());
      await publish(made);
      ring = (await putRing(ssm, name, made, false)) ? made : await readRing(ssm, name);
      if (ring === null) throw new Error(`parameter ${name} vanished while it was made`);
      if (ring !== made) await publish(ring);
    } else if (ring.next === null) {
      ring = withNextKey(ring, newPem(), nowSeconds());
      await publish(ring);
      await putRing(ssm, name, ring, true);
    } else if (event.RequestType === 'Create' || oldBucket !== bucket) {
      await publish(ring);
    }

    const current = publicJwkOf(ring.current.key);
    return {
      PhysicalResourceId: name,
      Data: {
        PublicJwk: JSON.stringify(current),
        Jwks: JSON.stringify(jwksOf(ring, nowSeconds(), keepSeconds)),
        Kid: current.kid,
      },
    };
  };
}

function jwksOf(ring: KeyRing<string>, now: number, keepSeconds: number) {
  return { keys: liveKeys(ring, now, keepSeconds).map((pem) => publicJwkOf(pem)) };
}

function newPem(): string {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

async function readRing(ssm: Pick<SSMClient, 'send'>, name: string) {
  try {
    const existing = await ssm.send(new GetParameterCommand({ Name: name, WithDecryption: true }));
    const value = existing.Parameter?.Value;
    if (!value) throw new Error(`parameter ${name} exists but has no value`);
    return parseKeyRing(value);
  } catch (error) {
    if (isNamed(error, 'ParameterNotFound')) return null;
    throw error;
  }
}

/** Writes the ring; false when `overwrite` is off and the parameter exists already. */
async function putRing(
  ssm: Pick<SSMClient, 'send'>,
  name: string,
  ring: KeyRing<string>,
  overwrite: boolean,
): Promise<boolean> {
  try {
    await ssm.send(
      new PutParameterCommand({
        Name: name,
        Value: serializeKeyRing(ring),
        Type: 'SecureString',
        Overwrite: overwrite,
        // Described when made; an overwrite keeps the description.
        ...(overwrite ? {} : { Description: DESCRIPTION }),
      }),
    );
    return true;
  } catch (error) {
    if (error instanceof ParameterAlreadyExists || isNamed(error, 'ParameterAlreadyExists')) {
      return false;
    }
    throw error;
  }
}

function isNamed(error: unknown, name: string): boolean {
  return error instanceof Error && error.name === name;
}

export const handler = createSigningKeyHandler();
