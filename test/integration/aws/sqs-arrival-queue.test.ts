import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  AcknowledgeError,
  createSqsArrivalQueue,
} from '../../../functions/adapters/aws/sqs-arrival-queue.ts';
import type { ReceivedArrival } from '../../../functions/core/ports.ts';
import '../../helpers/aws-sdk-env.ts';

const QUEUE_URL = 'https://sqs.eu-west-1.amazonaws.com/123456789012/arrivals.fifo';
const sqs = mockClient(SQSClient);

function createQueue(extra: Partial<Parameters<typeof createSqsArrivalQueue>[0]> = {}) {
  return createSqsArrivalQueue({
    client: new SQSClient({ region: 'eu-west-1' }),
    queueUrl: QUEUE_URL,
    roomId: 'test-room',
    ...extra,
  });
}

function message(sessionId: string, sequence: string, receipt = `rh-${sessionId}`): Message {
  return {
    MessageId: `m-${sessionId}`,
    ReceiptHandle: receipt,
    Body: JSON.stringify({ sessionId, joinedAt: 1000 }),
    Attributes: { SequenceNumber: sequence },
  };
}

function received(count: number): ReceivedArrival[] {
  return Array.from({ length: count }, (_, i) => ({
    sessionId: `s${i}`,
    joinedAt: 0,
    order: String(i).padStart(40, '0'),
    receipt: `rh-${i}`,
  }));
}

beforeEach(() => {
  sqs.reset();
});

