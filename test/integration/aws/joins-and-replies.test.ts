/**
 * Joins on the AWS adapters: on API Gateway the processor's pushes and the message handler's
 * replies travel separately, so a visitor admitted in the very tick that numbers it must still
 * hear `joined` first; and a connection whose binding names a place long gone can still join.
 */
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectionKey } from '../../../functions/adapters/aws/dynamo-items.ts';
import { createAwsHarness } from '../../helpers/aws-harness.ts';
import { type AwsStandIns, startAwsStandIns } from '../../helpers/aws-stand-ins.ts';

let db: AwsStandIns;
beforeAll(async () => {
  db = await startAwsStandIns();
});
afterAll(async () => {
  await db.close();
});

describe('admitted and joined on the AWS adapters', () => {
  it('holds admitted back until the joined reply was delivered, then sends it', async () => {
    // Prepare: the handler has stored and queued the place, but its `joined` is not out yet.
    const room = await createAwsHarness(db, { config: { admitPerMinute: 6000 } });
    let deliver!: () => void;
    const delivered = new Promise<void>((resolve) => {
      deliver = resolve;
    });
    const markAnnounced = room.store.markAnnounced.bind(room.store);
    room.store.markAnnounced = async (sessionId, connectionId) => {
      await delivered;
      return markAnnounced(sessionId, connectionId);
    };
    const joining = room.send('c0', { action: 'join' });
    for (let i = 0; i < 200 && (await room.queue.approximateDepth()) === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }

    // Act
    const first = await room.tick();
    const pushedBefore = room.notifier.messages('c0').map((m) => m.type);
    deliver();
    const replies = await joining;
    await room.tick();

    // Assess
    expect(first.admitted).toHaveLength(1);
    expect(pushedBefore).toEqual([]);
    expect(replies.map((m) => m.type)).toEqual(['joined']);
    expect(room.notifier.messages('c0').map((m) => m.type)).toEqual(['admitted']);
  });
});

describe('a connection bound to a place that no longer exists', () => {
  it('joins afresh instead of failing on the stale binding', async () => {
    // Prepare: the binding outlived its session (expired, or never written).
    const room = await createAwsHarness(db, { config: { admitPerMinute: 0 } });
    await db.documentClient.send(
      new PutCommand({
        TableName: room.tableName,
        Item: { ...connectionKey('c0'), sessionId: 'long-gone' },
      }),
    );

    // Act
    const replies = await room.send('c0', { action: 'join' });

    // Assess
    expect(replies.map((m) => m.type)).toEqual(['joined']);
    expect(await room.store.sessionOfConnection('c0')).not.toBe('long-gone');
  });
});
