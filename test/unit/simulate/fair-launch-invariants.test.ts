/**
 * The simulator's fair-launch checks over crafted traces: a drawn pre-queue admitted as the seed
 * says passes; a broken draw order, a position before the opening, a seed that is not the
 * commitment's, a later join ahead of the pre-queue and a proof refused are each caught.
 */
import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import type { TraceEvent, VisitorTrace } from '../../../tools/simulate/events.ts';
import {
  checkInvariants,
  type InvariantReport,
  summarize,
} from '../../../tools/simulate/invariants.ts';
import { checkAllPasses } from '../../../tools/simulate/passes.ts';
import { at, planOf, type TestKey, TraceBuilder, testKey } from './trace-builder.ts';

let room: TestKey;

beforeAll(async () => {
  room = await testKey();
});

const STOP = at(60);
/** The opening: 10 s after T (a whole second, as the simulator schedules it). */
const OPENS = at(10);
const SEED = 'ab'.repeat(32);
const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
const COMMITMENT = sha256(SEED);

async function evaluate(
  traces: VisitorTrace[],
  expect_: { prequeue?: boolean; pow?: boolean } = { prequeue: true },
): Promise<InvariantReport> {
  const options = { stopAt: STOP, graceMs: 120_000, staleAfterMs: 45_000 };
  const visitors = traces.map((trace) => summarize(trace, options));
  const passChecks = await checkAllPasses(visitors, room.jwks);
  return checkInvariants(visitors, {
    ...options,
    passChecks,
    settleMarginMs: 10_000,
    maxExamples: 5,
    prequeue: expect_.prequeue ? { opensAt: OPENS } : null,
    pow: expect_.pow ?? false,
  });
}

function result(report: InvariantReport, id: number) {
  const found = report.results.find((r) => r.id === id);
  if (!found) throw new Error(`no invariant ${id}`);
  return found;
}

const push = (b: TraceBuilder, ...events: TraceEvent[]) => {
  b.events.push(...events);
  return b;
};
const prequeue = (seconds: number, waiting: number, commitment: string | null = COMMITMENT) =>
  ({ t: at(seconds), k: 'prequeue', opensAt: OPENS / 1000, waiting, commitment }) as TraceEvent;
const drawn = (seconds: number, position: number, waiting: number, seed = SEED): TraceEvent[] => [
  { t: at(seconds) - 1, k: 'draw', seed, commitment: sha256(seed) },
  { t: at(seconds), k: 'position', position, waiting, drawn: true },
];

/** The members' indices (0..n-1) in the order the seed draws them. */
function drawOrder(members: TraceBuilder[], seed = SEED): TraceBuilder[] {
  return [...members].sort((a, b) =>
    sha256(`${seed}:${a.sessionId}`) < sha256(`${seed}:${b.sessionId}`) ? -1 : 1,
  );
}

/**
 * Four members joined before the opening (one churns during the pre-queue), told their exact
 * drawn places at 12 s and admitted one a second in drawn order from 13 s; then two later joins
 * admitted after them. `order` overrides the admission order of the members.
 */
async function drawnRun(order?: (drawn: TraceBuilder[]) => TraceBuilder[]) {
  const members = [0, 1, 2, 3].map((i) => {
    const b = new TraceBuilder(i).join(i * 0.5, i * 0.5 + 0.01);
    return push(b, prequeue(i * 0.5 + 0.1, i + 1), prequeue(8, 4, null));
  });
  (members[1] as TraceBuilder).churn(5, 0.5);
  push(members[1] as TraceBuilder, prequeue(5.6, 4));
  const ranked = drawOrder(members);
  const admitting = order ? order(ranked) : ranked;
  for (const [place, b] of ranked.entries()) push(b, ...drawn(12, place + 1, 6));
  for (const [i, b] of admitting.entries())
    b.admitted(13 + i, await room.pass(b.sessionId, 13 + i));
  const later = [4, 5].map((i) => new TraceBuilder(i).join(10.5 + i * 0.1, 10.6 + i * 0.1));
  for (const [i, b] of later.entries()) {
    b.position(12, 5 + i, 6);
    b.admitted(17 + i, await room.pass(b.sessionId, 17 + i));
  }
  return { members, ranked, later, traces: [...members, ...later].map((b) => b.build()) };
}

