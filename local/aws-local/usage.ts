/**
 * Counting what AWS would bill: every SDK call a Lambda function makes (by service and action),
 * DynamoDB request units from `ConsumedCapacity`, and, beside them, the Lambda invocations and
 * the API Gateway traffic the stand-ins see. Figures are plain objects so that they cross
 * process boundaries and land in reports as they are.
 */
import type { AwsFaults, FaultCounters } from './faults.ts';

/** SDK calls of one service, by action (`PutItem`, `Query`, `GetParameter`, ...). */
export type CallCounts = Record<string, number>;

export interface SdkUsage {
  dynamodb: {
    calls: CallCounts;
    /** Read request units (eventually consistent reads count half, as DynamoDB bills them). */
    readUnits: number;
    /** Write request units of the base table, failed conditional writes included. */
    writeUnits: number;
    /**
     * Write units on the `line` index (estimated: one per write that touches a waiting session;
     * the local DynamoDB does not report index capacity).
     */
    indexWriteUnits: number;
  };
  ssm: { calls: CallCounts };
  /** SQS calls by action; billed per request (a batch of up to 10 is one request). */
  sqs: { calls: CallCounts };
}

export interface LambdaUsage {
  invocations: number;
  /** Sum of the invocations' wall-clock durations. */
  durationMs: number;
  /** Billed GB-seconds: each invocation's duration rounded up to 1 ms, times its memory. */
  gbSeconds: number;
  errors: number;
  /**
   * Invocations dropped before they ran because nobody waited for the answer any more (the
   * visitor's socket closed while they waited for one of this machine's containers).
   */
  abandoned?: number;
  /**
   * Synchronous invocations refused at once because this machine's containers were too far
   * behind to answer them in time (the caller retries later).
   */
  shed?: number;
}

export interface ApiGatewayUsage {
  connections: number;
  /** Frames received from visitors (each an inbound message, each a Lambda invocation). */
  messagesIn: number;
  /** Messages delivered to visitors through `@connections` (postToConnection). */
  messagesOut: number;
  /** postToConnection calls, delivered or not (410 Gone, too large). */
  postToConnection: number;
  /** Connection minutes so far, open connections counted up to now. */
  connectionMinutes: number;
}

/** Everything counted in one aws-local room since it started. */
export interface AwsUsage {
  /** When the counting started and when this snapshot was taken (epoch ms). */
  since: number;
  at: number;
  sdk: Record<string, SdkUsage>;
  lambda: Record<string, LambdaUsage>;
  apiGateway: ApiGatewayUsage;
  /** The CloudWatch metrics each function published, summed. */
  metrics: Record<string, Record<string, number>>;
  processor: { ticks: number; invocations: number };
  /**
   * The AWS faults switched on (`WR_AWS_FAULTS`) and how often each struck, by kind (absent
   * from a room that plays none).
   */
  faults?: { on: AwsFaults; struck: FaultCounters };
}

export function emptySdkUsage(): SdkUsage {
  return {
    dynamodb: { calls: {}, readUnits: 0, writeUnits: 0, indexWriteUnits: 0 },
    ssm: { calls: {} },
    sqs: { calls: {} },
  };
}

const DYNAMO_READS = new Set(['GetItem', 'BatchGetItem', 'Query', 'Scan', 'TransactGetItems']);
const DYNAMO_WRITES = new Set([
  'PutItem',
  'UpdateItem',
  'DeleteItem',
  'BatchWriteItem',
  'TransactWriteItems',
]);
/** The attribute and value that put a session item in the `line` index. */
const LINE_ATTRIBUTE = 'line';
const WAITING = 'waiting';

interface CapacityEntry {
  CapacityUnits?: number;
}

/** The middleware interface of an SDK v3 client, as far as counting needs it. */
interface CountableClient {
  middlewareStack: {
    add(
      middleware: (
        next: (args: { input: object }) => Promise<{ output: object }>,
        context: { commandName?: string },
      ) => (args: { input: object }) => Promise<{ output: object }>,
      options: { step: 'initialize'; name: string; override?: boolean },
    ): void;
  };
}

/**
 * Counts every call made through `client` into `usage`. For DynamoDB it asks each call for its
 * `ConsumedCapacity` (TOTAL), which changes nothing else about the call.
 */
export function countCalls(client: unknown, service: keyof SdkUsage, usage: SdkUsage): void {
  (client as CountableClient).middlewareStack.add(
    (next, context) => async (args) => {
      const action = (context.commandName ?? 'Unknown').replace(/Command$/, '');
      const calls = usage[service].calls;
      calls[action] = (calls[action] ?? 0) + 1;
      if (service !== 'dynamodb') return next(args);
      const input = args.input as Record<string, unknown>;
      if (DYNAMO_READS.has(action) || DYNAMO_WRITES.has(action)) {
        input.ReturnConsumedCapacity ??= 'TOTAL';
      }
      const isWrite = DYNAMO_WRITES.has(action);
      try {
        const result = await next(args);
        const consumed = (result.output as { ConsumedCapacity?: CapacityEntry | CapacityEntry[] })
          .ConsumedCapacity;
        const units = [consumed ?? []].flat().reduce((sum, c) => sum + (c.CapacityUnits ?? 0), 0);
        if (isWrite) usage.dynamodb.writeUnits += units;
        else usage.dynamodb.readUnits += units;
        if (isWrite && touchesLine(input)) usage.dynamodb.indexWriteUnits += 1;
        return result;
      } catch (error) {
        // DynamoDB bills a write whose condition failed as a write.
        if (isWrite && (error as Error).name === 'ConditionalCheckFailedException') {
          usage.dynamodb.writeUnits += 1;
        }
        throw error;
      }
    },
    { step: 'initialize', name: `countCalls-${service}`, override: true },
  );
}

/** Whether a single-item write reads or sets the attributes that place a session in the line. */
function touchesLine(input: Record<string, unknown>): boolean {
  const names = Object.values((input.ExpressionAttributeNames as Record<string, string>) ?? {});
  const values = Object.values((input.ExpressionAttributeValues as Record<string, unknown>) ?? {});
  const item = (input.Item as Record<string, unknown>) ?? {};
  return names.includes(LINE_ATTRIBUTE) || values.includes(WAITING) || LINE_ATTRIBUTE in item;
}

/** Adds `b` into `a` (counts of the same shape). */
export function addSdkUsage(a: SdkUsage, b: SdkUsage): SdkUsage {
  const sum = emptySdkUsage();
  for (const service of ['dynamodb', 'ssm', 'sqs'] as const) {
    for (const source of [a, b]) {
      for (const [action, n] of Object.entries(source[service].calls)) {
        sum[service].calls[action] = (sum[service].calls[action] ?? 0) + n;
      }
    }
  }
  for (const key of ['readUnits', 'writeUnits', 'indexWriteUnits'] as const) {
    sum.dynamodb[key] = a.dynamodb[key] + b.dynamodb[key];
  }
  return sum;
}

/** Total calls of one service. */
export function totalCalls(calls: CallCounts): number {
  return Object.values(calls).reduce((sum, n) => sum + n, 0);
}
