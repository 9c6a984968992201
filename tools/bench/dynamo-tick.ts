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
import type { Clock, Delivery, Notifier } from '../../functions/core/ports.ts';
import { DEFAULT_PROCESSOR_SETTINGS, forgetLine, runTick } from '../../functions/core/processor.ts';
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

/** Seeds `waiting` numbered, announced sessions and measures one takeover and `ticks` steady ticks. */
export async function benchDynamoTick(waiting: number, ticks = 5): Promise<DynamoTickResult> {
  const dynamo = await startLocalDynamo(null);
  try {
    const raw = localDynamoClient(dynamo.endpoint);
    const TableName = `bench-${waiting}`;
    await ensureRoomTable(raw, TableName);
    const usage: SdkUsage = emptySdkUsage();
    const client = DynamoDBDocumentClient.from(raw, {
      marshallOptions: { removeUndefinedValues: true },
    });
    let time = Date.UTC(2026, 0, 1);
    const clock: Clock = { now: () => time };
    const items = Array.from({ length: waiting }, (_, i) => {
      const session = {
        ...newSession(`s${i}`, `c${i}`, '/', time),
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
    let sent = 0;
    const notifier: Notifier = {
      async send(): Promise<Delivery> {
        sent += 1;
        return 'sent';
      },
    };
    const deps = {
      store: createDynamoSessionStore({ client, tableName: TableName, roomId: ROOM, clock }),
      queue: new MemoryArrivalQueue(clock),
      notifier,
      clock,
      config: new MemoryConfigSource({ enabled: true, admitPerMinute: 60 }),
      signer: createSigner({
        key: await generateSigningKey(),
        roomId: ROOM,
        mainOrigin: 'https://shop.example.com',
        passTtlSeconds: 600,
      }),
      settings: {
        ...DEFAULT_PROCESSOR_SETTINGS,
        mainOrigin: 'https://shop.example.com',
        // The AWS defaults: 5,000 pushes a second, 1 MB pages.
        positionBudgetPerSecond: 5000,
      },
      memory: forgetLine(),
    };
    const snapshot = () => ({
      calls: totalCalls(usage.dynamodb.calls),
      readUnits: usage.dynamodb.readUnits,
      writeUnits: usage.dynamodb.writeUnits,
    });
    time += 10_000;
    const before = snapshot();
    await runTick(deps);
    const afterTakeover = snapshot();
    sent = 0;
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
        positionsSent: sent / ticks,
      },
    };
  } finally {
    await dynamo.close();
  }
}
