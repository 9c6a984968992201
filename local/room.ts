/**
 * Wires the core to the in-process adapters: the local equivalent of the Lambda entry points'
 * wiring. One room per process.
 */
import { setTimeout as wait } from 'node:timers/promises';
import { createRemoteJWKSet } from 'jose';
import type { WebSocket } from 'ws';
import { MemoryArrivalQueue } from '../functions/adapters/local/memory-arrival-queue.ts';
import { MemoryConfigSource } from '../functions/adapters/local/memory-config.ts';
import { MemorySessionStore } from '../functions/adapters/local/memory-session-store.ts';
import { MemorySourcePlaces } from '../functions/adapters/local/memory-source-places.ts';
import { createProcessLease } from '../functions/adapters/local/process-lease.ts';
import { systemClock } from '../functions/adapters/local/system-clock.ts';
import {
  createIdentityVerifier,
  type IdentityVerifier,
  parseIdentityPublicKey,
} from '../functions/core/identity.ts';
import type {
  ArrivalQueue,
  Clock,
  ConnectionCloser,
  Delivery,
  Notifier,
  RoomConfig,
  SessionStore,
} from '../functions/core/ports.ts';
import {
  DEFAULT_PROCESSOR_SETTINGS,
  forgetLine,
  type ProcessorDeps,
  runLoopTick,
  type TickReport,
} from '../functions/core/processor.ts';
import { runProcessorLoop } from '../functions/core/processor-loop.ts';
import { createProofOfWork, proofSecretsOfRing } from '../functions/core/proof-of-work.ts';
import type { ServerMessage } from '../functions/core/protocol.ts';
import { createConnectionRateLimiter } from '../functions/core/rate-limiter.ts';
import { createSigner, type jwksOf, type SigningKey } from '../functions/core/tokens.ts';
import type { RouterDeps } from '../functions/router.ts';
import type { LocalConfig } from './config.ts';
import { type RoomStatus, readRoomStatus } from './front.ts';
import type { LocalKeyRing } from './keys.ts';

/** An open socket and the frame handling in progress on it. */
export interface LocalConnection {
  socket: WebSocket;
  /** Settles when the frames received so far have been handled and answered. */
  busy: Promise<void>;
}

/** Open sockets by connection id; the local stand-in for the API Gateway management API. */
export class SocketNotifier implements Notifier, ConnectionCloser {
  readonly sockets = new Map<string, LocalConnection>();

  async send(connectionId: string, message: ServerMessage): Promise<Delivery> {
    const connection = this.sockets.get(connectionId);
    if (!connection) return 'gone';
    // A push waits for the connection's frame in progress, so a visitor always hears `joined`
    // before the first `position` of that place.
    await connection.busy;
    const { socket } = connection;
    if (socket.readyState !== socket.OPEN) return 'gone';
    socket.send(JSON.stringify(message));
    return 'sent';
  }

  /**
   * Tells the old connection of a resumed place and closes it, without waiting for its frame in
   * progress: two tabs resuming one place at once would otherwise wait on each other.
   */
  async supersede(connectionId: string): Promise<void> {
    const socket = this.sockets.get(connectionId)?.socket;
    if (!socket || socket.readyState !== socket.OPEN) return;
    socket.send(JSON.stringify({ type: 'superseded' }));
    socket.close(1000, 'superseded');
  }
}

export type { RoomStatus };

export interface LocalRoom {
  router: RouterDeps;
  processor: ProcessorDeps;
  config: MemoryConfigSource;
  notifier: SocketNotifier;
  store: SessionStore;
  queue: ArrivalQueue;
  /** The key that signs now (it changes when the ring rotates). */
  readonly key: SigningKey;
  /** The JWKS to publish now (it changes when the ring rotates). */
  readonly jwks: ReturnType<typeof jwksOf>;
  keyRing: LocalKeyRing;
  /** Places per source address; null when `WR_SOURCE_LIMITS=off`. */
  sources: MemorySourcePlaces | null;
  status(): Promise<RoomStatus>;
  /** Starts ticking every `tickMs`; ticks never overlap. Returns a function that stops it. */
  startProcessor(
    onTick?: (report: TickReport) => void,
    onError?: (e: unknown) => void,
  ): () => Promise<void>;
}

/** Where the room's state lives: in memory (the default here), or on disk (`durable-room.ts`). */
export interface RoomData {
  store: SessionStore;
  queue: ArrivalQueue;
  /** The live settings a previous process left (null: seed them from the environment). */
  config: RoomConfig | null;
  /** The source of each place a previous process left in line. */
  sourcesInLine?: readonly string[];
}