describe('SQS FIFO arrival queue', () => {
  it("puts each arrival in the room's message group, deduplicated by session id", async () => {
    // Prepare
    sqs.on(SendMessageCommand).resolves({ MessageId: 'm1', SequenceNumber: '1' });
    const queue = createQueue();

    // Act
    await queue.enqueue({ sessionId: 's1', joinedAt: 1234 });

    // Assess
    expect(sqs.commandCalls(SendMessageCommand)[0]?.args[0].input).toEqual({
      QueueUrl: QUEUE_URL,
      MessageBody: JSON.stringify({ sessionId: 's1', joinedAt: 1234 }),
      MessageGroupId: 'test-room',
      MessageDeduplicationId: 's1',
    });
  });

  it('receives with the SequenceNumber, padded to 40 digits, as the order', async () => {
    // Prepare
    sqs.on(ReceiveMessageCommand).resolves({
      Messages: [message('s1', '18849496460467696128'), message('s2', '18849496460467696129')],
    });
    const queue = createQueue();

    // Act
    const arrivals = await queue.receive(10);

    // Assess
    expect(arrivals).toEqual([
      {
        sessionId: 's1',
        joinedAt: 1000,
        order: `${'0'.repeat(20)}18849496460467696128`,
        receipt: 'rh-s1',
      },
      {
        sessionId: 's2',
        joinedAt: 1000,
        order: `${'0'.repeat(20)}18849496460467696129`,
        receipt: 'rh-s2',
      },
    ]);
    const input = sqs.commandCalls(ReceiveMessageCommand)[0]?.args[0].input;
    expect(input).toMatchObject({
      QueueUrl: QUEUE_URL,
      MaxNumberOfMessages: 10,
      WaitTimeSeconds: 0,
      VisibilityTimeout: 20,
      MessageSystemAttributeNames: ['SequenceNumber'],
    });
  });

  it('orders arrivals as strings exactly as SQS numbered them', async () => {
    // Prepare: a shorter SequenceNumber is an earlier one.
    sqs.on(ReceiveMessageCommand).resolves({
      Messages: [message('early', '999'), message('late', '18849496460467696128')],
    });
    const queue = createQueue();

    // Act
    const [early, late] = await queue.receive(10);

    // Assess
    expect((early?.order ?? '') < (late?.order ?? '')).toBe(true);
  });

  it('asks for at most ten messages however many are wanted', async () => {
    // Prepare
    sqs.on(ReceiveMessageCommand).resolves({});
    const queue = createQueue();

    // Act
    await queue.receive(500);
    await queue.receive(3);

    // Assess
    const asked = sqs
      .commandCalls(ReceiveMessageCommand)
      .map((c) => c.args[0].input.MaxNumberOfMessages);
    expect(asked).toEqual([10, 3]);
  });

  it('answers an empty queue with no arrivals', async () => {
    // Prepare
    sqs.on(ReceiveMessageCommand).resolves({});
    const queue = createQueue();

    // Act
    const arrivals = await queue.receive(10);

    // Assess
    expect(arrivals).toEqual([]);
  });

  it('deletes a message that is not an arrival at once, so it cannot block the line', async () => {
    // Prepare
    sqs.on(ReceiveMessageCommand).resolves({
      Messages: [
        message('s1', '1'),
        {
          MessageId: 'junk',
          ReceiptHandle: 'rh-junk',
          Body: 'not json',
          Attributes: { SequenceNumber: '2' },
        },
        message('s3', '3'),
      ],
    });
    sqs.on(DeleteMessageBatchCommand).resolves({ Successful: [{ Id: '0' }] });
    const reasons: string[] = [];
    const queue = createQueue({ onMalformed: (_m, reason) => reasons.push(reason) });

    // Act
    const arrivals = await queue.receive(10);

    // Assess
    expect(arrivals.map((a) => a.sessionId)).toEqual(['s1', 's3']);
    expect(reasons).toEqual(['body is not JSON']);
    expect(sqs.commandCalls(DeleteMessageBatchCommand)[0]?.args[0].input.Entries).toEqual([
      { Id: '0', ReceiptHandle: 'rh-junk' },
    ]);
  });

  it('acknowledges in batches of at most ten', async () => {
    // Prepare
    sqs.on(DeleteMessageBatchCommand).resolves({});
    const queue = createQueue();

    // Act
    await queue.acknowledge(received(25));

    // Assess
    const batches = sqs
      .commandCalls(DeleteMessageBatchCommand)
      .map((c) => c.args[0].input.Entries?.map((e) => e.ReceiptHandle));
    expect(batches.map((b) => b?.length)).toEqual([10, 10, 5]);
    expect(batches.flat()).toEqual(received(25).map((a) => a.receipt));
  });

  it('retries once the deletions that failed on the SQS side', async () => {
    // Prepare
    sqs
      .on(DeleteMessageBatchCommand)
      .resolvesOnce({
        Successful: [{ Id: '0' }],
        Failed: [{ Id: '1', Code: 'InternalError', SenderFault: false }],
      })
      .resolves({ Successful: [{ Id: '1' }] });
    const queue = createQueue();

    // Act
    await queue.acknowledge(received(2));

    // Assess
    const calls = sqs.commandCalls(DeleteMessageBatchCommand);
    expect(calls).toHaveLength(2);
    expect(calls[1]?.args[0].input.Entries).toEqual([{ Id: '1', ReceiptHandle: 'rh-1' }]);
  });

  it('reports deletions that still fail after the retry', async () => {
    // Prepare
    sqs.on(DeleteMessageBatchCommand).resolves({
      Failed: [{ Id: '0', Code: 'InternalError', SenderFault: false }],
    });
    const queue = createQueue();

    // Act
    const acknowledging = queue.acknowledge(received(1));

    // Assess
    await expect(acknowledging).rejects.toBeInstanceOf(AcknowledgeError);
    expect(sqs.commandCalls(DeleteMessageBatchCommand)).toHaveLength(2);
  });

  it('does not retry a deletion refused as the sender fault, and reports it', async () => {
    // Prepare
    sqs.on(DeleteMessageBatchCommand).resolves({
      Failed: [{ Id: '0', Code: 'ReceiptHandleIsInvalid', SenderFault: true }],
    });
    const queue = createQueue();

    // Act
    const acknowledging = queue.acknowledge(received(1));

    // Assess
    await expect(acknowledging).rejects.toThrow('ReceiptHandleIsInvalid');
    expect(sqs.commandCalls(DeleteMessageBatchCommand)).toHaveLength(1);
  });

  it('counts queued and in-flight messages as its depth', async () => {
    // Prepare
    sqs.on(GetQueueAttributesCommand).resolves({
      Attributes: { ApproximateNumberOfMessages: '12', ApproximateNumberOfMessagesNotVisible: '3' },
    });
    const queue = createQueue();

    // Act
    const depth = await queue.approximateDepth();

    // Assess
    expect(depth).toBe(15);
  });
});
