/**
 * SQS FIFO's throughput quota (`WR_AWS_FAULTS=sqs-rate`): the proxy in front of fauxqs, through
 * the real SDK client and the room's arrival queue. Over the quota SQS's answer; within it every
 * request and answer unchanged; the functions' retries getting through.
 */
import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  createSqsArrivalQueue,
  type SqsArrivalQueue,
} from '../../../functions/adapters/aws/sqs-arrival-queue.ts';
import type { ReceivedArrival } from '../../../functions/core/ports.ts';
import type { FaultCounters } from '../../../local/aws-local/faults.ts';
import { localSqsClient } from '../../../local/aws-local/sqs.ts';
import { type SqsFaultsProxy, startSqsFaultsProxy } from '../../../local/aws-local/sqs-faults.ts';
import { type Fauxqs, startFauxqsForTests } from '../../helpers/aws-fauxqs.ts';

let sqs: Fauxqs;
let proxy: SqsFaultsProxy | undefined;
const clients: SQSClient[] = [];

beforeAll(async () => {
  sqs = await startFauxqsForTests();
});
afterAll(async () => {
  await sqs.close();
});
afterEach(async () => {
  for (const client of clients.splice(0)) client.destroy();
  await proxy?.close();
  proxy = undefined;
});

/** A fresh arrival queue behind a proxy at `rate`, on a stopped clock unless `realClock`. */
async function throttledQueue(rate: number, { realClock = false, maxAttempts = 1 } = {}) {
  let now = 0;
  const counters: FaultCounters = {};
  const { queueUrl } = await sqs.createQueues();
  proxy = await startSqsFaultsProxy({
    target: sqs.endpoint,
    rate,
    counters,
    ...(realClock ? {} : { now: () => now }),
  });
  const client = localSqsClient(proxy.endpoint, maxAttempts);
  clients.push(client);
  return {
    client,
    counters,
    // The SDK sends a call to its QueueUrl's host: the URL the functions get is the proxy's.
    QueueUrl: `${proxy.endpoint}${new URL(queueUrl).pathname}`,
    directUrl: queueUrl,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

const send = (QueueUrl: string, group: string, id: string) =>
  new SendMessageCommand({
    QueueUrl,
    MessageBody: JSON.stringify({ sessionId: id, joinedAt: 1 }),
    MessageGroupId: group,
    MessageDeduplicationId: id,
  });

const receive = (QueueUrl: string) =>
  new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 });

