/**
 * The shape of the room's DynamoDB table, as data: the one source of truth that the CDK app
 * deploys (`cdk/constructs/room-table.ts`) and that `npm run start:aws-local` and the tests create
 * locally, so a local table can never drift from the deployed one. Plain data only: no SDK, no
 * CDK.
 */
import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import { LINE_INDEX } from './dynamo-items.ts';

export interface KeyDefinition {
  partitionKey: string;
  sortKey: string;
}

/** Every key attribute of the table and its index is a string. */
export const ROOM_TABLE = {
  keys: { partitionKey: 'pk', sortKey: 'sk' } satisfies KeyDefinition,
  /** Items expire through this attribute (epoch seconds). */
  timeToLiveAttribute: 'ttl',
  /** The waiting line, in `seq` order: sparse, every attribute projected. */
  indexes: [
    {
      name: LINE_INDEX,
      keys: { partitionKey: 'line', sortKey: 'seq' } satisfies KeyDefinition,
      projection: 'ALL',
    },
  ],
} as const;

/** The table as a CreateTable request (on-demand billing, as deployed). */
export function createTableInput(TableName: string): CreateTableCommandInput {
  const keyAttributes = [ROOM_TABLE.keys, ...ROOM_TABLE.indexes.map((index) => index.keys)].flatMap(
    (k) => [k.partitionKey, k.sortKey],
  );
  return {
    TableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [...new Set(keyAttributes)].map((AttributeName) => ({
      AttributeName,
      AttributeType: 'S',
    })),
    KeySchema: keySchema(ROOM_TABLE.keys),
    GlobalSecondaryIndexes: ROOM_TABLE.indexes.map((index) => ({
      IndexName: index.name,
      KeySchema: keySchema(index.keys),
      Projection: { ProjectionType: index.projection },
    })),
  };
}

function keySchema(keys: KeyDefinition) {
  return [
    { AttributeName: keys.partitionKey, KeyType: 'HASH' as const },
    { AttributeName: keys.sortKey, KeyType: 'RANGE' as const },
  ];
}

/**
 * Memory and timeout of each Lambda function. The processor loops inside one invocation for
 * up to Lambda's 15 minutes and starts its successor itself; the schedule, every
 * `scheduleSeconds` (EventBridge), is only its watchdog: a scheduled run that finds the lease
 * held ends at once, and one that finds it free (nobody on duty) takes over.
 */
export const LAMBDA_FUNCTIONS = {
  visitorFacing: { memoryMb: 512, timeoutSeconds: 10 },
  processor: {
    memoryMb: 1024,
    timeoutSeconds: 900,
    scheduleSeconds: 60,
    /** An asynchronous start (a successor, a wake) older than this is dropped, not run late. */
    maxEventAgeSeconds: 60,
  },
} as const;

/**
 * The arrival queue (SQS FIFO in high-throughput mode) and its dead-letter queue, as data: the
 * CDK app deploys them (`cdk/stacks/waiting-room-stack.ts`), and `npm run start:aws-local` and
 * the tests create them on an SQS emulator from the same attributes.
 */
export const ARRIVAL_QUEUE = {
  /** Name suffix of the queue; the dead-letter queue's is {@link ARRIVAL_QUEUE.deadLetterSuffix}. */
  suffix: 'arrivals.fifo',
  deadLetterSuffix: 'arrivals-dlq.fifo',
  /** Deduplication and throughput per message group: high-throughput FIFO. */
  deduplicationScope: 'messageGroup',
  fifoThroughputLimit: 'perMessageGroupId',
  /** The session id is the deduplication id: content-based deduplication stays off. */
  contentBasedDeduplication: false,
  /** SQS's longest retention (14 days): outlives any launch and any processor outage. */
  retentionSeconds: 14 * 24 * 3600,
  /** The queue's default; the processor sets its own on each receive. */
  visibilityTimeoutSeconds: 30,
  /** Numbering is idempotent: an arrival received this often without being deleted is a bug. */
  maxReceiveCount: 5,
} as const;

/** The arrival queue's attributes as a CreateQueue request takes them. */
export function arrivalQueueAttributes(deadLetterQueueArn: string): Record<string, string> {
  return {
    FifoQueue: 'true',
    DeduplicationScope: ARRIVAL_QUEUE.deduplicationScope,
    FifoThroughputLimit: ARRIVAL_QUEUE.fifoThroughputLimit,
    ContentBasedDeduplication: String(ARRIVAL_QUEUE.contentBasedDeduplication),
    MessageRetentionPeriod: String(ARRIVAL_QUEUE.retentionSeconds),
    VisibilityTimeout: String(ARRIVAL_QUEUE.visibilityTimeoutSeconds),
    SqsManagedSseEnabled: 'true',
    RedrivePolicy: JSON.stringify({
      deadLetterTargetArn: deadLetterQueueArn,
      maxReceiveCount: ARRIVAL_QUEUE.maxReceiveCount,
    }),
  };
}

/** The dead-letter queue's attributes as a CreateQueue request takes them. */
export function deadLetterQueueAttributes(): Record<string, string> {
  return {
    FifoQueue: 'true',
    MessageRetentionPeriod: String(ARRIVAL_QUEUE.retentionSeconds),
    SqsManagedSseEnabled: 'true',
  };
}
