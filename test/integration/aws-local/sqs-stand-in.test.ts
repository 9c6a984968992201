import '../../helpers/aws-sdk-env.ts';
import {
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  AcknowledgeError,
  createSqsArrivalQueue,
} from '../../../functions/adapters/aws/sqs-arrival-queue.ts';
import { createArrivalQueues } from '../../../local/aws-local/sqs.ts';
import { type SqsStandIn, startSqsStandIn } from '../../../local/aws-local/sqs-stand-in.ts';

const ROOM = 'room-1';
const JOINED_AT = Date.UTC(2026, 10, 25, 12, 0, 0);

let standIn: SqsStandIn;
let client: SQSClient;
let queues: { arrivals: string; deadLetters: string };

beforeEach(async () => {
  standIn = await startSqsStandIn();
  client = new SQSClient({
    region: 'us-east-1',
    endpoint: standIn.url,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
  queues = await createArrivalQueues(client, ROOM);
});

afterEach(async () => {
  client.destroy();
  await standIn.close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function arrivalQueue(visibilityTimeoutSeconds = 20, queueUrl = queues.arrivals) {
  return createSqsArrivalQueue({ client, queueUrl, roomId: ROOM, visibilityTimeoutSeconds });
}

async function enqueueSessions(count: number, queue = arrivalQueue()) {
  for (let i = 0; i < count; i++) {
    await queue.enqueue({ sessionId: `s${i}`, joinedAt: JOINED_AT + i });
  }
}

async function createFifoQueue(QueueName: string, attributes: Record<string, string> = {}) {
  const { QueueUrl: url = '' } = await client.send(
    new CreateQueueCommand({ QueueName, Attributes: { FifoQueue: 'true', ...attributes } }),
  );
  const { Attributes = {} } = await client.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }),
  );
  return { url, arn: Attributes.QueueArn };
}

describe('SQS stand-in behind the arrival queue adapter', () => {
  it('returns arrivals in the order they were queued, with growing order', async () => {
    // Prepare
    const queue = arrivalQueue();
    await enqueueSessions(3, queue);

    // Act
    const received = await queue.receive(10);

    // Assess
    expect(received.map((a) => a.sessionId)).toEqual(['s0', 's1', 's2']);
    const orders = received.map((a) => a.order);
    expect([...orders].sort()).toEqual(orders);
    expect(new Set(orders).size).toBe(3);
  });

  it('keeps one message for a session id enqueued twice within the deduplication window', async () => {
    // Prepare
    const queue = arrivalQueue();
    await queue.enqueue({ sessionId: 's1', joinedAt: JOINED_AT });

    // Act
    await queue.enqueue({ sessionId: 's1', joinedAt: JOINED_AT + 500 });

    // Assess
    const received = await queue.receive(10);
    expect(received.map((a) => [a.sessionId, a.joinedAt])).toEqual([['s1', JOINED_AT]]);
  });

  it('returns up to ten messages of the one group from a single receive', async () => {
    // Prepare
    const queue = arrivalQueue();
    await enqueueSessions(12, queue);

    // Act
    const received = await queue.receive(50);

    // Assess
    expect(received.map((a) => a.sessionId)).toEqual(Array.from({ length: 10 }, (_, i) => `s${i}`));
  });

  it('holds back the whole group while a received batch is unacknowledged', async () => {
    // Prepare
    const queue = arrivalQueue(1);
    await enqueueSessions(2, queue);
    await queue.receive(10);
    await queue.enqueue({ sessionId: 'late', joinedAt: JOINED_AT + 10 });

    // Act
    const received = await queue.receive(10);

    // Assess
    expect(received).toEqual([]);
  });

  it('delivers an unacknowledged batch again with the same order once its visibility timeout passes', async () => {
    // Prepare
    const queue = arrivalQueue(1);
    await enqueueSessions(2, queue);
    const first = await queue.receive(10);
    await queue.enqueue({ sessionId: 'late', joinedAt: JOINED_AT + 10 });
    await sleep(1100);

    // Act
    const again = await queue.receive(10);

    // Assess
    expect(again.map((a) => a.sessionId)).toEqual(['s0', 's1', 'late']);
    expect(again.slice(0, 2).map((a) => a.order)).toEqual(first.map((a) => a.order));
  });

  it('keeps the group in order when the messages of a batch turn visible one by one', async () => {
    // Prepare
    const queue = arrivalQueue();
    await enqueueSessions(3, queue);
    const batch = await queue.receive(2);
    const showAgain = (ReceiptHandle = '') =>
      client.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: queues.arrivals,
          ReceiptHandle,
          VisibilityTimeout: 0,
        }),
      );

    // Act
    await showAgain(batch[0]?.receipt);
    await showAgain(batch[1]?.receipt);

    // Assess
    const again = await queue.receive(10);
    expect(again.map((a) => a.sessionId)).toEqual(['s0', 's1', 's2']);
  });

  it('moves a message received maxReceiveCount times to the dead-letter queue', async () => {
    // Prepare
    const dlq = await createFifoQueue('small-dead.fifo');
    const source = await createFifoQueue('small.fifo', {
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.arn, maxReceiveCount: 2 }),
    });
    await client.send(
      new SendMessageCommand({
        QueueUrl: source.url,
        MessageBody: 'poison',
        MessageGroupId: 'g',
        MessageDeduplicationId: 'p1',
      }),
    );
    const receive = (QueueUrl: string) =>
      client.send(new ReceiveMessageCommand({ QueueUrl, VisibilityTimeout: 0 }));
    await receive(source.url);
    await receive(source.url);

    // Act
    const third = await receive(source.url);

    // Assess
    expect(third.Messages).toBeUndefined();
    expect((await receive(dlq.url)).Messages?.map((m) => m.Body)).toEqual(['poison']);
  });

  it('reports a DeleteMessageBatch entry with an unknown receipt handle as failed', async () => {
    // Prepare
    await enqueueSessions(1);
    const [arrival] = await arrivalQueue().receive(1);

    // Act
    const result = await client.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queues.arrivals,
        Entries: [
          { Id: 'known', ReceiptHandle: arrival?.receipt },
          { Id: 'unknown', ReceiptHandle: 'bm90LWEtcmVjZWlwdA==' },
        ],
      }),
    );

    // Assess
    expect(result.Successful?.map((s) => s.Id)).toEqual(['known']);
    expect(result.Failed).toEqual([
      expect.objectContaining({ Id: 'unknown', Code: 'ReceiptHandleIsInvalid', SenderFault: true }),
    ]);
  });

  it('makes the adapter acknowledge throw AcknowledgeError for an unknown receipt handle', async () => {
    // Prepare
    const queue = arrivalQueue();
    const stale = { sessionId: 's0', joinedAt: JOINED_AT, order: '1', receipt: 'bm90LXJlYWw=' };

    // Act
    const acknowledging = queue.acknowledge([stale]);

    // Assess
    await expect(acknowledging).rejects.toBeInstanceOf(AcknowledgeError);
  });

  it('answers a long poll as soon as a message is sent', async () => {
    // Prepare
    const started = Date.now();
    const polling = client.send(
      new ReceiveMessageCommand({ QueueUrl: queues.arrivals, WaitTimeSeconds: 10 }),
    );
    while ((standIn.calls.get('ReceiveMessage') ?? 0) === 0) await sleep(10);

    // Act
    await enqueueSessions(1);

    // Assess
    const { Messages = [] } = await polling;
    expect(Messages.map((m) => JSON.parse(m.Body ?? '').sessionId)).toEqual(['s0']);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('counts visible and in-flight messages in the approximate depth', async () => {
    // Prepare
    const queue = arrivalQueue();
    await enqueueSessions(3, queue);
    await queue.receive(2);

    // Act
    const depth = await queue.approximateDepth();

    // Assess
    expect(depth).toBe(3);
  });

  it('refuses an unknown queue url with QueueDoesNotExist and changes nothing', async () => {
    // Prepare
    await enqueueSessions(1);
    const unknown = arrivalQueue(20, `${standIn.url}/000000000000/no-such-queue.fifo`);

    // Act
    const sending = unknown.enqueue({ sessionId: 's9', joinedAt: JOINED_AT });

    // Assess
    await expect(sending).rejects.toMatchObject({ name: 'QueueDoesNotExist' });
    expect(await arrivalQueue().approximateDepth()).toBe(1);
  });

  it('refuses a FIFO send without a MessageGroupId and queues nothing', async () => {
    // Prepare
    const message = { QueueUrl: queues.arrivals, MessageBody: '{}', MessageDeduplicationId: 'x' };

    // Act
    const sending = client.send(new SendMessageCommand(message));

    // Assess
    await expect(sending).rejects.toMatchObject({ name: 'MissingParameter' });
    expect(await arrivalQueue().approximateDepth()).toBe(0);
  });
});
