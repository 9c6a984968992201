/**
 * A place resumed on a new connection while its old one is still open (a second tab, a second
 * window), on both runtimes: the old connection hears `superseded` and is closed, the new one
 * holds the place, and the old one's close does not touch it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { RUNTIMES, type RuntimeRoom, startRuntimeRoom } from '../helpers/local-room.ts';
import { WsVisitor } from '../helpers/ws-visitor.ts';

let room: RuntimeRoom | undefined;
const visitors: WsVisitor[] = [];
afterEach(async () => {
  await Promise.all(visitors.splice(0).map((v) => v.close()));
  await room?.close();
  room = undefined;
});

async function connect(r: RuntimeRoom): Promise<WsVisitor> {
  const visitor = await WsVisitor.connect(r.wsUrl);
  visitors.push(visitor);
  return visitor;
}

describe.each(RUNTIMES)('a place resumed in a second tab (%s)', (runtime) => {
  it('tells the first tab superseded and closes it; the place stays with the second', async () => {
    // Prepare: one visitor ahead, so the place waits at 2.
    room = await startRuntimeRoom(runtime, { WR_ADMIT_PER_MINUTE: '0', WR_TICK_MS: '200' });
    const ahead = await connect(room);
    ahead.send({ action: 'join' });
    await ahead.next('joined');
    const first = await connect(room);
    first.send({ action: 'join' });
    const joined = await first.next('joined');
    await first.next('position');
    const closed = new Promise<void>((resolve) => first.socket.once('close', () => resolve()));

    // Act
    const second = await connect(room);
    second.send({ action: 'resume', ticket: joined.ticket });
    await second.next('joined');
    const told = await first.next('superseded', { since: 0 });
    await closed;
    const position = await second.next('position');
    await new Promise((resolve) => setTimeout(resolve, 1000));

    // Assess
    expect(told).toEqual({ type: 'superseded' });
    expect(position.position).toBe(2);
    const session = await room.store.get(joined.sessionId);
    expect(session).toMatchObject({ state: 'waiting', disconnectedAt: null });
  });
});
