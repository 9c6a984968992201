/**
 * A whole room on the in-process adapters with a manual clock and a recording notifier: the
 * core exactly as the runtimes wire it, driven step by step by a test.
 */
import { MemoryArrivalQueue } from '../../functions/adapters/local/memory-arrival-queue.ts';
import { MemoryConfigSource } from '../../functions/adapters/local/memory-config.ts';
import { MemorySessionStore } from '../../functions/adapters/local/memory-session-store.ts';
import type {
  ArrivalQueue,
  Clock,
  Delivery,
  Notifier,
  RoomConfig,
  SessionStore,
} from '../../functions/core/ports.ts';
import {
  DEFAULT_PROCESSOR_SETTINGS,
  forgetLine,
  type ProcessorDeps,
  runTick,
} from '../../functions/core/processor.ts';
import type { ServerMessage } from '../../functions/core/protocol.ts';
import {
  createSigner,
  generateSigningKey,
  jwksOf,
  type SigningKey,
} from '../../functions/core/tokens.ts';
import { handleDisconnect, handleFrame, type RouterDeps } from '../../functions/router.ts';

export const MAIN_ORIGIN = 'https://shop.example.com';
export const ROOM_ID = 'test-room';

export class ManualClock implements Clock {
  constructor(public time = Date.UTC(2026, 10, 25, 12, 0, 0)) {}
  now(): number {
    return this.time;
  }
  advance(ms: number): void {
    this.time += ms;
  }
}

/** Records every push; connections in `gone` answer like a 410 from API Gateway. */
export class RecordingNotifier implements Notifier {
  readonly sent = new Map<string, ServerMessage[]>();
  readonly gone = new Set<string>();
  failNext = 0;

  async send(connectionId: string, message: ServerMessage): Promise<Delivery> {
    if (this.failNext > 0) {
      this.failNext -= 1;
      throw new Error('throttled');
    }
    if (this.gone.has(connectionId)) return 'gone';
    const list = this.sent.get(connectionId) ?? [];
    list.push(message);
    this.sent.set(connectionId, list);
    return 'sent';
  }

  messages(connectionId: string): ServerMessage[] {
    return this.sent.get(connectionId) ?? [];
  }
}

let sharedKey: Promise<SigningKey> | undefined;
/** One key per test file: generating keys is the slowest part of a room. */
export function testKey(): Promise<SigningKey> {
  sharedKey ??= generateSigningKey();
  return sharedKey;
}

export interface HarnessOptions {
  config?: Partial<RoomConfig>;
  tickMs?: number;
  abandonAfterMs?: number;
  passTtlSeconds?: number;
  /** The room's clock (a restarted room goes on from its predecessor's time). */
  clock?: ManualClock;
  /** Session ids are this and a counter (a restarted room must not reuse its predecessor's). */
  idPrefix?: string;
}

/** The store and queue a harness runs on; the in-process ones unless a test brings others. */
export type HarnessData = (clock: ManualClock) => { store: SessionStore; queue: ArrivalQueue };

const inMemory: HarnessData = (clock) => ({
  store: new MemorySessionStore(clock),
  queue: new MemoryArrivalQueue(clock),
});

export async function createHarness(options: HarnessOptions = {}, data: HarnessData = inMemory) {
  const clock = options.clock ?? new ManualClock();
  const key = await testKey();
  const { store, queue } = data(clock);
  const config = new MemoryConfigSource({ enabled: true, admitPerMinute: 60, ...options.config });
  const notifier = new RecordingNotifier();
  const signer = createSigner({
    key,
    roomId: ROOM_ID,
    mainOrigin: MAIN_ORIGIN,
    passTtlSeconds: options.passTtlSeconds ?? 1200,
  });
  let ids = 0;
  const router: RouterDeps = {
    store,
    queue,
    config,
    signer,
    clock,
    mainOrigin: MAIN_ORIGIN,
    newId: () => `${options.idPrefix ?? 's'}${String(++ids).padStart(6, '0')}`,
  };
  const tickMs = options.tickMs ?? 1000;
  const processor: ProcessorDeps = {
    store,
    queue,
    config,
    notifier,
    signer,
    clock,
    settings: {
      ...DEFAULT_PROCESSOR_SETTINGS,
      mainOrigin: MAIN_ORIGIN,
      tickMs,
      abandonAfterMs: options.abandonAfterMs ?? 120_000,
    },
    memory: forgetLine(),
  };
  return {
    clock,
    key,
    jwks: jwksOf([key]),
    store,
    queue,
    config,
    notifier,
    router,
    processor,
    /** Sends one frame from a connection and returns the direct replies. */
    send(connectionId: string, frame: unknown): Promise<ServerMessage[]> {
      const text = typeof frame === 'string' ? frame : JSON.stringify(frame);
      return handleFrame(router, connectionId, text);
    },
    disconnect(connectionId: string): Promise<void> {
      notifier.gone.add(connectionId);
      return handleDisconnect(router, connectionId);
    },
    /** Advances the clock by one tick and runs it. */
    async tick() {
      clock.advance(tickMs);
      return runTick(processor);
    },
  };
}

export type Harness = Awaited<ReturnType<typeof createHarness>>;

/** The `joined` reply among `replies`, or a thrown error naming what came instead. */
export function joinedOf(replies: ServerMessage[]) {
  const joined = replies.find((m) => m.type === 'joined');
  if (joined?.type !== 'joined') {
    throw new Error(`expected joined, got ${JSON.stringify(replies)}`);
  }
  return joined;
}
