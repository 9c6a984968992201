import { describe, expect, it, vi } from 'vitest';
import { cachePassChecks } from '../../../edge/pass-cache.ts';
import type { VerifiedPass } from '../../../functions/core/tokens.ts';

const NOW = 1_800_000_000;

function passExpiringAt(expiresAt: number): VerifiedPass {
  return { sessionId: 's', expiresAt, jti: 'j' };
}

describe('cachePassChecks', () => {
  it('verifies a token once and answers the next sights from the cache', async () => {
    // Prepare
    const check = vi.fn(async () => passExpiringAt(NOW + 60));
    const cached = cachePassChecks(check);

    // Act
    const results = [
      await cached('t', NOW),
      await cached('t', NOW + 1),
      await cached('t', NOW + 2),
    ];

    // Assess
    expect(check).toHaveBeenCalledTimes(1);
    expect(results.every((r) => r?.sessionId === 's')).toBe(true);
  });

  it('refuses a cached pass once it has expired', async () => {
    // Prepare
    const cached = cachePassChecks(async () => passExpiringAt(NOW + 60));
    await cached('t', NOW);

    // Act
    const later = await cached('t', NOW + 60);

    // Assess
    expect(later).toBeNull();
  });

  it('keeps no failure, so a bad token is checked every time', async () => {
    // Prepare
    const check = vi.fn(async () => null);
    const cached = cachePassChecks(check);

    // Act
    await cached('bad', NOW);
    await cached('bad', NOW);

    // Assess
    expect(check).toHaveBeenCalledTimes(2);
  });

  it('holds at most its size, dropping the least recently used', async () => {
    // Prepare
    const check = vi.fn(async (_token: string) => passExpiringAt(NOW + 60));
    const cached = cachePassChecks(check, 2);
    await cached('a', NOW);
    await cached('b', NOW);
    await cached('a', NOW);

    // Act: c pushes out b, the least recently used.
    await cached('c', NOW);
    await cached('a', NOW);
    await cached('b', NOW);

    // Assess: a, b, c, then b again.
    expect(check.mock.calls.map(([token]) => token)).toEqual(['a', 'b', 'c', 'b']);
  });

  it('treats a token differing by one character as a new token', async () => {
    // Prepare
    const check = vi.fn(async (token: string) =>
      token === 'good' ? passExpiringAt(NOW + 60) : null,
    );
    const cached = cachePassChecks(check);
    await cached('good', NOW);

    // Act
    const tampered = await cached('goof', NOW);

    // Assess
    expect(tampered).toBeNull();
  });
});
