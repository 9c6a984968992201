import { describe, expect, it } from 'vitest';
import {
  ABANDONED_MEMORY_MS,
  MemorySessionStore,
} from '../../../functions/adapters/local/memory-session-store.ts';
import { newSession } from '../../../functions/core/session.ts';

const T0 = Date.UTC(2026, 10, 25, 12);

async function storeWithWaiting(ids: string[]): Promise<MemorySessionStore> {
  const store = new MemorySessionStore();
  for (const [i, id] of ids.entries()) {
    await store.create(newSession(id, `c-${id}`, '/', T0));
    await store.numberArrivals([{ sessionId: id, order: String(i).padStart(40, '0') }]);
  }
  return store;
}

describe('MemorySessionStore', () => {
  it('forgets an admitted session once its pass has expired, keeping the totals', async () => {
    // Prepare
    const store = await storeWithWaiting(['a', 'b']);
    await store.admit('a', { token: 't', expiresAt: T0 / 1000 + 60 }, T0);

    // Act: a join after the pass expired.
    await store.create(newSession('c', 'c-c', '/', T0 + 61_000));

    // Assess
    expect(await store.get('a')).toBeUndefined();
    expect(await store.sessionOfConnection('c-a')).toBeUndefined();
    expect((await store.counts()).admitted).toBe(1);
    expect(await store.get('b')).toBeDefined();
  });

  it('hands an admitted session back while its pass is still valid', async () => {
    // Prepare
    const store = await storeWithWaiting(['a']);
    await store.admit('a', { token: 't', expiresAt: T0 / 1000 + 60 }, T0);

    // Act
    await store.create(newSession('c', 'c-c', '/', T0 + 59_000));

    // Assess
    expect((await store.get('a'))?.state).toBe('admitted');
  });

  it('forgets an abandoned session after a while', async () => {
    // Prepare
    const store = await storeWithWaiting(['a']);
    await store.detachConnection('c-a', T0);
    await store.abandon('a', T0, T0 + 1000);

    // Act
    await store.create(newSession('c', 'c-c', '/', T0 + 1000 + ABANDONED_MEMORY_MS));

    // Assess
    expect(await store.get('a')).toBeUndefined();
    expect(store.size).toBe(1);
  });

  it('keeps the line in arrival order even if an arrival comes late', async () => {
    // Prepare
    const store = new MemorySessionStore();
    for (const id of ['x', 'y', 'z']) await store.create(newSession(id, `c-${id}`, '/', T0));

    // Act
    await store.numberArrivals([
      { sessionId: 'x', order: '01' },
      { sessionId: 'z', order: '03' },
      { sessionId: 'y', order: '02' },
    ]);

    // Assess
    const line = (await store.readLine()).map((s) => s.id);
    expect(line).toEqual(['x', 'y', 'z']);
  });
});

describe('MemorySessionStore: spent proofs of work', () => {
  it('spends a proof once: a replay is refused until it expires', async () => {
    // Prepare
    const clock = { now: () => T0 };
    const store = new MemorySessionStore(clock);

    // Act
    const first = await store.spendProof('p1', T0 + 300_000);
    const replay = await store.spendProof('p1', T0 + 300_000);
    const other = await store.spendProof('p2', T0 + 300_000);

    // Assess
    expect([first, replay, other]).toEqual([true, false, true]);
  });

  it('forgets spent proofs once they expired, at the next spend', async () => {
    // Prepare
    let now = T0;
    const store = new MemorySessionStore({ now: () => now });
    await store.spendProof('old', T0 + 300_000);
    await store.spendProof('young', T0 + 400_000);

    // Act
    now = T0 + 300_000;
    await store.spendProof('new', now + 300_000);

    // Assess: the expired record is gone (its proof is refused as expired before any spend);
    // the one still alive is kept.
    expect(await store.spendProof('old', now + 1)).toBe(true);
    expect(await store.spendProof('young', T0 + 400_000)).toBe(false);
  });
});