describe('the fair-launch checks of the simulator', () => {
  it('pass a pre-queue admitted in the drawn order ahead of later joins, FIFO exempting the draw', async () => {
    // Prepare
    const { traces } = await drawnRun();

    // Act
    const report = await evaluate(traces);

    // Assess
    expect(report.results.filter((r) => !r.ok)).toEqual([]);
    expect(report.results.map((r) => r.id)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('catch members admitted against the drawn order', async () => {
    // Prepare: the draw's last two swapped.
    const { traces, ranked } = await drawnRun((d) => [d[0], d[1], d[3], d[2]] as TraceBuilder[]);
    const [third, fourth] = [ranked[2] as TraceBuilder, ranked[3] as TraceBuilder];

    // Act
    const report = await evaluate(traces);

    // Assess
    expect(result(report, 8).examples).toEqual([
      {
        visitor: `v${fourth.index}`,
        detail: expect.stringContaining(`before v${third.index} (drawn ahead of it)`),
      },
    ]);
    expect(result(report, 1).ok).toBe(true);
  });

  it('catch members admitted in their order of arrival instead of the draw', async () => {
    // Prepare: admitted v0, v1, v2, v3, which this seed does not draw.
    const { members, later } = await drawnRun();
    for (const [i, b] of members.entries()) {
      const kept = b.events.filter((e) => e.k !== 'admitted' && !(e.k === 'close' && e.t > at(12)));
      b.events.splice(0, b.events.length, ...kept);
      b.admitted(13 + i, await room.pass(b.sessionId, 13 + i));
    }

    // Act
    const report = await evaluate([...members, ...later].map((b) => b.build()));

    // Assess
    expect(drawOrder(members).map((b) => b.index)).not.toEqual([0, 1, 2, 3]);
    expect(result(report, 8).ok).toBe(false);
    expect(result(report, 1).ok).toBe(true);
  });

  it('catch a first position that is not 1 + the members drawn ahead still waiting', async () => {
    // Prepare: the second drawn told place 3 (one ahead of it is waiting: it should be 2).
    const { ranked, later } = await drawnRun();
    const second = ranked[1] as TraceBuilder;
    const position = second.events.find((e) => e.k === 'position') as { position: number };
    position.position = 3;

    // Act
    const report = await evaluate([...ranked, ...later].map((b) => b.build()));

    // Assess
    const draw = result(report, 8);
    expect(draw.ok).toBe(false);
    expect(draw.examples[0]?.detail).toContain(
      'first position after the opening was 3; the draw puts it at 2',
    );
  });

  it('catch a later join admitted before a member, and a member that lost its draw on reconnect', async () => {
    // Prepare
    const { ranked, later } = await drawnRun();
    const last = ranked[3] as TraceBuilder;
    const firstLater = later[0] as TraceBuilder;
    const lastPass = last.events.find((e) => e.k === 'admitted') as { pass: string };
    const laterPass = firstLater.events.find((e) => e.k === 'admitted') as { pass: string };
    // The later join got the second-13 pass, the member the second-17 one.
    [lastPass.pass, laterPass.pass] = [
      await room.pass(last.sessionId, 17),
      await room.pass(firstLater.sessionId, 13),
    ];
    for (const b of [last, firstLater]) {
      const admitted = b.events.find((e) => e.k === 'admitted') as {
        pass: string;
        redirectUrl: string;
      };
      admitted.redirectUrl = `http://127.0.0.1:8080${b.plan.returnPath}?wr_pass=${admitted.pass}`;
    }
    const member = ranked[0] as TraceBuilder;
    member.events.push({ t: at(12.5), k: 'position', position: 1, waiting: 5 });

    // Act
    const report = await evaluate([...ranked, ...later].map((b) => b.build()));

    // Assess
    const details = result(report, 8)
      .examples.map((e) => e.detail)
      .join('\n');
    expect(details).toContain('joined after the opening and admitted at iat');
    expect(details).toContain('without the draw');
  });

  it('catch a position or an admission before the opening, and a seed that is not the commitment', async () => {
    // Prepare
    const { ranked, later } = await drawnRun();
    (ranked[0] as TraceBuilder).events.push({ t: at(9), k: 'position', position: 1, waiting: 4 });
    push(ranked[1] as TraceBuilder, {
      t: at(12.5),
      k: 'draw',
      seed: 'cd'.repeat(32),
      commitment: COMMITMENT,
    });
    push(ranked[2] as TraceBuilder, prequeue(9.5, 4, sha256('other')));

    // Act
    const report = await evaluate([...ranked, ...later].map((b) => b.build()));

    // Assess
    expect(result(report, 6).examples[0]?.detail).toContain('before the opening');
    const commitment = result(report, 7)
      .examples.map((e) => e.detail)
      .join('\n');
    expect(commitment).toContain('does not hash to commitment');
    expect(commitment).toContain('prequeue named commitment');
  });

  it('fail the pre-queue check when nobody heard prequeue', async () => {
    // Prepare
    const a = new TraceBuilder(0).join(0, 0.01).position(0.5, 1);
    a.admitted(1.2, await room.pass(a.sessionId, 1));
    const options = { stopAt: STOP, graceMs: 120_000, staleAfterMs: 45_000 };

    // Act
    const report = checkInvariants([summarize(a.build(), options)], {
      ...options,
      passChecks: new Map(),
      settleMarginMs: 10_000,
      maxExamples: 5,
      prequeue: { opensAt: null },
    });

    // Assess
    expect(result(report, 6).examples[0]?.detail).toContain('no visitor heard prequeue');
  });

  it('pass proofs taken and a replay refused, and catch invalid_proof, a replay accepted and a planned replay never made', async () => {
    // Prepare
    const proof = (
      b: TraceBuilder,
      replay: 'refused' | 'accepted' | 'unfinished' | null,
      invalid = false,
    ) => {
      b.events.unshift(
        { t: at(0) - 50, k: 'dial', purpose: 'join', attempt: 1 },
        { t: at(0) - 40, k: 'challenge', attempts: 10 },
        { t: at(0) - 10, k: 'solved', ms: 30, queuedMs: 0, ok: true },
      );
      if (invalid) b.events.push({ t: at(0.3), k: 'error', code: 'invalid_proof' });
      if (replay) b.events.push({ t: at(0.5), k: 'replay', result: replay });
      return b;
    };
    const good = proof(new TraceBuilder(0).join(0, 0.01), 'refused');
    good.admitted(1, await room.pass(good.sessionId, 1));
    const bad = proof(new TraceBuilder(1).join(0.1, 0.11), 'accepted', true);
    bad.admitted(2, await room.pass(bad.sessionId, 2));
    const replaying = planOf(2, { replay: { pauseMs: 200 } });
    const cut = proof(new TraceBuilder(2, replaying).join(0.2, 0.21), 'unfinished');
    cut.admitted(2, await room.pass(cut.sessionId, 2));
    const skipped = proof(
      new TraceBuilder(3, planOf(3, { replay: { pauseMs: 200 } })).join(0.3, 0.31),
      null,
    );
    skipped.admitted(2, await room.pass(skipped.sessionId, 2));

    // Act
    const clean = await evaluate([good.build(), cut.build()], { pow: true });
    const broken = await evaluate([good.build(), bad.build(), skipped.build()], { pow: true });

    // Assess
    expect(result(clean, 9).ok).toBe(true);
    expect(result(broken, 9).examples).toEqual([
      {
        visitor: 'v1',
        detail:
          'v1: 1 proof(s) answered invalid_proof; the replayed proof was not refused: accepted',
      },
      { visitor: 'v3', detail: 'v3: the planned replay of its spent proof was never made' },
    ]);
  });
});
