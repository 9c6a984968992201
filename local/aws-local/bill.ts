/**
 * From counted AWS calls to what a room costs: the difference of two usage snapshots, figures
 * per visitor and per tick, and dollars at public on-demand prices. Shared by `npm run simulate`,
 * `npm run bench` and docs/CAPACITY.md, so the three can never price a call differently.
 */
import { type AwsUsage, addSdkUsage, type SdkUsage, totalCalls } from './usage.ts';

/**
 * Public on-demand prices in us-east-1 (N. Virginia), as published on the services' pricing
 * pages (docs/CAPACITY.md cites each). Free tiers are left out: a launch is priced as if it paid
 * for every call.
 */
export const AWS_PRICES = {
  asOf: '2026-11-28',
  region: 'us-east-1',
  /** API Gateway WebSocket: per million messages (32 KB units), first billion a month. */
  apiGatewayMessage: 1.0 / 1e6,
  /** API Gateway WebSocket: per million connection minutes. */
  apiGatewayConnectionMinute: 0.25 / 1e6,
  /** Lambda: per request, and per GB-second on arm64 (the room's functions run on Graviton). */
  lambdaRequest: 0.2 / 1e6,
  lambdaGbSecondArm: 0.0000133334,
  /** DynamoDB on-demand: per write request unit and per read request unit. */
  dynamoWriteUnit: 0.625 / 1e6,
  dynamoReadUnit: 0.125 / 1e6,
  /** SSM standard parameters at standard throughput: no charge per call. */
  ssmStandardCall: 0,
  /** SQS FIFO: per million requests (64 KB chunks; a batch of up to 10 is one request). */
  sqsFifoRequest: 0.5 / 1e6,
} as const;

/** Counts that scale with visitors or ticks, in the units AWS bills. */
export interface BillableCounts {
  apiMessages: number;
  connectionMinutes: number;
  postToConnection: number;
  lambdaInvocations: number;
  lambdaGbSeconds: number;
  dynamoCalls: number;
  dynamoReadUnits: number;
  /** Base table and index write units together. */
  dynamoWriteUnits: number;
  ssmCalls: number;
  /** SQS requests (SendMessage, ReceiveMessage, DeleteMessageBatch...). */
  sqsRequests: number;
}

const ZERO: BillableCounts = {
  apiMessages: 0,
  connectionMinutes: 0,
  postToConnection: 0,
  lambdaInvocations: 0,
  lambdaGbSeconds: 0,
  dynamoCalls: 0,
  dynamoReadUnits: 0,
  dynamoWriteUnits: 0,
  ssmCalls: 0,
  sqsRequests: 0,
};