export function createLocalRoom(
  settings: LocalConfig,
  keyRing: LocalKeyRing,
  clock: Clock = systemClock,
  onError?: RouterDeps['onError'],
  data: RoomData = {
    store: new MemorySessionStore(clock),
    queue: new MemoryArrivalQueue(clock),
    config: null,
  },
): LocalRoom {
  const { store, queue } = data;
  const config = new MemoryConfigSource(
    data.config ?? { enabled: settings.enabled, admitPerMinute: settings.admitPerMinute },
  );
  const notifier = new SocketNotifier();
  const sources = settings.sourceLimits
    ? new MemorySourcePlaces(settings.sourceLimits.maxPlaces, data.sourcesInLine)
    : null;
  // One signer for the room's life: it asks the ring for its keys at each use.
  const signer = createSigner({
    keys: { get: () => keyRing.signerKeys() },
    roomId: settings.roomId,
    mainOrigin: settings.publicUrl,
    passTtlSeconds: settings.passTtlSeconds,
  });
  const identities = identityVerifierOf(settings, onError);
  // Asked for only while the operator sets a cost; its secrets follow the ring's rotations.
  const proofs = createProofOfWork({
    roomId: settings.roomId,
    secrets: () =>
      proofSecretsOfRing(keyRing.ring(), settings.roomId, Math.floor(clock.now() / 1000)),
  });
  const router: RouterDeps = {
    store,
    queue,
    config,
    signer,
    clock,
    mainOrigin: settings.publicUrl,
    // Generous for a person, tight for a script: 20 frames at once, 5 a second after that.
    limiter: createConnectionRateLimiter({ burst: 20, perSecond: 5 }),
    connections: notifier,
    proofs,
    ...(sources ? { sources } : {}),
    ...(identities ? { identities } : {}),
    ...(onError ? { onError } : {}),
  };
  const processor: ProcessorDeps = {
    store,
    queue,
    config,
    notifier,
    signer,
    clock,
    settings: {
      ...DEFAULT_PROCESSOR_SETTINGS,
      mainOrigin: settings.publicUrl,
      tickMs: settings.tickMs,
      abandonAfterMs: settings.abandonAfterSeconds * 1000,
      positionBudgetPerSecond: settings.positionBudgetPerSecond,
      // In memory a page costs nothing: read the line in one.
    },
    memory: forgetLine(),
    ...(sources ? { sources } : {}),
  };

  return {
    router,
    processor,
    config,
    notifier,
    store,
    queue,
    get key() {
      return keyRing.current;
    },
    get jwks() {
      return keyRing.jwks();
    },
    keyRing,
    sources,
    status: () => readRoomStatus(config.current(), store, notifier.sockets.size, clock.now()),
    startProcessor(onTick, onTickError) {
      const stop = new AbortController();
      // Resolves early (instead of rejecting) when the room stops.
      const sleep = (ms: number) =>
        wait(ms, undefined, { signal: stop.signal }).catch(() => undefined);
      const running = runProcessorLoop({
        lease: createProcessLease(),
        clock,
        sleep,
        tick: (takenOver, stillHeld) => runLoopTick(processor, takenOver, stillHeld),
        tickMs: settings.tickMs,
        leaseMs: Number.POSITIVE_INFINITY,
        deadline: Number.POSITIVE_INFINITY,
        signal: stop.signal,
        ...(onTick ? { onTick } : {}),
        ...(onTickError ? { onError: (error: unknown) => onTickError(error) } : {}),
      });
      return async () => {
        stop.abort();
        await running;
      };
    },
  };
}

/** The verifier of the site's identity tokens, when the settings name its key. */
function identityVerifierOf(
  settings: Pick<
    LocalConfig,
    'roomId' | 'identityPublicKeyPem' | 'identityJwksUrl' | 'identityRequired'
  >,
  onError?: RouterDeps['onError'],
): IdentityVerifier | undefined {
  const key = settings.identityPublicKeyPem
    ? parseIdentityPublicKey(settings.identityPublicKeyPem)
    : settings.identityJwksUrl
      ? createRemoteJWKSet(new URL(settings.identityJwksUrl))
      : null;
  if (key === null) return undefined;
  return createIdentityVerifier({
    roomId: settings.roomId,
    key,
    required: settings.identityRequired,
    onKeyError: (error) => onError?.(error, { connectionId: '-', action: 'join' }),
  });
}
