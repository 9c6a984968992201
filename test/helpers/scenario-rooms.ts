/**
 * The room kinds the scenario tests run on: the in-process adapters, the same kept on disk, and
 * the AWS adapters on dynalite and fauxqs (`aws-harness.ts`). If a behaviour differs between them, it is a
 * bug in an adapter.
 */
import type { ArrivalQueue, RoomConfig, SessionStore } from '../../functions/core/ports.ts';
import type { ProcessorDeps, TickReport } from '../../functions/core/processor.ts';
import type { ServerMessage } from '../../functions/core/protocol.ts';
import type { verifierFor } from '../../functions/core/tokens.ts';
import { createAwsHarness } from './aws-harness.ts';
import type { AwsStandIns } from './aws-stand-ins.ts';
import { createDurableHarness } from './durable-harness.ts';
import { createHarness, type HarnessOptions, joinedOf, type ManualClock } from './room-harness.ts';

/** What the scenarios use of a room; every harness has this shape. */
export interface ScenarioRoom {
  clock: ManualClock;
  jwks: Parameters<typeof verifierFor>[0];
  store: SessionStore;
  queue: ArrivalQueue;
  config: { set(change: Partial<RoomConfig>): unknown };
  notifier: {
    gone: Set<string>;
    failNext: number;
    messages(connectionId: string): ServerMessage[];
  };
  processor: ProcessorDeps;
  send(connectionId: string, frame: unknown): Promise<ServerMessage[]>;
  disconnect(connectionId: string): Promise<void>;
  tick(): Promise<TickReport>;
}

/**
 * Each room kind, named, with a way to make one; `db` is the file's dynalite (started in its
 * `beforeAll`, so read when a room is made). Rooms kept on disk are removed by
 * `removeDurableRooms` after each test.
 */
export function roomKinds(
  db: () => AwsStandIns,
): [string, (options?: HarnessOptions) => Promise<ScenarioRoom>][] {
  return [
    ['in-process adapters', (options) => createHarness(options)],
    ['in-process adapters kept on disk', (options) => createDurableHarness(options)],
    ['AWS adapters', (options) => createAwsHarness(db(), options)],
  ];
}

/** `count` visitors join, on connections `<prefix>0`, `<prefix>1`...; their session ids. */
export async function joinMany(
  room: Pick<ScenarioRoom, 'send'>,
  count: number,
  prefix = 'c',
): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    ids.push(joinedOf(await room.send(`${prefix}${i}`, { action: 'join' })).sessionId);
  }
  return ids;
}

/** The last message of `type` pushed to a connection. */
export function lastOfType<T extends ServerMessage['type']>(
  room: Pick<ScenarioRoom, 'notifier'>,
  connectionId: string,
  type: T,
) {
  return room.notifier
    .messages(connectionId)
    .filter((m): m is Extract<ServerMessage, { type: T }> => m.type === type)
    .at(-1);
}
