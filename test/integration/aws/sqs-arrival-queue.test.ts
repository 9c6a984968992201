/**
 * The SQS FIFO arrival queue (`sqs-arrival-queue.ts`) against fauxqs, an SQS emulator, with the
 * queues created as the CDK app deploys them. Where fauxqs differs from SQS, the test that meets
 * the difference names it (README, "SQS FIFO and its emulator").
 */
import { ReceiveMessageCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARRIVAL_QUEUE } from '../../../functions/adapters/aws/resource-definitions.ts';
import {
  ARRIVAL_GROUPS,
  arrivalGroupOf,
  arrivalOrder,
  createSqsArrivalQueue,
  type SqsArrivalQueue,
} from '../../../functions/adapters/aws/sqs-arrival-queue.ts';
import { MemoryConfigSource } from '../../../functions/adapters/local/memory-config.ts';
import { MemorySessionStore } from '../../../functions/adapters/local/memory-session-store.ts';
import { systemClock } from '../../../functions/adapters/local/system-clock.ts';
import type { ReceivedArrival } from '../../../functions/core/ports.ts';
import { createSigner } from '../../../functions/core/tokens.ts';
import { join } from '../../../functions/core/visitor.ts';
import { type Fauxqs, startFauxqsForTests } from '../../helpers/aws-fauxqs.ts';
import { MAIN_ORIGIN, ROOM_ID, testKey } from '../../helpers/room-harness.ts';

let sqs: Fauxqs;
beforeAll(async () => {
  sqs = await startFauxqsForTests();
});
afterAll(async () => {
  await sqs.close();
});

async function newQueue(options: { visibilityTimeoutSeconds?: number } = {}) {
  const { queueUrl, deadLetterQueueUrl } = await sqs.createQueues();
  const calls: string[] = [];
  const queue = createSqsArrivalQueue({
    client: sqs.client,
    queueUrl,
    visibilityTimeoutSeconds: options.visibilityTimeoutSeconds ?? 1,
    onCall: (action) => calls.push(action),
  });
  return { queue, queueUrl, deadLetterQueueUrl, calls };
}

