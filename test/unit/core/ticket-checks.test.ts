import { describe, expect, it } from 'vitest';
import {
  checkTicketsOnBudget,
  TicketChecksBusyError,
} from '../../../functions/core/ticket-checks.ts';
import { createSigner } from '../../../functions/core/tokens.ts';
import { testKey } from '../../helpers/room-harness.ts';

const ROOM = 'test-room';
const NOW = Date.UTC(2026, 10, 28, 12, 0, 0);

async function room() {
  const signer = createSigner({
    key: await testKey(),
    roomId: ROOM,
    mainOrigin: 'https://shop.example.com',
    passTtlSeconds: 600,
  });
  const good = await signer.issueTicket('s-good', NOW);
  return { signer, good };
}

/** A ticket shaped exactly like a good one, with another signature (a forgery). */
function forged(good: string, n: number): string {
  const [header, payload] = good.split('.');
  return `${header}.${payload}.${n.toString(36).padStart(86, 'A').slice(-86)}`;
}

/** The checks around a verify that counts its calls and knows `good` only. */
function checked(
  good: string,
  options: {
    failuresPerSecond?: number;
    failureBurst?: number;
    sourceFailuresPerSecond?: number;
    sourceFailureBurst?: number;
  } = {},
) {
  const calls = { n: 0 };
  const read = checkTicketsOnBudget(
    async (ticket) => {
      calls.n += 1;
      return ticket === good ? 's-good' : null;
    },
    { roomId: ROOM, audience: `urn:waiting-room:${ROOM}:ticket`, typ: 'wr-ticket+jwt', ...options },
  );
  return { read, calls };
}

describe('ticket checks on a budget', () => {
  it('refuses what cannot be a ticket of this room without checking a signature', async () => {
    // Prepare
    const { good } = await room();
    const { read, calls } = checked(good);
    const [header, payload, signature] = good.split('.') as [string, string, string];
    const otherRoom = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), iss: 'x' }),
    ).toString('base64url');

    // Act
    const answers = await Promise.all([
      read('not a token', NOW),
      read(`${header}.${payload}.short`, NOW),
      read(`${header}.${otherRoom}.${signature}`, NOW),
      read(good, NOW + 49 * 3600_000),
    ]);

    // Assess
    expect(answers).toEqual([null, null, null, null]);
    expect(calls.n).toBe(0);
  });

  it('checks a good ticket once and a forged one once, however often they come', async () => {
    // Prepare
    const { good } = await room();
    const { read, calls } = checked(good);

    // Act
    const answers: (string | null)[] = [];
    for (let i = 0; i < 5; i++)
      answers.push(await read(good, NOW), await read(forged(good, 1), NOW));

    // Assess
    expect(answers).toEqual(Array.from({ length: 5 }, () => ['s-good', null]).flat());
    expect(calls.n).toBe(2);
  });

  it('answers busy once forged tickets spent the budget, still knows good ones, and refills', async () => {
    // Prepare: a budget of 10 failures at once, 10 a second.
    const { good } = await room();
    const { read, calls } = checked(good, { failuresPerSecond: 10, failureBurst: 10 });
    await read(good, NOW);

    // Act
    for (let i = 0; i < 10; i++) await read(forged(good, i), NOW);
    const overBudget = read(forged(good, 100), NOW);
    const goodMeanwhile = await read(good, NOW);
    const checksAtFlood = calls.n;
    const afterRefill = await read(forged(good, 101), NOW + 1000);

    // Assess
    await expect(overBudget).rejects.toThrow(TicketChecksBusyError);
    expect(goodMeanwhile).toBe('s-good');
    expect(checksAtFlood).toBe(11);
    expect(afterRefill).toBeNull();
    expect(calls.n).toBe(12);
  });

  it('is what the signer reads tickets through', async () => {
    // Prepare
    const { signer, good } = await room();

    // Act
    const answers = [
      await signer.readTicket(good, NOW),
      await signer.readTicket(forged(good, 7), NOW),
    ];

    // Assess
    expect(answers).toEqual(['s-good', null]);
  });

  it("spends one source's budget on its forgeries and leaves the room's, and everyone else's resumes, alone", async () => {
    // Prepare: the room 400 at once, each source 40.
    const { good } = await room();
    const { read, calls } = checked(good);
    const attempt = (ticket: string, source: string) =>
      read(ticket, NOW, source).then(
        (sessionId) => sessionId ?? 'refused',
        (error: unknown) => (error instanceof TicketChecksBusyError ? 'busy' : 'error'),
      );

    // Act
    const attacker = [];
    for (let i = 0; i < 100; i++) attacker.push(await attempt(forged(good, i), '203.0.113.9'));
    const checkedForAttacker = calls.n;
    const honest = await attempt(good, '198.51.100.7');
    const attackerGood = await attempt(good, '203.0.113.9');
    const later = await read(forged(good, 1000), NOW + 1000, '203.0.113.9').catch(() => 'busy');

    // Assess
    expect(attacker.slice(0, 40)).toEqual(Array(40).fill('refused'));
    expect(attacker.slice(40)).toEqual(Array(60).fill('busy'));
    expect(checkedForAttacker).toBe(40);
    expect(honest).toBe('s-good');
    // Remembered as good: answered without a check, even for the spent source.
    expect(attackerGood).toBe('s-good');
    // 20 a second come back.
    expect(later).toBeNull();
  });
});
