/**
 * Publishes the room's JWKS as `.well-known/jwks.json` in the room site's bucket, which
 * CloudFront serves at `/.well-known/jwks.json` (the gate and origins read it there).
 *
 * `max-age=300`: CloudFront, gates and origins keep it that long, which is what the key ring's
 * rule (a next key published 15 minutes before it signs) is built on. No CloudFront invalidation
 * is needed: a rotation's new current key was already in the set every cache holds, and the
 * keys a rotation adds (the new next) sign nothing until the following rotation.
 */
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { JSONWebKeySet } from 'jose';
import { JWKS_MAX_AGE_SECONDS } from '../../core/key-ring.ts';

/** The object's key in the bucket. */
export const JWKS_OBJECT_KEY = '.well-known/jwks.json';

export interface JwksPublisherOptions {
  bucket: string;
  client?: Pick<S3Client, 'send'>;
}

let defaultClient: S3Client | undefined;

/** A function that writes the JWKS; it resolves once S3 has it. */
export function createS3JwksPublisher(
  options: JwksPublisherOptions,
): (jwks: JSONWebKeySet) => Promise<void> {
  defaultClient ??= options.client ? undefined : new S3Client({ maxAttempts: 5 });
  const client = options.client ?? (defaultClient as S3Client);
  return async (jwks) => {
    await client.send(
      new PutObjectCommand({
        Bucket: options.bucket,
        Key: JWKS_OBJECT_KEY,
        Body: JSON.stringify(jwks),
        ContentType: 'application/json',
        CacheControl: `public, max-age=${JWKS_MAX_AGE_SECONDS}`,
      }),
    );
  };
}
