/**
 * Hostile resume tickets over real sockets: forged, tampered, another room's (same key and
 * another key), expired, issued in the future, a pass offered as a ticket. Each gets
 * `invalid_ticket`, and nobody's place moves: the positions of everyone in line are the same
 * before and after, their sockets still get their updates, and they are admitted in join order.
 * On both runtimes: in process, and through the Lambda handlers (`start:aws-local`).
 */
import { createHmac, createPublicKey } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signPass, signTicket, ticketAudience } from '../../functions/core/tokens.ts';
import { adminFetch } from '../../local/admin-secret.ts';
import { RUNTIMES, type RuntimeRoom, startRuntimeRoom } from '../helpers/local-room.ts';
import { WsVisitor } from '../helpers/ws-visitor.ts';

describe.each(RUNTIMES)('on the %s runtime', (runtime) => {
  const HOUR = 3600;
  const ROOM_ID = 'waiting-room';

  let room: RuntimeRoom;
  let sameKeyOtherRoom: RuntimeRoom;
  let otherKeyRoom: RuntimeRoom;
  const honest: { visitor: WsVisitor; sessionId: string; ticket: string; connectionId: string }[] =
    [];
  let attacker: WsVisitor;
  let attackerTicket: string;
  const opened: WsVisitor[] = [];

  async function visitorOf(r: RuntimeRoom): Promise<WsVisitor> {
    const visitor = await WsVisitor.connect(r.wsUrl);
    opened.push(visitor);
    return visitor;
  }

  async function ticketFrom(r: RuntimeRoom): Promise<string> {
    const visitor = await visitorOf(r);
    visitor.send({ action: 'join' });
    return (await visitor.next('joined')).ticket;
  }

  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

  function withPayload(token: string, change: (claims: Record<string, unknown>) => object): string {
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<
      string,
      unknown
    >;
    return `${header}.${b64(change(claims))}.${signature}`;
  }

  /** Positions as `status` reports them, one per honest visitor, in line order. */
  async function honestPositions(): Promise<number[]> {
    return Promise.all(
      honest.map(async ({ visitor }) => {
        const since = visitor.received.length;
        visitor.send({ action: 'status' });
        return (await visitor.next('position', { since })).position;
      }),
    );
  }

  beforeAll(async () => {
    const keyFile = join(await mkdtemp(join(tmpdir(), 'wr-tickets-')), 'room-key.pem');
    room = await startRuntimeRoom(runtime, {
      WR_TICK_MS: '100',
      WR_ADMIT_PER_MINUTE: '0',
      WR_KEY_FILE: keyFile,
    });
    sameKeyOtherRoom = await startRuntimeRoom(runtime, {
      WR_KEY_FILE: keyFile,
      WR_ROOM_ID: 'other-room',
    });
    otherKeyRoom = await startRuntimeRoom(runtime);
    for (let i = 0; i < 3; i++) {
      const visitor = await visitorOf(room);
      visitor.send({ action: 'join', return: `/tickets?n=${i}` });
      const joined = await visitor.next('joined');
      const connectionId = (await room.store.get(joined.sessionId))?.connectionId as string;
      honest.push({ visitor, sessionId: joined.sessionId, ticket: joined.ticket, connectionId });
    }
    attacker = await visitorOf(room);
    attacker.send({ action: 'join' });
    attackerTicket = (await attacker.next('joined')).ticket;
    await attacker.next('position', { since: 0, where: (m) => m.position === 4 });
  });

  afterAll(async () => {
    await Promise.all(opened.map((v) => v.close()));
    await Promise.all([room.close(), sameKeyOtherRoom.close(), otherKeyRoom.close()]);
  });

  /** Each hostile ticket names the head of the line whenever it can: a theft would show at once. */
  const attacks: [string, () => Promise<string> | string][] = [
    [
      'a forged ticket of random segments',
      () => 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl',
    ],
    [
      'an alg none ticket naming the head of the line',
      () =>
        `${b64({ alg: 'none', typ: 'wr-ticket+jwt' })}.${b64({
          iss: ROOM_ID,
          aud: ticketAudience(ROOM_ID),
          sub: honest[0]?.sessionId,
          exp: Math.floor(Date.now() / 1000) + HOUR,
        })}.`,
    ],
    [
      "the attacker's own ticket tampered to name the head of the line",
      () => withPayload(attackerTicket, (c) => ({ ...c, sub: honest[0]?.sessionId })),
    ],
    [
      "the head's ticket with one signature character changed",
      () => {
        const t = honest[0]?.ticket as string;
        return `${t.slice(0, -2)}${t.at(-2) === 'A' ? 'B' : 'A'}${t.at(-1)}`;
      },
    ],
    ['a ticket of another room signed with the same key', () => ticketFrom(sameKeyOtherRoom)],
    ['a ticket of another room with its own key', () => ticketFrom(otherKeyRoom)],
    [
      'an expired ticket naming the head of the line',
      () =>
        signTicket(room.key, {
          roomId: ROOM_ID,
          sessionId: honest[0]?.sessionId as string,
          issuedAt: Math.floor(Date.now() / 1000) - 49 * HOUR,
          ttlSeconds: 48 * HOUR,
        }),
    ],
    [
      'a ticket issued a day from now naming the head of the line',
      () =>
        signTicket(room.key, {
          roomId: ROOM_ID,
          sessionId: honest[0]?.sessionId as string,
          issuedAt: Math.floor(Date.now() / 1000) + 24 * HOUR,
          ttlSeconds: 48 * HOUR,
        }),
    ],
    [
      'a pass of the room offered as a ticket for the head of the line',
      () =>
        signPass(room.key, {
          roomId: ROOM_ID,
          mainOrigin: room.url,
          sessionId: honest[0]?.sessionId as string,
          issuedAt: Math.floor(Date.now() / 1000),
          ttlSeconds: 600,
          jti: 'j',
        }),
    ],
    [
      'an HS256 ticket keyed with the public key, naming the head of the line',
      () => {
        const pem = createPublicKey({ key: room.key.publicJwk, format: 'jwk' })
          .export({ type: 'spki', format: 'pem' })
          .toString();
        const input = `${b64({ alg: 'HS256', typ: 'wr-ticket+jwt', kid: room.key.kid })}.${b64({
          iss: ROOM_ID,
          aud: ticketAudience(ROOM_ID),
          sub: honest[0]?.sessionId,
          iat: Math.floor(Date.now() / 1000),
          exp: Math.floor(Date.now() / 1000) + HOUR,
        })}`;
        return `${input}.${createHmac('sha256', pem).update(input).digest('base64url')}`;
      },
    ],
  ];

  describe('hostile resume tickets', () => {
    it.each(attacks)('%s gets invalid_ticket', async (_, make) => {
      // Prepare
      const ticket = await make();
      const thief = await visitorOf(room);

      // Act
      thief.send({ action: 'resume', ticket });
      const answer = await thief.next('error');

      // Assess
      expect(answer.code).toBe('invalid_ticket');
      expect(thief.messages().filter((m) => m.type === 'joined')).toEqual([]);
    });

    it('leaves every place where it was: same positions, same sockets, admitted in order', async () => {
      // Prepare: the attacks above have all run on this room.
      const before = [1, 2, 3];
      const replies = new Map<string, string[]>();
      for (const [name, make] of attacks) {
        attacker.send({ action: 'resume', ticket: await make() });
        replies.set(name, [(await attacker.next('error')).code]);
      }

      // Act
      const after = await honestPositions();
      const attackerAfter = await (async () => {
        const since = attacker.received.length;
        attacker.send({ action: 'status' });
        return (await attacker.next('position', { since })).position;
      })();
      // The in-memory store hands out its live objects: copy what is checked before admission.
      const sessions = await Promise.all(
        honest.map(async (h) => ({ ...(await room.store.get(h.sessionId)) })),
      );
      await adminFetch(room.url, 'config', {
        method: 'POST',
        body: JSON.stringify({ admitPerMinute: 6000 }),
      });
      const admitted = await Promise.all(honest.map((h) => h.visitor.next('admitted')));

      // Assess
      expect([...replies.values()].flat()).toEqual(attacks.map(() => 'invalid_ticket'));
      expect(after).toEqual(before);
      expect(attackerAfter).toBe(4);
      for (const [i, session] of sessions.entries()) {
        expect(session.state).toBe('waiting');
        expect(session.connectionId).toBe(honest[i]?.connectionId);
        expect(session.disconnectedAt).toBeNull();
        expect(new URL(admitted[i]?.redirectUrl ?? '').search).toContain(`n=${i}`);
      }
      const admittedAt = await Promise.all(
        honest.map(async (h) => (await room.store.get(h.sessionId))?.admittedAt ?? Infinity),
      );
      expect(admittedAt).toEqual([...admittedAt].sort((a, b) => a - b));
      expect(room.errors).toEqual([]);
    });
  });
});