describe('SQS FIFO throttling as SQS does it', () => {
  it("answers a SendMessage over its group's rate with 403 RequestThrottled, and counts it", async () => {
    // Prepare
    const { client, counters, QueueUrl } = await throttledQueue(2);
    await client.send(send(QueueUrl, 'g01', 'a'));
    await client.send(send(QueueUrl, 'g01', 'b'));

    // Act
    const error = await client.send(send(QueueUrl, 'g01', 'c')).catch((e: unknown) => e);
    const otherGroup = await client.send(send(QueueUrl, 'g02', 'd'));

    // Assess
    expect(error).toMatchObject({ name: 'RequestThrottled', $metadata: { httpStatusCode: 403 } });
    expect(otherGroup.MessageId).toBeTruthy();
    expect(counters).toEqual({ 'sqs.throttled': 1 });
  });

  it('limits ReceiveMessage and DeleteMessageBatch per queue, each action on its own', async () => {
    // Prepare
    const { client, QueueUrl } = await throttledQueue(2);
    await client.send(send(QueueUrl, 'g01', 'a'));
    const first = await client.send(receive(QueueUrl));
    await client.send(receive(QueueUrl));

    // Act
    const thirdReceive = await client.send(receive(QueueUrl)).catch((e: unknown) => e);
    const deletes = await Promise.allSettled(
      Array.from({ length: 3 }, () =>
        client.send(
          new DeleteMessageBatchCommand({
            QueueUrl,
            Entries: (first.Messages ?? []).map((m, i) => ({
              Id: String(i),
              ReceiptHandle: m.ReceiptHandle,
            })),
          }),
        ),
      ),
    );

    // Assess
    expect(thirdReceive).toMatchObject({ name: 'RequestThrottled' });
    expect(deletes.map((d) => d.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
  });

  it('takes requests again as the rate refills, and never limits the calls the quota leaves out', async () => {
    // Prepare
    const { client, QueueUrl, advance } = await throttledQueue(1);
    await client.send(send(QueueUrl, 'g01', 'a'));

    // Act
    const attributes = await Promise.allSettled(
      Array.from({ length: 5 }, () =>
        client.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['All'] })),
      ),
    );
    const tooSoon = await client.send(send(QueueUrl, 'g01', 'b')).catch((e: unknown) => e);
    advance(1000);
    const aSecondLater = await client.send(send(QueueUrl, 'g01', 'c'));

    // Assess
    expect(attributes.every((a) => a.status === 'fulfilled')).toBe(true);
    expect(tooSoon).toMatchObject({ name: 'RequestThrottled' });
    expect(aSecondLater.MessageId).toBeTruthy();
  });

  it('passes a request within the rate and its answer byte for byte', async () => {
    // Prepare: the same raw request, straight to fauxqs and through the proxy.
    const { QueueUrl, directUrl } = await throttledQueue(100);
    const raw = (url: string) =>
      fetch(new URL(url).origin, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-amz-json-1.0',
          'x-amz-target': 'AmazonSQS.GetQueueAttributes',
          'x-amzn-query-mode': 'true',
        },
        body: JSON.stringify({
          QueueUrl: directUrl,
          AttributeNames: ['FifoQueue', 'ContentBasedDeduplication', 'FifoThroughputLimit'],
        }),
      });

    // Act
    const [direct, proxied] = await Promise.all([raw(directUrl), raw(QueueUrl)]);
    const [directBody, proxiedBody] = await Promise.all([direct.text(), proxied.text()]);

    // Assess
    expect(proxied.status).toBe(direct.status);
    expect(proxied.headers.get('content-type')).toBe(direct.headers.get('content-type'));
    expect(proxiedBody).toBe(directBody);
    expect(JSON.parse(proxiedBody)).toMatchObject({
      Attributes: { FifoQueue: 'true', FifoThroughputLimit: 'perMessageGroupId' },
    });
  });
});

describe('the arrival queue under SQS throttling', () => {
  it("gets every send, receive and delete through with the functions' retries", async () => {
    // Prepare: 5 requests a second per group and per queue on the real clock; the functions'
    // client retries 5 times (standard retries, backing off on throttling).
    const { client, counters, QueueUrl } = await throttledQueue(5, {
      realClock: true,
      maxAttempts: 5,
    });
    const queue = createSqsArrivalQueue({
      client,
      queueUrl: QueueUrl,
      groups: 2,
      visibilityTimeoutSeconds: 5,
    });
    const sessions = Array.from({ length: 16 }, (_, i) => `visitor-${i}`);

    // Act
    await Promise.all(sessions.map((sessionId) => queue.enqueue({ sessionId, joinedAt: 1 })));
    const received = await receiveAll(queue, sessions.length);

    // Assess
    expect(counters['sqs.throttled']).toBeGreaterThan(0);
    expect(received.map((a) => a.sessionId).sort()).toEqual([...sessions].sort());
  }, 90_000);
});

/** Receives and acknowledges until `count` arrivals came (the test's timeout bounds it). */
async function receiveAll(queue: SqsArrivalQueue, count: number): Promise<ReceivedArrival[]> {
  const got: ReceivedArrival[] = [];
  while (got.length < count) {
    const batch = await queue.receive(100);
    got.push(...batch);
    await queue.acknowledge(batch);
  }
  return got;
}
