/**
 * A flood of `resume` frames with forged tickets, each socket within its own frame limits, on
 * both runtimes: the room checks signatures on a budget (`functions/core/ticket-checks.ts`), so
 * once forgeries have spent it they are answered `rate_limited` unchecked, while a visitor in
 * line keeps its place and its answers, and an honest resume gets through once the flood stops.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MACHINE_CONTAINERS } from '../../local/aws-local/backend.ts';
import { RUNTIMES, type RuntimeRoom, startRuntimeRoom } from '../helpers/local-room.ts';
import { WsVisitor } from '../helpers/ws-visitor.ts';

let room: RuntimeRoom | undefined;
const visitors: WsVisitor[] = [];
afterEach(async () => {
  await Promise.all(visitors.splice(0).map((v) => v.close()));
  await room?.close();
  room = undefined;
});

async function connect(r: RuntimeRoom, localAddress?: string): Promise<WsVisitor> {
  const visitor = await WsVisitor.connect(
    r.wsUrl,
    localAddress === undefined ? {} : { localAddress },
  );
  visitors.push(visitor);
  return visitor;
}

/** A visitor in line, its ticket, and forgeries shaped like it (another signature each). */
async function inLine(r: RuntimeRoom, localAddress?: string) {
  const honest = await connect(r, localAddress);
  honest.send({ action: 'join' });
  const { ticket, sessionId } = await honest.next('joined');
  await honest.next('position');
  const [header, payload] = ticket.split('.');
  const forgery = (n: number) =>
    `${header}.${payload}.${n.toString(36).padStart(86, 'A').slice(-86)}`;
  return { honest, ticket, sessionId, forgery };
}

describe.each(RUNTIMES)('forged tickets (%s)', (runtime) => {
  it('are checked on a budget: past it they are answered rate_limited, and nobody else is hurt', async () => {
    // Prepare: a visitor in line, and its ticket as the template of the forgeries.
    room = await startRuntimeRoom(runtime, { WR_ADMIT_PER_MINUTE: '0', WR_TICK_MS: '200' });
    const { honest, ticket, sessionId, forgery } = await inLine(room);

    // Act: 40 sockets send 15 forged resumes each, all at once (600 signatures to check).
    const attackers = await Promise.all(
      Array.from({ length: 40 }, () => connect(room as RuntimeRoom)),
    );
    const floodStart = Date.now();
    attackers.forEach((a, i) => {
      for (let k = 0; k < 15; k++) a.send({ action: 'resume', ticket: forgery(i * 100 + k) });
    });
    await Promise.all(
      attackers.map(async (a) => {
        while (a.messages().filter((m) => m.type === 'error').length < 15) {
          await a.next('error', { since: a.received.length, timeoutMs: 20_000 });
        }
      }),
    );
    const floodSeconds = (Date.now() - floodStart) / 1000;
    honest.send({ action: 'status' });
    const stillThere = await honest.next('position', { timeoutMs: 20_000 });
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const again = await connect(room);
    again.send({ action: 'resume', ticket });
    const resumed = await again.next('joined', { timeoutMs: 10_000 });

    // Assess
    const codes = attackers.flatMap((a) =>
      a.messages().flatMap((m) => (m.type === 'error' ? [m.code] : [])),
    );
    expect(codes).toHaveLength(600);
    // At most the budget (400 at once, 200 a second after, in each container of the message
    // function) was checked; the rest waited.
    const containers = runtime === 'aws-local' ? MACHINE_CONTAINERS.message : 1;
    const checked = codes.filter((c) => c === 'invalid_ticket').length;
    expect(checked).toBeLessThanOrEqual(containers * (400 + 200 * floodSeconds) + 10);
    expect(codes.filter((c) => c !== 'invalid_ticket' && c !== 'rate_limited')).toEqual([]);
    // In process the flood is answered faster than the budget refills.
    if (runtime === 'local') expect(checked).toBeLessThan(600);
    expect(stillThere.position).toBe(1);
    expect(resumed.sessionId).toBe(sessionId);
  });

  it("spend one address's budget, not the room's: a resume from another address is checked at once, mid-flood", async () => {
    // Prepare: limits per source on; a visitor in line from one address.
    room = await startRuntimeRoom(runtime, {
      WR_ADMIT_PER_MINUTE: '0',
      WR_TICK_MS: '200',
      WR_SOURCE_LIMITS: 'on',
    });
    const { ticket, sessionId, forgery } = await inLine(room, '127.0.0.21');

    // Act: one address, 10 sockets, 15 forged resumes each (150 signatures to check).
    const attackers = [];
    for (let i = 0; i < 10; i++) attackers.push(await connect(room, '127.0.0.22'));
    const floodStart = Date.now();
    attackers.forEach((a, i) => {
      for (let k = 0; k < 15; k++) a.send({ action: 'resume', ticket: forgery(i * 100 + k) });
    });
    const again = await connect(room, '127.0.0.23');
    again.send({ action: 'resume', ticket });
    // Checked, not refused for the flood's budget: `joined` and not `rate_limited`, however
    // long a machine shared with other work takes to get through the frames ahead of it.
    const resumed = await again.next('joined', { timeoutMs: 25_000 });
    await Promise.all(
      attackers.map(async (a) => {
        while (a.messages().filter((m) => m.type === 'error').length < 15) {
          await a.next('error', { since: a.received.length, timeoutMs: 20_000 });
        }
      }),
    );

    const floodSeconds = (Date.now() - floodStart) / 1000;

    // Assess: the address's share is 40 at once and 20 a second (the room's: 400 and 200), in
    // each container of the message function (on AWS as here: a budget lives in a container).
    const containers = runtime === 'aws-local' ? MACHINE_CONTAINERS.message : 1;
    const codes = attackers.flatMap((a) =>
      a.messages().flatMap((m) => (m.type === 'error' ? [m.code] : [])),
    );
    expect(codes).toHaveLength(150);
    const checked = codes.filter((c) => c === 'invalid_ticket').length;
    expect(checked).toBeLessThanOrEqual(containers * (40 + 20 * floodSeconds) + 5);
    expect(codes.filter((c) => c !== 'invalid_ticket' && c !== 'rate_limited')).toEqual([]);
    // In process the flood is answered faster than the share refills: most went unchecked.
    if (runtime === 'local' && floodSeconds < 3) expect(checked).toBeLessThan(110);
    expect(resumed.sessionId).toBe(sessionId);
  }, 90_000);
});