/** What happened between two snapshots of one room (`after` taken later). */
export function usageBetween(before: AwsUsage, after: AwsUsage): AwsUsage {
  const minus = (a: SdkUsage, b: SdkUsage): SdkUsage => {
    const negated: SdkUsage = {
      dynamodb: {
        calls: negate(b.dynamodb.calls),
        readUnits: -b.dynamodb.readUnits,
        writeUnits: -b.dynamodb.writeUnits,
        indexWriteUnits: -b.dynamodb.indexWriteUnits,
      },
      ssm: { calls: negate(b.ssm.calls) },
      sqs: { calls: negate(b.sqs.calls) },
    };
    return addSdkUsage(a, negated);
  };
  const sdk: AwsUsage['sdk'] = {};
  for (const [name, usage] of Object.entries(after.sdk)) {
    const earlier = before.sdk[name];
    sdk[name] = earlier ? minus(usage, earlier) : usage;
  }
  const lambda: AwsUsage['lambda'] = {};
  for (const [name, usage] of Object.entries(after.lambda)) {
    const earlier = before.lambda[name];
    lambda[name] = {
      invocations: usage.invocations - (earlier?.invocations ?? 0),
      durationMs: usage.durationMs - (earlier?.durationMs ?? 0),
      gbSeconds: usage.gbSeconds - (earlier?.gbSeconds ?? 0),
      errors: usage.errors - (earlier?.errors ?? 0),
      abandoned: (usage.abandoned ?? 0) - (earlier?.abandoned ?? 0),
      shed: (usage.shed ?? 0) - (earlier?.shed ?? 0),
    };
  }
  const metrics: AwsUsage['metrics'] = {};
  for (const [name, values] of Object.entries(after.metrics)) {
    metrics[name] = Object.fromEntries(
      Object.entries(values).map(([k, v]) => [k, v - (before.metrics[name]?.[k] ?? 0)]),
    );
  }
  const api = after.apiGateway;
  const earlierApi = before.apiGateway;
  return {
    since: before.at,
    at: after.at,
    sdk,
    lambda,
    metrics,
    apiGateway: {
      connections: api.connections - earlierApi.connections,
      messagesIn: api.messagesIn - earlierApi.messagesIn,
      messagesOut: api.messagesOut - earlierApi.messagesOut,
      postToConnection: api.postToConnection - earlierApi.postToConnection,
      connectionMinutes: api.connectionMinutes - earlierApi.connectionMinutes,
    },
    processor: {
      invocations: after.processor.invocations - before.processor.invocations,
      ticks: after.processor.ticks - before.processor.ticks,
    },
    ...(after.faults
      ? {
          faults: {
            on: after.faults.on,
            struck: Object.fromEntries(
              Object.entries(after.faults.struck).map(([k, v]) => [
                k,
                v - (before.faults?.struck[k] ?? 0),
              ]),
            ),
          },
        }
      : {}),
  };
}

function negate(calls: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(calls).map(([k, v]) => [k, -v]));
}

/**
 * The billable counts of some functions in a usage delta, with API Gateway's figures for the
 * whole room (callers that price the processor alone set those to zero).
 */
export function billableCounts(usage: AwsUsage, functions: readonly string[]): BillableCounts {
  const counts = { ...ZERO };
  for (const name of functions) {
    const sdk = usage.sdk[name];
    const lambda = usage.lambda[name];
    if (sdk) {
      counts.dynamoCalls += totalCalls(sdk.dynamodb.calls);
      counts.dynamoReadUnits += sdk.dynamodb.readUnits;
      counts.dynamoWriteUnits += sdk.dynamodb.writeUnits + sdk.dynamodb.indexWriteUnits;
      counts.ssmCalls += totalCalls(sdk.ssm.calls);
      counts.sqsRequests += totalCalls(sdk.sqs?.calls ?? {});
    }
    if (lambda) {
      counts.lambdaInvocations += lambda.invocations;
      counts.lambdaGbSeconds += lambda.gbSeconds;
    }
  }
  const api = usage.apiGateway;
  counts.apiMessages = api.messagesIn + api.messagesOut;
  counts.connectionMinutes = api.connectionMinutes;
  counts.postToConnection = api.postToConnection;
  return counts;
}

/** The functions a visitor's own frames run. */
export const VISITOR_FUNCTIONS = ['connect', 'disconnect', 'message'] as const;

export function scaleCounts(counts: BillableCounts, factor: number): BillableCounts {
  return Object.fromEntries(
    Object.entries(counts).map(([k, v]) => [k, v * factor]),
  ) as unknown as BillableCounts;
}

export function subtractCounts(a: BillableCounts, b: BillableCounts): BillableCounts {
  return Object.fromEntries(
    Object.entries(a).map(([k, v]) => [k, v - b[k as keyof BillableCounts]]),
  ) as unknown as BillableCounts;
}

