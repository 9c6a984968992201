/**
 * The AWS adapters built from the functions' settings, with the default SDK clients: the AWS
 * counterpart of `local/room.ts`. Each entry point builds only what it uses, once per container.
 */
import { createRemoteJWKSet } from 'jose';
import { createApiGatewayNotifier } from '../adapters/aws/api-gateway-notifier.ts';
import {
  createDynamoSessionStore,
  type DynamoSessionStore,
} from '../adapters/aws/dynamo-session-store.ts';
import {
  createDynamoSourceLimits,
  type DynamoSourceLimits,
} from '../adapters/aws/dynamo-source-limits.ts';
import { createLambdaWaker } from '../adapters/aws/lambda-waker.ts';
import { createMirroredConfigSource } from '../adapters/aws/mirrored-config.ts';
import { createSqsArrivalQueue, type SqsArrivalQueue } from '../adapters/aws/sqs-arrival-queue.ts';
import { createSsmConfigSource } from '../adapters/aws/ssm-config.ts';
import {
  type KeyRingParameterOptions,
  loadSignerKeysFromSsm,
  readImportedRing,
} from '../adapters/aws/ssm-signing-key.ts';
import { systemClock } from '../adapters/local/system-clock.ts';
import { createIdentityVerifier, type IdentityVerifier } from '../core/identity.ts';
import { retiredKeepSeconds } from '../core/key-ring.ts';
import type {
  ConfigSource,
  ConnectionCloser,
  Notifier,
  ProcessorWaker,
  SessionStore,
  Signer,
} from '../core/ports.ts';
import {
  createProofOfWork,
  type ProofOfWork,
  type ProofSecrets,
  proofSecretsOfRing,
} from '../core/proof-of-work.ts';
import { createConnectionRateLimiter } from '../core/rate-limiter.ts';
import { sourceLimitsFor } from '../core/sources.ts';
import {
  createSigner,
  type SignerKeys,
  signerKeysOfRing,
  TICKET_TTL_SECONDS,
} from '../core/tokens.ts';
import { createLazySigner, createReloadingKeySource } from './lazy-signer.ts';
import type { Observability } from './observability.ts';
import type { Settings } from './settings.ts';

export function sessionStoreFrom(
  settings: Pick<Settings, 'tableName' | 'roomId'>,
): DynamoSessionStore {
  return createDynamoSessionStore({ tableName: settings.tableName, roomId: settings.roomId });
}

export function arrivalQueueFrom(
  settings: Pick<Settings, 'arrivalQueueUrl'>,
  { logger }: Observability,
): SqsArrivalQueue {
  return createSqsArrivalQueue({
    queueUrl: settings.arrivalQueueUrl,
    onMalformed: (message, reason) =>
      logger.error('deleted a message that is not an arrival', {
        reason,
        messageId: message.MessageId,
      }),
  });
}

/**
 * The processor's config: SSM, read at most once a second (one container ticks), mirrored by
 * each tick onto the room state for the handlers.
 */
export function processorConfigFrom(
  settings: Pick<Settings, 'configPrefix'>,
  { logger }: Observability,
  store?: Pick<SessionStore, 'getRoomState'>,
): ConfigSource {
  return createSsmConfigSource({
    prefix: settings.configPrefix,
    ttlMs: 1000,
    // Until SSM answers, the settings the last processor ran with (mirrored on the room state).
    ...(store ? { seed: async () => (await store.getRoomState()).config } : {}),
    onError: (error) =>
      logger.error('room config read failed; using the last good value', { error }),
  });
}

/** The handlers' config: the processor's mirror, SSM only before any tick mirrored it. */
export function visitorConfigFrom(
  settings: Pick<Settings, 'configPrefix' | 'tableName' | 'roomId'>,
  observability: Observability,
): ConfigSource {
  return createMirroredConfigSource({
    tableName: settings.tableName,
    roomId: settings.roomId,
    clock: systemClock,
    fallback: createSsmConfigSource({
      prefix: settings.configPrefix,
      onError: (error) =>
        observability.logger.error('room config read failed; using the last good value', {
          error,
        }),
    }),
    onError: (error) => observability.logger.error('mirrored room config read failed', { error }),
  });
}

/** The counts per source address; null when `WR_SOURCE_LIMITS=off`. */
export function sourceLimitsFrom(
  settings: Pick<Settings, 'tableName' | 'roomId' | 'maxPlacesPerSource' | 'sourceLimits'>,
  { logger }: Observability,
): DynamoSourceLimits | null {
  if (!settings.sourceLimits) return null;
  return createDynamoSourceLimits({
    tableName: settings.tableName,
    roomId: settings.roomId,
    limits: sourceLimitsFor(settings.maxPlacesPerSource),
    onError: (error) =>
      logger.error('a count per source address failed; the visitor was let through', { error }),
  });
}

