/**
 * What a processor tick reads and writes in DynamoDB as the line grows: the real DynamoDB store
 * over dynalite, N sessions waiting and connected, one admission a tick, the AWS fan-out budget.
 * The first tick is a takeover (it reads the whole line); the steady ticks after it keep the
 * line in memory, so their reads and writes follow the budget and the admissions, not N.
 */
import { BatchWriteCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { toSessionItem } from '../../functions/adapters/aws/dynamo-items.ts';
import { createDynamoSessionStore } from '../../functions/adapters/aws/dynamo-session-store.ts';
import { MemoryArrivalQueue } from '../../functions/adapters/local/memory-arrival-queue.ts';
import { MemoryConfigSource } from '../../functions/adapters/local/memory-config.ts';
import { createProcessLease } from '../../functions/adapters/local/process-lease.ts';
import { systemClock } from '../../functions/adapters/local/system-clock.ts';
import type { Clock, Delivery, Notifier } from '../../functions/core/ports.ts';
import {
  DEFAULT_PROCESSOR_SETTINGS,
  forgetLine,
  type ProcessorDeps,
  runLoopTick,
  runTick,
} from '../../functions/core/processor.ts';
import { runProcessorLoop } from '../../functions/core/processor-loop.ts';
import { newSession } from '../../functions/core/session.ts';
import { createSigner, generateSigningKey } from '../../functions/core/tokens.ts';
import {
  ensureRoomTable,
  localDynamoClient,
  startLocalDynamo,
} from '../../local/aws-local/dynamo.ts';
import {
  countCalls,
  emptySdkUsage,
  type SdkUsage,
  totalCalls,
} from '../../local/aws-local/usage.ts';

export interface DynamoTickResult {
  waiting: number;
  takeover: { calls: number; readUnits: number };
  /** Per steady tick (mean). */
  steady: { calls: number; readUnits: number; writeUnits: number; positionsSent: number };
}

const ROOM = 'bench';

/**
 * A room on the real DynamoDB store over dynalite with `waiting` numbered, announced sessions,
 * every DynamoDB call counted, pushes to a notifier that only counts, and `clock`'s time.
 */
async function seedRoom(waiting: number, clock: Clock, admitPerMinute: number) {
  const dynamo = await startLocalDynamo(null);
  const raw = localDynamoClient(dynamo.endpoint);
  const TableName = `bench-${waiting}`;
  await ensureRoomTable(raw, TableName);
  const usage: SdkUsage = emptySdkUsage();
  const client = DynamoDBDocumentClient.from(raw, {
    marshallOptions: { removeUndefinedValues: true },
  });
  const at = clock.now();
  const items = Array.from({ length: waiting }, (_, i) => {
    const session = {
      ...newSession(`s${i}`, `c${i}`, '/', at),
      state: 'waiting' as const,
      seq: String(i + 1).padStart(20, '0'),
    };
    return { ...toSessionItem(session, ROOM), announced: `c${i}` };
  });
  for (let i = 0; i < items.length; i += 25) {
    await client.send(
      new BatchWriteCommand({
        RequestItems: {
          [TableName]: items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })),
        },
      }),
    );
  }
  countCalls(raw, 'dynamodb', usage);
  const pushes = { sent: 0 };
  const notifier: Notifier = {
    async send(): Promise<Delivery> {
      pushes.sent += 1;
      return 'sent';
    },
  };
  const deps: ProcessorDeps = {
    store: createDynamoSessionStore({ client, tableName: TableName, roomId: ROOM, clock }),
    queue: new MemoryArrivalQueue(clock),
    notifier,
    clock,
    config: new MemoryConfigSource({ enabled: true, admitPerMinute }),
    signer: createSigner({
      key: await generateSigningKey(),
      roomId: ROOM,
      mainOrigin: 'https://shop.example.com',
      passTtlSeconds: 600,
    }),
    settings: {
      ...DEFAULT_PROCESSOR_SETTINGS,
      mainOrigin: 'https://shop.example.com',
      // The AWS default: 5,000 pushes a second.
      positionBudgetPerSecond: 5000,
    },
    memory: forgetLine(),
  };
  return { deps, usage, pushes, close: () => dynamo.close() };
}

/** Seeds `waiting` numbered, announced sessions and measures one takeover and `ticks` steady ticks. */
export async function benchDynamoTick(waiting: number, ticks = 5): Promise<DynamoTickResult> {
  let time = Date.UTC(2026, 0, 1);
  const clock: Clock = { now: () => time };
  const room = await seedRoom(waiting, clock, 60);
  try {
    const { deps, usage, pushes } = room;
    const snapshot = () => ({
      calls: totalCalls(usage.dynamodb.calls),
      readUnits: usage.dynamodb.readUnits,
      writeUnits: usage.dynamodb.writeUnits,
    });
    time += 10_000;
    const before = snapshot();
    await runTick(deps);
    const afterTakeover = snapshot();
    pushes.sent = 0;
    for (let i = 0; i < ticks; i++) {
      time += 1000;
      await runTick(deps);
    }
    const after = snapshot();
    return {
      waiting,
      takeover: {
        calls: afterTakeover.calls - before.calls,
        readUnits: afterTakeover.readUnits - before.readUnits,
      },
      steady: {
        calls: (after.calls - afterTakeover.calls) / ticks,
        readUnits: (after.readUnits - afterTakeover.readUnits) / ticks,
        writeUnits: (after.writeUnits - afterTakeover.writeUnits) / ticks,
        positionsSent: pushes.sent / ticks,
      },
    };
  } finally {
    await room.close();
  }
}

export interface DynamoRateResult {
  waiting: number;
  admitPerMinute: number;
  seconds: number;
  admitted: number;
  /** Admitted over what the rate allows in `seconds`. */
  ratio: number;
  ticks: number;
  /** Mean and longest tick, in ms. */
  meanTickMs: number;
  maxTickMs: number;
}

/**
 * The admission rate kept over a minute of real time with `waiting` in line on the DynamoDB
 * store over dynalite: the processor's own loop (1 s ticks on a fixed grid, the token bucket
 * holding one tick), so a tick slower than its second shows as admissions lost.
 */
export async function benchDynamoRate(
  waiting: number,
  admitPerMinute: number,
  seconds = 60,
): Promise<DynamoRateResult> {
  const room = await seedRoom(waiting, systemClock, admitPerMinute);
  try {
    const { deps } = room;
    // The takeover first (it reads the line), then a measured minute of steady ticks.
    await runTick(deps);
    const startedAt = systemClock.now();
    const durations: number[] = [];
    let admitted = 0;
    let tickStartedAt = startedAt;
    await runProcessorLoop({
      lease: createProcessLease(),
      clock: systemClock,
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      tick: async (_takenOver, stillHeld) => {
        tickStartedAt = systemClock.now();
        return runLoopTick(deps, false, stillHeld);
      },
      tickMs: 1000,
      leaseMs: 15_000,
      deadline: startedAt + seconds * 1000,
      onTick: (report) => {
        durations.push(systemClock.now() - tickStartedAt);
        admitted += report.admitted.length;
      },
    });
    return {
      waiting,
      admitPerMinute,
      seconds,
      admitted,
      // One tick a second for `seconds`: each may admit a second's worth.
      ratio: admitted / ((admitPerMinute * seconds) / 60),
      ticks: durations.length,
      meanTickMs: durations.reduce((a, b) => a + b, 0) / Math.max(1, durations.length),
      maxTickMs: Math.max(0, ...durations),
    };
  } finally {
    await room.close();
  }
}
