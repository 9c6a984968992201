/**
 * On API Gateway the processor's pushes and the message handler's replies travel separately: a
 * visitor admitted in the very tick that numbers it must still hear `joined` first.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Dynalite, startDynalite } from '../../helpers/aws-dynalite.ts';
import { createAwsHarness } from '../../helpers/aws-harness.ts';

let db: Dynalite;
beforeAll(async () => {
  db = await startDynalite();
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
