/**
 * The room's key scenarios, run over the in-process adapters and over the AWS adapters wired
 * together (DynamoDB store on dynalite, the SQS arrival queue on fauxqs; SSM and the management API through stand-in
 * clients, so the real adapter code runs). If a behaviour differs between the two, it is a bug
 * in an adapter.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runTick } from '../../../functions/core/processor.ts';
import { verifierFor, verifyPass } from '../../../functions/core/tokens.ts';
import { type AwsStandIns, startAwsStandIns } from '../../helpers/aws-stand-ins.ts';
import {
  closeDurableRooms,
  createDurableHarness,
  durableData,
  freshDataDir,
  removeDurableRooms,
} from '../../helpers/durable-harness.ts';
import {
  createHarness,
  joinedOf,
  MAIN_ORIGIN,
  ManualClock,
  ROOM_ID,
} from '../../helpers/room-harness.ts';
import {
  joinMany,
  lastOfType,
  roomKinds,
  type ScenarioRoom,
} from '../../helpers/scenario-rooms.ts';

type Room = ScenarioRoom;

let db: AwsStandIns;
beforeAll(async () => {
  db = await startAwsStandIns();
});
afterAll(async () => {
  await db.close();
});

afterEach(async () => {
  await removeDurableRooms();
});

const rooms = roomKinds(() => db);

async function waitingLine(room: Room): Promise<string[]> {
  return (await room.store.readLine()).map((s) => s.id);
}

describe.each(rooms)('room on the %s', (_adapters, createRoom) => {
  it('numbers arrivals in the order they joined and tells each its exact position', async () => {
    // Prepare
    const room = await createRoom({ config: { admitPerMinute: 0 } });
    await joinMany(room, 3);

    // Act
    await room.tick();

    // Assess
    expect(lastOfType(room, 'c0', 'position')).toEqual({
      type: 'position',
      position: 1,
      waiting: 3,
      etaSeconds: null,
      nextUpdateSeconds: 11,
    });
    expect(lastOfType(room, 'c2', 'position')).toMatchObject({ position: 3, waiting: 3 });
  });

  it('admits strictly in join order across ticks, with a pass back to the return path', async () => {
    // Prepare
    const room = await createRoom({ config: { admitPerMinute: 180 } });
    await room.send('first', { action: 'join', return: '/tickets?show=evening' });
    const ids = await joinMany(room, 9);

    // Act
    const admitted: string[] = [];
    for (let i = 0; i < 4; i++) admitted.push(...(await room.tick()).admitted);

    // Assess
    expect(admitted.slice(1)).toEqual(ids.slice(0, 9));
    const message = lastOfType(room, 'first', 'admitted');
    const url = new URL(message?.redirectUrl ?? 'x:');
    expect(`${url.origin}${url.pathname}${url.searchParams.get('show')}`).toBe(
      `${MAIN_ORIGIN}/ticketsevening`,
    );
    const verified = await verifyPass(verifierFor(room.jwks), message?.pass ?? '', {
      roomId: ROOM_ID,
      mainOrigin: MAIN_ORIGIN,
      now: room.clock.now() / 1000,
    });
    expect(verified?.expiresAt).toBe(message?.expiresAt);
  });

  it('never raises a position, and every position sent is exact', async () => {
    // Prepare: admissions, a departure ahead, a comeback and late joiners along the way.
    const room = await createRoom({ config: { admitPerMinute: 30 }, abandonAfterMs: 2000 });
    await joinMany(room, 6);
    const seen = new Map<string, number[]>();
    const sent = new Map<string, number>();
    const exactness: { connectionId: string; position: number; expected: number }[] = [];
    const connectionOf = new Map<string, string>();

    async function tickAndCheck() {
      await room.tick();
      const line = await waitingLine(room);
      for (const [connectionId, sessionId] of connectionOf) {
        const positions = room.notifier
          .messages(connectionId)
          .flatMap((m) => (m.type === 'position' ? [m.position] : []));
        const fresh = positions.slice(sent.get(connectionId) ?? 0);
        sent.set(connectionId, positions.length);
        for (const position of fresh) {
          exactness.push({ connectionId, position, expected: line.indexOf(sessionId) + 1 });
        }
        seen.set(sessionId, [...(seen.get(sessionId) ?? []), ...fresh]);
      }
    }
    for (let i = 0; i < 6; i++) {
      connectionOf.set(`c${i}`, (await room.store.sessionOfConnection(`c${i}`)) as string);
    }

    // Act
    await tickAndCheck();
    await room.disconnect('c2');
    const ticket = joinedOf(await room.send('c4', { action: 'join' })).ticket;
    await room.disconnect('c4');
    for (let i = 0; i < 2; i++) await tickAndCheck();
    await room.send('c4-back', { action: 'resume', ticket });
    connectionOf.set('c4-back', connectionOf.get('c4') as string);
    await joinMany(room, 2, 'late');
    for (let i = 0; i < 2; i++) {
      connectionOf.set(`late${i}`, (await room.store.sessionOfConnection(`late${i}`)) as string);
    }
    for (let i = 0; i < 6; i++) await tickAndCheck();

    // Assess
    expect(exactness.length).toBeGreaterThan(10);
    for (const check of exactness) expect(check.position, check.connectionId).toBe(check.expected);
    for (const [sessionId, positions] of seen) {
      const sorted = [...positions].sort((a, b) => b - a);
      expect(positions, sessionId).toEqual(sorted);
    }
  });

  it('admits a session once and tells it once, even when the processor dies right after', async () => {
    // Prepare
    const room = await createRoom({ config: { admitPerMinute: 60 } });
    const [id, next] = await joinMany(room, 3);
    const admit = room.store.admit.bind(room.store);
    let crashes = 1;
    room.store.admit = async (...args) => {
      const done = await admit(...args);
      if (crashes-- > 0) throw new Error('crash after admit');
      return done;
    };
    room.clock.advance(1000);
    await expect(runTick(room.processor)).rejects.toThrow('crash after admit');

    // Act
    const after = await room.tick();

    // Assess
    expect(after.admitted).toEqual([next]);
    expect(room.notifier.messages('c0').filter((m) => m.type === 'admitted')).toHaveLength(1);
    expect((await room.store.get(id as string))?.state).toBe('admitted');
    expect(lastOfType(room, 'c2', 'position')).toMatchObject({ position: 1, waiting: 1 });
  });

  it('loses nobody when the processor dies between numbering and acknowledging arrivals', async () => {
    // Prepare
    const room = await createRoom({ config: { admitPerMinute: 0 } });
    const ids = await joinMany(room, 3);
    const acknowledge = room.queue.acknowledge.bind(room.queue);
    room.queue.acknowledge = async () => {
      throw new Error('crash before acknowledge');
    };
    room.clock.advance(1000);
    await expect(runTick(room.processor)).rejects.toThrow('crash before acknowledge');
    room.queue.acknowledge = acknowledge;
    const numberedFirst = await Promise.all(ids.map(async (id) => (await room.store.get(id))?.seq));

    // Act: the arrivals come back once their visibility timeout is over.
    room.clock.advance(31_000);
    const report = await room.tick();

    // Assess
    expect(report.numbered).toBe(0);
    expect(await Promise.all(ids.map(async (id) => (await room.store.get(id))?.seq))).toEqual(
      numberedFirst,
    );
    expect(await waitingLine(room)).toEqual(ids);
    expect(lastOfType(room, 'c2', 'position')).toMatchObject({ position: 3, waiting: 3 });
  });

  it('numbers an arrival delivered twice only once', async () => {
    // Prepare
    const room = await createRoom({ config: { admitPerMinute: 0 } });
    const [id] = await joinMany(room, 1);
    await room.tick();
    const seq = (await room.store.get(id as string))?.seq;

    // Act: the same arrival comes again, past any deduplication window.
    room.clock.advance(6 * 60_000);
    await room.queue.enqueue({ sessionId: id as string, joinedAt: 0 });
    await joinMany(room, 1, 'late');
    const report = await room.tick();

    // Assess
    expect(report.numbered).toBe(1);
    expect((await room.store.get(id as string))?.seq).toBe(seq);
    expect(lastOfType(room, 'late0', 'position')).toMatchObject({ position: 2, waiting: 2 });
  });

  it('keeps the place of a visitor who resumes within the grace', async () => {
    // Prepare
    const room = await createRoom({ config: { admitPerMinute: 0 }, abandonAfterMs: 5000 });
    const { ticket } = joinedOf(await room.send('c0', { action: 'join' }));
    await joinMany(room, 2, 'd');
    await room.tick();
    await room.disconnect('c0');
    for (let i = 0; i < 4; i++) await room.tick();

    // Act
    const replies = await room.send('c0-again', { action: 'resume', ticket });
    for (let i = 0; i < 4; i++) await room.tick();

    // Assess: the place is answered at once, its position by the next tick.
    expect(replies).toEqual([expect.objectContaining({ type: 'joined', ticket })]);
    expect(lastOfType(room, 'c0-again', 'position')).toMatchObject({ position: 1, waiting: 3 });
  });

  it('moves everyone up when a visitor ahead is gone longer than the grace', async () => {
    // Prepare
    const room = await createRoom({ config: { admitPerMinute: 0 }, abandonAfterMs: 5000 });
    await joinMany(room, 3);
    await room.tick();
    await room.disconnect('c0');

    // Act
    for (let i = 0; i < 6; i++) await room.tick();

    // Assess
    expect(lastOfType(room, 'c1', 'position')).toMatchObject({ position: 1, waiting: 2 });
    expect(lastOfType(room, 'c2', 'position')).toMatchObject({ position: 2, waiting: 2 });
  });

  it('tells a visitor who comes back after the grace that the place is gone', async () => {
    // Prepare
    const room = await createRoom({ config: { admitPerMinute: 0 }, abandonAfterMs: 1000 });
    const { ticket } = joinedOf(await room.send('c0', { action: 'join' }));
    await room.tick();
    await room.disconnect('c0');
    await room.tick();
    await room.tick();

    // Act
    const replies = await room.send('c0-again', { action: 'resume', ticket });

    // Assess
    expect(replies).toEqual([expect.objectContaining({ type: 'error', code: 'invalid_ticket' })]);
  });

  it('finds a gone connection by posting to it and drops its session after the grace', async () => {
    // Prepare: the connection vanished without a `$disconnect`.
    const room = await createRoom({ config: { admitPerMinute: 0 }, abandonAfterMs: 2000 });
    await joinMany(room, 2);
    await room.tick();
    room.notifier.gone.add('c0');

    // Act
    for (let i = 0; i < 14; i++) await room.tick();

    // Assess
    expect((await room.store.counts()).abandoned).toBe(1);
    expect(lastOfType(room, 'c1', 'position')).toMatchObject({ position: 1, waiting: 1 });
  });

  it('hands the same pass back to an admitted visitor who resumes', async () => {
    // Prepare
    const room = await createRoom({ config: { admitPerMinute: 60 } });
    const { ticket } = joinedOf(await room.send('c0', { action: 'join' }));
    await room.tick();
    const first = lastOfType(room, 'c0', 'admitted');

    // Act
    const replies = await room.send('c0-reload', { action: 'resume', ticket });
    await room.tick();

    // Assess
    expect(first).toBeDefined();
    expect(replies[1]).toEqual(first);
    expect(room.notifier.messages('c0-reload').filter((m) => m.type === 'admitted')).toHaveLength(
      0,
    );
  });

  it('tells a returning visitor of an admission made while its resume was under way', async () => {
    // Prepare: away, and the tick that admits it runs between the resume's read of the session
    // and its attach (frames and ticks run at the same time on AWS).
    const room = await createRoom({ config: { admitPerMinute: 0 } });
    const { ticket } = joinedOf(await room.send('c0', { action: 'join' }));
    await room.tick();
    await room.disconnect('c0');
    room.config.set({ admitPerMinute: 60 });
    const attach = room.store.attachConnection.bind(room.store);
    room.store.attachConnection = async (sessionId, connectionId, at) => {
      await room.tick();
      return attach(sessionId, connectionId, at);
    };

    // Act
    const replies = await room.send('c0-again', { action: 'resume', ticket });

    // Assess
    expect(replies.map((m) => m.type)).toEqual(['joined', 'admitted']);
  });

  it('retries an admitted message that could not be delivered', async () => {
    // Prepare
    const room = await createRoom({ config: { admitPerMinute: 60 } });
    await room.send('c0', { action: 'join' });
    room.notifier.failNext = 1;

    // Act
    const first = await room.tick();
    const second = await room.tick();

    // Assess
    expect(first.admitted).toHaveLength(1);
    expect(first.admissionsDelivered).toBe(0);
    expect(second.admissionsDelivered).toBe(1);
    expect(room.notifier.messages('c0').filter((m) => m.type === 'admitted')).toHaveLength(1);
  });

  it('pauses admission at rate 0 and resumes on the next tick after a change', async () => {
    // Prepare
    const room = await createRoom({ config: { admitPerMinute: 0 } });
    await joinMany(room, 2);
    const paused = await room.tick();

    // Act
    await room.config.set({ admitPerMinute: 60 });
    const resumed = await room.tick();

    // Assess
    expect(paused.admitted).toHaveLength(0);
    expect(resumed.admitted).toHaveLength(1);
    expect(lastOfType(room, 'c1', 'position')).toMatchObject({ position: 1, etaSeconds: 1 });
  });

  it('sends everyone in line straight in when the room is turned off', async () => {
    // Prepare
    const room = await createRoom({ config: { admitPerMinute: 0 } });
    await room.send('c0', { action: 'join', return: '/about' });
    await room.tick();

    // Act
    await room.config.set({ enabled: false });
    await room.tick();

    // Assess
    expect(lastOfType(room, 'c0', 'open')).toEqual({
      type: 'open',
      redirectUrl: `${MAIN_ORIGIN}/about`,
    });
  });

  it('answers status with the current position at the next tick', async () => {
    // Prepare: nobody moves (admission paused), so nobody is due a position again for a while.
    const room = await createRoom({ config: { admitPerMinute: 0 } });
    await joinMany(room, 2);
    await room.tick();
    const before = room.notifier.messages('c1').length;

    // Act
    const replies = await room.send('c1', { action: 'status' });
    await room.tick();

    // Assess
    expect(replies).toEqual([]);
    expect(room.notifier.messages('c1').slice(before)).toEqual([
      { type: 'position', position: 2, waiting: 2, etaSeconds: null, nextUpdateSeconds: 11 },
    ]);
    expect(room.notifier.messages('c0')).toHaveLength(before);
  });

  it('lets go of the place a connection held when it resumes another, from that moment', async () => {
    // Prepare: A joined on c1; B's visitor left (c2 closed); an honest visitor behind both.
    const room = await createRoom({ config: { admitPerMinute: 0 }, abandonAfterMs: 5000 });
    const a = joinedOf(await room.send('c1', { action: 'join' }));
    const b = joinedOf(await room.send('c2', { action: 'join' }));
    const [honest] = await joinMany(room, 1, 'honest');
    await room.tick();
    await room.disconnect('c2');

    // Act: c1 takes B back (and joins again), stays 3 s, then closes.
    const resumedAt = room.clock.now();
    const resumed = joinedOf(await room.send('c1', { action: 'resume', ticket: b.ticket }));
    const rejoined = joinedOf(await room.send('c1', { action: 'join' }));
    // The in-memory store hands out its live objects: copy what is checked later.
    const letGo = { ...(await room.store.get(a.sessionId)) };
    for (let i = 0; i < 3; i++) await room.tick();
    await room.disconnect('c1');
    const closedAt = room.clock.now();
    for (let i = 0; i < 3; i++) await room.tick();
    const lineAfterGraceOfA = await waitingLine(room);
    const aAfterGrace = (await room.store.get(a.sessionId))?.state;
    const bWithinGrace = { ...(await room.store.get(b.sessionId)) };
    for (let i = 0; i < 3; i++) await room.tick();

    // Assess: A's grace ran from the resume, B's from the close, as after any disconnect.
    expect([resumed.sessionId, rejoined.sessionId]).toEqual([b.sessionId, b.sessionId]);
    expect(letGo).toMatchObject({
      state: 'waiting',
      connectionId: 'c1',
      disconnectedAt: resumedAt,
    });
    expect(aAfterGrace).toBe('abandoned');
    expect(lineAfterGraceOfA).toEqual([b.sessionId, honest]);
    expect(bWithinGrace).toMatchObject({
      state: 'waiting',
      connectionId: 'c1',
      disconnectedAt: closedAt,
    });
    expect((await room.store.get(b.sessionId))?.state).toBe('abandoned');
    expect(await waitingLine(room)).toEqual([honest]);
    expect(lastOfType(room, 'honest0', 'position')).toMatchObject({ position: 1, waiting: 1 });
  });

  it('keeps the place a connection let go of for its visitor who resumes within the grace', async () => {
    // Prepare: c1 held A, took B back and closed.
    const room = await createRoom({ config: { admitPerMinute: 0 }, abandonAfterMs: 5000 });
    const a = joinedOf(await room.send('c1', { action: 'join' }));
    const b = joinedOf(await room.send('c2', { action: 'join' }));
    await room.tick();
    await room.disconnect('c2');
    await room.send('c1', { action: 'resume', ticket: b.ticket });
    await room.disconnect('c1');
    for (let i = 0; i < 3; i++) await room.tick();

    // Act: A's visitor comes back on a new connection within the grace.
    const replies = await room.send('a-back', { action: 'resume', ticket: a.ticket });
    for (let i = 0; i < 6; i++) await room.tick();

    // Assess: A keeps its place (first), B is gone after its grace.
    expect(joinedOf(replies).sessionId).toBe(a.sessionId);
    expect(await room.store.get(a.sessionId)).toMatchObject({
      state: 'waiting',
      connectionId: 'a-back',
      disconnectedAt: null,
    });
    expect(await waitingLine(room)).toEqual([a.sessionId]);
    expect(lastOfType(room, 'a-back', 'position')).toMatchObject({ position: 1 });
  });

  it('keeps one place per connection however often it joins', async () => {
    // Prepare
    const room = await createRoom();
    const first = joinedOf(await room.send('c0', { action: 'join' }));

    // Act
    const again = joinedOf(await room.send('c0', { action: 'join' }));

    // Assess
    expect(again.sessionId).toBe(first.sessionId);
    expect((await room.store.counts()).arriving).toBe(1);
  });

  it('continues the place a join made when the same join comes again on a new connection', async () => {
    // Prepare: the first join made its place, but its answer never reached the page.
    const room = await createRoom({ config: { admitPerMinute: 0 } });
    const joinKey = 'k'.repeat(22);
    const first = joinedOf(await room.send('c0', { action: 'join', joinKey }));
    await room.disconnect('c0');

    // Act: the page joins again on a new socket, with the same key.
    const again = joinedOf(await room.send('c1', { action: 'join', joinKey }));
    await room.tick();

    // Assess: one place, now on the new connection, told its position there.
    expect(again.sessionId).toBe(first.sessionId);
    expect((await room.store.counts()).waiting).toBe(1);
    expect((await room.store.get(first.sessionId))?.connectionId).toBe('c1');
    expect(lastOfType(room, 'c1', 'position')).toMatchObject({ position: 1, waiting: 1 });
  });

  it('makes one place of two joins with one key racing on two connections', async () => {
    // Prepare
    const room = await createRoom({ config: { admitPerMinute: 0 } });
    const joinKey = 'race-key-0123456789';

    // Act: the first try still running when the page's retry arrives.
    const [a, b] = await Promise.all([
      room.send('c0', { action: 'join', joinKey }),
      room.send('c1', { action: 'join', joinKey }),
    ]);
    await room.tick();

    // Assess
    expect(joinedOf(a).sessionId).toBe(joinedOf(b).sessionId);
    expect((await room.store.counts()).waiting).toBe(1);
  });

  it('makes a new place for a key whose place was given up', async () => {
    // Prepare: the place of the key is gone (away past the grace).
    const room = await createRoom({ config: { admitPerMinute: 0 }, abandonAfterMs: 5000 });
    const joinKey = 'given-up-key-0123456';
    const first = joinedOf(await room.send('c0', { action: 'join', joinKey }));
    await room.tick();
    await room.disconnect('c0');
    for (let i = 0; i < 6; i++) await room.tick();

    // Act
    const again = joinedOf(await room.send('c1', { action: 'join', joinKey }));
    await room.tick();

    // Assess
    expect(again.sessionId).not.toBe(first.sessionId);
    expect((await room.store.counts()).waiting).toBe(1);
  });

  it('refuses a join key that is not 16-64 base64url characters, taking no place', async () => {
    // Prepare
    const room = await createRoom();

    // Act
    const answer = await room.send('c0', { action: 'join', joinKey: 'short' });

    // Assess
    expect(answer).toEqual([expect.objectContaining({ type: 'error', code: 'bad_request' })]);
    expect((await room.store.counts()).arriving).toBe(0);
  });
});

describe('the room kept on disk', () => {
  it('saves the place a connection let go of when it resumed another', async () => {
    // Prepare
    const dir = freshDataDir();
    const clock = new ManualClock();
    const before = await createDurableHarness({ clock, config: { admitPerMinute: 0 } }, dir);
    const a = joinedOf(await before.send('c1', { action: 'join' }));
    const b = joinedOf(await before.send('c2', { action: 'join' }));
    await before.disconnect('c2');
    const resumedAt = clock.now();
    await before.send('c1', { action: 'resume', ticket: b.ticket });
    await closeDurableRooms();

    // Act: a new process on the same directory 5 s later (no tick ran, so no time counts as down).
    clock.advance(5000);
    const after = await createHarness({ clock, idPrefix: 'n' }, durableData(dir));

    // Assess: A's grace runs from the resume; saved as still connected, it would start afresh now.
    expect(await after.store.get(a.sessionId)).toMatchObject({
      connectionId: 'c1',
      disconnectedAt: resumedAt,
    });
  });
});
