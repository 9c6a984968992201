/**
 * 10,000 generated frames (50 runs of 200) from one connection through the route table with no
 * rate limiter in front, so every one of them is parsed and routed: nothing throws, every answer
 * is a well-formed server message, the connection holds one place at most, and the visitors
 * already in line keep their places and exact positions.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseServerMessage } from '../../../client/src/lib/server-message.ts';
import type { ServerMessage } from '../../../functions/core/protocol.ts';
import { handleFrame } from '../../../functions/router.ts';
import { createHarness, joinedOf } from '../../helpers/room-harness.ts';
import { frameArbitrary } from './hostile-frames.ts';

const RUNS = 50;
const FRAMES_PER_RUN = 200;

describe('generated frames from one connection', () => {
  it('never throw, always get well-formed answers and leave everyone else in place', async () => {
    let framesSent = 0;
    const answerTypes = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(
        fc.array(frameArbitrary, { minLength: FRAMES_PER_RUN, maxLength: FRAMES_PER_RUN }),
        async (frames) => {
          // Prepare: three visitors in line, numbered.
          const h = await createHarness({ config: { admitPerMinute: 0 } });
          const honest = [];
          for (let i = 0; i < 3; i++) {
            honest.push(joinedOf(await h.send(`honest${i}`, { action: 'join' })).sessionId);
          }
          await h.tick();
          const before = await Promise.all(
            honest.map(async (id) => ({ ...(await h.store.get(id)) })),
          );

          // Act
          const answers: ServerMessage[] = [];
          for (const frame of frames) {
            answers.push(...(await handleFrame(h.router, 'fuzzer', frame)));
            framesSent += 1;
          }
          await h.tick();

          // Assess
          for (const answer of answers) {
            expect(
              parseServerMessage(JSON.stringify(answer)),
              JSON.stringify(answer),
            ).not.toBeNull();
            expect(['joined', 'position', 'pong', 'error']).toContain(answer.type);
            if (answer.type === 'error') expect(answer.code).not.toBe('internal');
            answerTypes.set(answer.type, (answerTypes.get(answer.type) ?? 0) + 1);
          }
          const places = new Set(
            answers.flatMap((m) => (m.type === 'joined' ? [m.sessionId] : [])),
          );
          expect(places.size).toBeLessThanOrEqual(1);
          const counts = await h.store.counts();
          expect(counts.waiting + counts.arriving).toBe(3 + places.size);
          for (const [i, id] of honest.entries()) {
            const now = await h.store.get(id);
            expect(now?.seq).toBe(before[i]?.seq);
            expect(now?.connectionId).toBe(`honest${i}`);
            expect(now?.state).toBe('waiting');
            const told = h.notifier.messages(`honest${i}`).filter((m) => m.type === 'position');
            expect(told.at(-1)).toMatchObject({ position: i + 1 });
          }
        },
      ),
      { numRuns: RUNS, seed: 20261125 },
    );

    expect(framesSent).toBe(RUNS * FRAMES_PER_RUN);
    console.info(
      `fuzz: ${framesSent} generated frames routed without a rate limiter; answers ${JSON.stringify(Object.fromEntries(answerTypes))}`,
    );
  });
});