/**
 * The signer over the key ring in SSM, read again every minute (a rotation reaches every
 * container within a minute, no redeploy); a failed read keeps the last good ring.
 */
export function signerFrom(
  settings: Pick<Settings, 'signingKeyParameter' | 'roomId' | 'mainOrigin' | 'passTtlSeconds'>,
  observability?: Observability,
): Signer {
  const keepSeconds = retiredKeepSeconds({
    passTtlSeconds: settings.passTtlSeconds,
    ticketTtlSeconds: TICKET_TTL_SECONDS,
  });
  return createLazySigner(
    () => loadSignerKeysFromSsm({ name: settings.signingKeyParameter, keepSeconds }),
    {
      roomId: settings.roomId,
      mainOrigin: settings.mainOrigin,
      passTtlSeconds: settings.passTtlSeconds,
      ...(observability
        ? {
            onReloadError: (error: unknown) =>
              observability.logger.error('key ring read failed; signing with the last good', {
                error,
              }),
          }
        : {}),
    },
  );
}

/**
 * The message function's signer and its maker and checker of proof-of-work challenges, over one
 * read of the key ring in SSM (every minute, as {@link signerFrom}): the challenges' secrets are
 * derived from the ring's keys (`proof-of-work.ts`), so a rotation moves them too, and no
 * secret of their own is kept anywhere.
 */
export function signerAndProofsFrom(
  settings: Pick<Settings, 'signingKeyParameter' | 'roomId' | 'mainOrigin' | 'passTtlSeconds'>,
  observability?: Observability,
  { ssm }: { ssm?: KeyRingParameterOptions['client'] } = {},
): { signer: Signer; proofs: ProofOfWork } {
  const { roomId } = settings;
  const keepSeconds = retiredKeepSeconds({
    passTtlSeconds: settings.passTtlSeconds,
    ticketTtlSeconds: TICKET_TTL_SECONDS,
  });
  const keys = createReloadingKeySource<
    SignerKeys & { proofSecrets: (now: number) => Promise<ProofSecrets> }
  >({
    load: async () => {
      const ring = await readImportedRing({
        name: settings.signingKeyParameter,
        ...(ssm ? { client: ssm } : {}),
      });
      return {
        ...signerKeysOfRing(ring, Math.floor(Date.now() / 1000), keepSeconds),
        proofSecrets: (now) => proofSecretsOfRing(ring, roomId, now),
      };
    },
    ...(observability
      ? {
          onReloadError: (error: unknown) =>
            observability.logger.error('key ring read failed; signing with the last good', {
              error,
            }),
        }
      : {}),
  });
  return {
    signer: createSigner({
      roomId,
      mainOrigin: settings.mainOrigin,
      passTtlSeconds: settings.passTtlSeconds,
      keys,
    }),
    proofs: createProofOfWork({
      roomId,
      secrets: async () => (await keys.get()).proofSecrets(Math.floor(Date.now() / 1000)),
    }),
  };
}

/**
 * The check of the site's identity tokens, with its public key or its JWKS URL (fetched when a
 * token names a key not yet seen, cached by jose per container); undefined when neither is set:
 * places are then not tied to people.
 */
export function identityVerifierFrom(
  settings: Pick<Settings, 'roomId' | 'identityPublicKey' | 'identityJwksUrl' | 'identityRequired'>,
  { logger }: Observability,
): IdentityVerifier | undefined {
  const key =
    settings.identityPublicKey ??
    (settings.identityJwksUrl ? createRemoteJWKSet(new URL(settings.identityJwksUrl)) : null);
  if (key === null) return undefined;
  return createIdentityVerifier({
    roomId: settings.roomId,
    key,
    required: settings.identityRequired,
    onKeyError: (error) =>
      logger.error("the site's identity key set could not be read; the token was refused", {
        error,
        url: settings.identityJwksUrl,
      }),
  });
}

export function wakerFrom(
  settings: Pick<Settings, 'tableName' | 'roomId' | 'processorFunctionName'>,
  { logger }: Observability,
): ProcessorWaker {
  return createLambdaWaker({
    tableName: settings.tableName,
    roomId: settings.roomId,
    functionName: settings.processorFunctionName,
    clock: systemClock,
    onError: (error) =>
      logger.error('could not wake the processor; the schedule starts one within a minute', {
        error,
      }),
  });
}

export function notifierFrom(
  settings: Pick<Settings, 'managementEndpoint'>,
): Notifier & ConnectionCloser {
  return createApiGatewayNotifier({ endpoint: settings.managementEndpoint });
}

/**
 * Per-connection frame limits, as in the local runtime. Kept per container: a connection's
 * frames spread over containers, which still bounds what one flood costs.
 */
export function frameLimiter() {
  return createConnectionRateLimiter({ burst: 20, perSecond: 5 });
}
