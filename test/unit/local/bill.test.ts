/**
 * From counted AWS calls to a bill (`local/aws-local/bill.ts`): what the visitors cost, the
 * processor's share of it, and SQS priced per request.
 */
import { describe, expect, it } from 'vitest';
import {
  AWS_PRICES,
  dollarsFor,
  summarizeUsage,
  usageBetween,
} from '../../../local/aws-local/bill.ts';
import { type AwsUsage, emptySdkUsage } from '../../../local/aws-local/usage.ts';

function usage(at: number, sqs: { message: number; processor: number }, ticks: number): AwsUsage {
  const message = emptySdkUsage();
  message.sqs.calls.SendMessage = sqs.message;
  const processor = emptySdkUsage();
  processor.sqs.calls.ReceiveMessage = sqs.processor / 2;
  processor.sqs.calls.DeleteMessageBatch = sqs.processor / 2;
  return {
    since: 0,
    at,
    sdk: { message, processor },
    lambda: {},
    apiGateway: {
      connections: 0,
      messagesIn: 0,
      messagesOut: 0,
      postToConnection: 0,
      connectionMinutes: 0,
    },
    metrics: {},
    processor: { ticks, invocations: 1 },
  };
}

describe('the bill of a run', () => {
  it("counts the join's sends and the processor's receives and deletes per visitor", () => {
    // Prepare: 100 visitors, one send each; 40 processor requests over 10 ticks, of which an
    // idle tick costs one.
    const before = usage(0, { message: 0, processor: 0 }, 0);
    const after = usage(10_000, { message: 100, processor: 40 }, 10);
    const idlePerTick = {
      ...summarizeUsage(usageBetween(before, before), 1).perTick,
      sqsRequests: 1,
    };

    // Act
    const summary = summarizeUsage(usageBetween(before, after), 100, idlePerTick);

    // Assess: (100 + 40 - 10) / 100.
    expect(summary.perVisitor.sqsRequests).toBeCloseTo(1.3);
    expect(summary.per100kVisitors.byService.sqs).toBeCloseTo(
      1.3 * 100_000 * AWS_PRICES.sqsFifoRequest,
    );
  });

  it('prices SQS FIFO requests at $0.50 a million', () => {
    // Act
    const { byService } = dollarsFor({
      ...summarizeUsage(usage(0, { message: 0, processor: 0 }, 0), 1).perVisitor,
      sqsRequests: 2_000_000,
    });

    // Assess
    expect(byService.sqs).toBeCloseTo(1);
  });
});