/** Receives until `count` arrivals came or `rounds` receives in a row found nothing. */
async function receiveAll(queue: SqsArrivalQueue, count: number, rounds = 3) {
  const got: ReceivedArrival[] = [];
  let empty = 0;
  while (got.length < count && empty < rounds) {
    const batch = await queue.receive(100);
    if (batch.length === 0) empty += 1;
    got.push(...batch);
    await queue.acknowledge(batch);
  }
  return got;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the SQS FIFO arrival queue on fauxqs', () => {
  it('sends one message per arrival, in a group chosen by the session id, deduplicated by it', async () => {
    // Prepare
    const { queue, calls } = await newQueue();

    // Act
    await queue.enqueue({ sessionId: 'alpha', joinedAt: 1 });
    const [received] = await queue.receive(10);

    // Assess
    expect(calls).toEqual(['SendMessage', 'ReceiveMessage']);
    expect(received?.sessionId).toBe('alpha');
    expect(received?.joinedAt).toBe(1);
    const [stamp, group, sequence] = String(received?.order).split(':');
    expect(group).toBe(arrivalGroupOf('alpha'));
    expect(Number(stamp)).toBe(received?.acceptedAt);
    expect(Math.abs((received?.acceptedAt as number) - Date.now())).toBeLessThan(60_000);
    expect(sequence).toMatch(/^\d{20}$/);
  });

  it('spreads sessions over all 32 groups', () => {
    // Act
    const groups = new Set(Array.from({ length: 2000 }, (_, i) => arrivalGroupOf(`session-${i}`)));

    // Assess
    expect(groups.size).toBe(ARRIVAL_GROUPS);
  });

  it('hands out every arrival once, sorted by SQS timestamp, group and sequence', async () => {
    // Prepare: 120 arrivals over the 32 groups.
    const { queue } = await newQueue();
    const ids = Array.from({ length: 120 }, (_, i) => `s${String(i).padStart(3, '0')}`);
    for (const sessionId of ids) await queue.enqueue({ sessionId, joinedAt: 0 });

    // Act
    const got = await receiveAll(queue, ids.length);

    // Assess: every one, once; within each group in the order sent (SQS's own guarantee).
    expect(got.map((a) => a.sessionId).sort()).toEqual(ids);
    const byGroup = new Map<string, string[]>();
    for (const a of [...got].sort((x, y) => (x.order < y.order ? -1 : 1))) {
      const group = a.order.split(':')[1] as string;
      byGroup.set(group, [...(byGroup.get(group) ?? []), a.sessionId]);
    }
    for (const members of byGroup.values()) expect(members).toEqual([...members].sort());
  });

  it('drops a second send of the same session, also after the first was deleted', async () => {
    // Prepare
    const { queue } = await newQueue();
    await queue.enqueue({ sessionId: 'twice', joinedAt: 0 });
    await queue.enqueue({ sessionId: 'twice', joinedAt: 0 });
    const first = await receiveAll(queue, 2);

    // Act: a requeue within SQS's five minutes of deduplication.
    await queue.enqueue({ sessionId: 'twice', joinedAt: 0 });
    const again = await queue.receive(10);

    // Assess
    expect(first.map((a) => a.sessionId)).toEqual(['twice']);
    expect(again).toEqual([]);
  });

  it('hands an arrival back after the visibility timeout when it was not deleted, with its order', async () => {
    // Prepare
    const { queue } = await newQueue({ visibilityTimeoutSeconds: 1 });
    await queue.enqueue({ sessionId: 'crashed', joinedAt: 0 });
    const [first] = await queue.receive(10);

    // Act: the processor dies before deleting it.
    const hidden = await queue.receive(10);
    await sleep(1200);
    const [back] = await queue.receive(10);

    // Assess
    expect(hidden).toEqual([]);
    expect(back?.sessionId).toBe('crashed');
    expect(back?.order).toBe(first?.order);
    expect(back?.acceptedAt).toBe(first?.acceptedAt);
    expect(back?.receipt).not.toBe(first?.receipt);
  });

  it('deletes a message that is not an arrival, so that it cannot lock its group', async () => {
    // Prepare
    const { queueUrl } = await newQueue();
    const bad: string[] = [];
    const queue = createSqsArrivalQueue({
      client: sqs.client,
      queueUrl,
      onMalformed: (_, reason) => bad.push(reason),
    });
    await (sqs.client as SQSClient).send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: '{"nope":1}',
        MessageGroupId: arrivalGroupOf('x'),
        MessageDeduplicationId: 'junk',
      }),
    );
    await queue.enqueue({ sessionId: 'x', joinedAt: 0 });

    // Act
    const got = await receiveAll(queue, 1);

    // Assess
    expect(got.map((a) => a.sessionId)).toEqual(['x']);
    expect(bad).toEqual([expect.stringMatching(/not an arrival/)]);
  });

  it(`moves an arrival received ${ARRIVAL_QUEUE.maxReceiveCount} times and never deleted to the dead-letter queue`, async () => {
    // Prepare
    const { queue, deadLetterQueueUrl } = await newQueue({ visibilityTimeoutSeconds: 0 });
    await queue.enqueue({ sessionId: 'poison', joinedAt: 0 });

    // Act: received again and again, never acknowledged (numbering would be a bug here).
    const receipts: string[] = [];
    for (let i = 0; i < ARRIVAL_QUEUE.maxReceiveCount + 2; i++) {
      receipts.push(...(await queue.receive(10)).map((a) => a.receipt));
    }
    const { Messages = [] } = await sqs.client.send(
      new ReceiveMessageCommand({ QueueUrl: deadLetterQueueUrl, MaxNumberOfMessages: 10 }),
    );

    // Assess
    expect(receipts).toHaveLength(ARRIVAL_QUEUE.maxReceiveCount);
    expect(Messages.map((m) => JSON.parse(m.Body ?? '{}').sessionId)).toEqual(['poison']);
  });

  it('fauxqs difference: a receive hands out at most one message of a group (SQS: up to ten)', async () => {
    // Prepare: five arrivals forced into one group.
    const { queue, queueUrl } = await newQueue();
    for (let i = 0; i < 5; i++) {
      await sqs.client.send(
        new SendMessageCommand({
          QueueUrl: queueUrl,
          MessageBody: JSON.stringify({ sessionId: `one-group-${i}`, joinedAt: 0 }),
          MessageGroupId: 'g00',
          MessageDeduplicationId: `one-group-${i}`,
        }),
      );
    }

    // Act: one receive asking for ten.
    const { Messages = [] } = await sqs.client.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: 0,
        MessageSystemAttributeNames: ['SequenceNumber'],
      }),
    );
    const received = await receiveAll(queue, 5);

    // Assess: one, the group's first; the adapter relies on neither count, and the group's
    // order holds across its receives.
    expect(Messages.map((m) => JSON.parse(m.Body ?? '{}').sessionId)).toEqual(['one-group-0']);
    expect(received.map((a) => a.sessionId)).toEqual([
      'one-group-0',
      'one-group-1',
      'one-group-2',
      'one-group-3',
      'one-group-4',
    ]);
  });

  it('fauxqs difference: a receive retried with its ReceiveRequestAttemptId gets other messages (SQS: the same batch)', async () => {
    // Prepare: arrivals in 20 groups.
    const { queueUrl } = await newQueue();
    for (let i = 0; i < 20; i++) {
      await sqs.client.send(
        new SendMessageCommand({
          QueueUrl: queueUrl,
          MessageBody: JSON.stringify({ sessionId: `attempt-${i}`, joinedAt: 0 }),
          MessageGroupId: `g${String(i).padStart(2, '0')}`,
          MessageDeduplicationId: `attempt-${i}`,
        }),
      );
    }
    const receive = () =>
      sqs.client.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: 10,
          VisibilityTimeout: 30,
          ReceiveRequestAttemptId: 'the-same-attempt',
        }),
      );

    // Act: the retry an SDK makes after a lost answer.
    const first = await receive();
    const retried = await receive();

    // Assess: on SQS the retry would hand back the first batch; here those stay invisible until
    // their timeout, the one cost of a lost answer (the adapter sends the id for SQS's sake).
    const ids = (r: typeof first) => (r.Messages ?? []).map((m) => m.MessageId);
    expect(ids(first)).toHaveLength(10);
    expect(ids(retried).some((id) => ids(first).includes(id))).toBe(false);
  });

  it('fauxqs difference: deduplication ids are per queue whatever the scope (SQS here: per group)', async () => {
    // Prepare
    const { queueUrl } = await newQueue();
    const send = (group: string) =>
      sqs.client.send(
        new SendMessageCommand({
          QueueUrl: queueUrl,
          MessageBody: JSON.stringify({ sessionId: 'same-id', joinedAt: 0 }),
          MessageGroupId: group,
          MessageDeduplicationId: 'same-id',
        }),
      );

    // Act: one id in two groups, which the adapter never does (a session's group follows from
    // its id), so the difference cannot reach the room.
    const a = await send('g01');
    const b = await send('g02');

    // Assess
    expect(b.MessageId).toBe(a.MessageId);
  });

  it('answers a join with an error, never joined, when SQS does not take the arrival', async () => {
    // Prepare: a queue URL with no queue behind it.
    const key = await testKey();
    const store = new MemorySessionStore(systemClock);
    const broken = createSqsArrivalQueue({
      client: sqs.client,
      queueUrl: `${sqs.endpoint}/000000000000/missing-arrivals.fifo`,
    });
    const deps = {
      store,
      queue: broken,
      config: new MemoryConfigSource({ enabled: true, admitPerMinute: 60 }),
      signer: createSigner({ key, roomId: ROOM_ID, mainOrigin: MAIN_ORIGIN, passTtlSeconds: 60 }),
      clock: systemClock,
      mainOrigin: MAIN_ORIGIN,
    };

    // Act
    const replies = await join(deps, 'conn-1', { return: '/' }).catch((error: unknown) => error);

    // Assess
    const joined = Array.isArray(replies) && replies.some((m) => m.type === 'joined');
    expect(joined).toBe(false);
  });

  it('orders by SQS timestamp first, then group, then sequence', () => {
    // Assess
    expect(arrivalOrder(1000, 'g31', '5') < arrivalOrder(1001, 'g00', '1')).toBe(true);
    expect(arrivalOrder(1000, 'g01', '9') < arrivalOrder(1000, 'g02', '1')).toBe(true);
    expect(arrivalOrder(1000, 'g01', '9') < arrivalOrder(1000, 'g01', '10')).toBe(true);
  });
});