/** Dollars by service for some counts, at {@link AWS_PRICES}. */
export function dollarsFor(counts: BillableCounts) {
  const p = AWS_PRICES;
  const byService = {
    apiGateway:
      counts.apiMessages * p.apiGatewayMessage +
      counts.connectionMinutes * p.apiGatewayConnectionMinute,
    lambda:
      counts.lambdaInvocations * p.lambdaRequest + counts.lambdaGbSeconds * p.lambdaGbSecondArm,
    dynamodb:
      counts.dynamoReadUnits * p.dynamoReadUnit + counts.dynamoWriteUnits * p.dynamoWriteUnit,
    ssm: counts.ssmCalls * p.ssmStandardCall,
    sqs: counts.sqsRequests * p.sqsFifoRequest,
  };
  const total = Object.values(byService).reduce((a, b) => a + b, 0);
  return { total, byService };
}

/** What a run cost, split into what the visitors caused and what the ticks cost anyway. */
export interface UsageSummary {
  visitors: number;
  ticks: number;
  seconds: number;
  /** Everything the visitors' frames and the processor's work for them cost, per visitor. */
  perVisitor: BillableCounts;
  /** The processor's calls per tick (its share of the per-visitor figures included). */
  perTick: BillableCounts;
  /** Dollars per 100,000 visitors like these, at {@link AWS_PRICES}. */
  per100kVisitors: ReturnType<typeof dollarsFor>;
}

/**
 * Summarizes a usage delta over `visitors`. With `idlePerTick` (the processor's calls per tick
 * with nobody waiting, measured in the same run), the processor's fixed cost is taken out of the
 * per-visitor figures; its Lambda time is always fixed cost (it runs whether or not anyone waits).
 */
export function summarizeUsage(
  usage: AwsUsage,
  visitors: number,
  idlePerTick?: BillableCounts,
): UsageSummary {
  const ticks = usage.processor.ticks;
  const visitorSide = billableCounts(usage, VISITOR_FUNCTIONS);
  const processor = billableCounts(usage, ['processor']);
  const processorForVisitors = {
    ...subtractCounts(processor, idlePerTick ? scaleCounts(idlePerTick, ticks) : ZERO),
    lambdaInvocations: 0,
    lambdaGbSeconds: 0,
    apiMessages: 0,
    connectionMinutes: 0,
    postToConnection: 0,
  };
  const total = {
    ...visitorSide,
    dynamoCalls: visitorSide.dynamoCalls + processorForVisitors.dynamoCalls,
    dynamoReadUnits: visitorSide.dynamoReadUnits + processorForVisitors.dynamoReadUnits,
    dynamoWriteUnits: visitorSide.dynamoWriteUnits + processorForVisitors.dynamoWriteUnits,
    ssmCalls: visitorSide.ssmCalls + processorForVisitors.ssmCalls,
    sqsRequests: visitorSide.sqsRequests + processorForVisitors.sqsRequests,
  };
  // Taking the idle ticks out can dip below zero on a noisy run: nothing costs less than nothing.
  const perVisitor = scaleCounts(clampAtZero(total), visitors > 0 ? 1 / visitors : 0);
  const perTickCounts = processorCountsPerTick(usage);
  return {
    visitors,
    ticks,
    seconds: (usage.at - usage.since) / 1000,
    perVisitor,
    perTick: perTickCounts,
    per100kVisitors: dollarsFor(scaleCounts(perVisitor, 100_000)),
  };
}

function clampAtZero(counts: BillableCounts): BillableCounts {
  return Object.fromEntries(
    Object.entries(counts).map(([k, v]) => [k, Math.max(0, v)]),
  ) as unknown as BillableCounts;
}

/**
 * The processor's billable counts per tick (API Gateway's traffic is the visitors'). Measured with
 * nobody waiting, they are the room's fixed cost.
 */
export function processorCountsPerTick(usage: AwsUsage): BillableCounts {
  const processor = billableCounts(usage, ['processor']);
  const ticks = usage.processor.ticks;
  return scaleCounts(
    { ...processor, apiMessages: 0, connectionMinutes: 0, postToConnection: 0 },
    ticks > 0 ? 1 / ticks : 0,
  );
}
