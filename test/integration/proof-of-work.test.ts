/**
 * Proof of work on join over real sockets (`npm start`): the room asks for a challenge's
 * solution before it makes a place, and takes each solution once. (start:aws-local reads its
 * cost from SSM `pow-cost`; the message function's side is in aws/lambda-handlers.test.ts.)
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startTestRoom, type TestRoom } from '../helpers/local-room.ts';
import { solve } from '../helpers/pow-solver.ts';
import { WsVisitor } from '../helpers/ws-visitor.ts';

let room: TestRoom | undefined;
const visitors: WsVisitor[] = [];
afterEach(async () => {
  await Promise.all(visitors.splice(0).map((v) => v.close()));
  await room?.close();
  room = undefined;
});

async function visitor(r: TestRoom): Promise<WsVisitor> {
  const v = await WsVisitor.connect(r.wsUrl);
  visitors.push(v);
  return v;
}

describe('proof of work on join (npm start)', () => {
  it('makes a place only for a solved challenge, once, and sends the visitor its position', async () => {
    // Prepare
    room = await startTestRoom({ WR_ADMIT_PER_MINUTE: '0' });
    room.room.config.set({ powCost: 32 });
    const first = await visitor(room);
    const second = await visitor(room);

    // Act
    first.send({ action: 'join', return: '/tickets' });
    const { challenge } = await first.next('challenge');
    const proof = await solve(challenge);
    first.send({ action: 'join', return: '/tickets', proof });
    const joined = await first.next('joined');
    second.send({ action: 'join', proof });
    const refused = await second.next('error');

    // Assess
    expect(joined.sessionId).toBeTruthy();
    expect((await first.next('position', { since: 0 })).position).toBe(1);
    expect(refused.code).toBe('invalid_proof');
    expect((await room.room.status()).waiting + (await room.room.store.counts()).arriving).toBe(1);
    expect(room.errors).toEqual([]);
  }, 30_000);
});
