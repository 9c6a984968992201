import { describe, expect, it, vi } from 'vitest';
import { type Clock, createCachedReading, createFlagCache } from '../../../edge/flag-cache.ts';

const TTL_MS = 5000;

function fakeClock(start = 1_000_000): Clock & { advance(ms: number): void } {
  let now = start;
  return {
    now: () => now,
    advance(ms: number) {
      now += ms;
    },
  };
}

/** A read whose result the test decides, one call at a time. */
function controlledRead() {
  const pending: Array<{ resolve(v: boolean): void; reject(e: unknown): void }> = [];
  const read = vi.fn(
    () =>
      new Promise<boolean>((resolve, reject) => {
        pending.push({ resolve, reject });
      }),
  );
  return { read, pending };
}

describe('createFlagCache', () => {
  it('reads the flag on the first get', async () => {
    // Prepare
    const read = vi.fn().mockResolvedValue(false);
    const cache = createFlagCache({ read, ttlMs: TTL_MS, defaultValue: true, clock: fakeClock() });

    // Act
    const value = await cache.get();

    // Assess
    expect(value).toBe(false);
    expect(read).toHaveBeenCalledTimes(1);
  });

  it('serves the value read without reading again until the TTL has passed', async () => {
    const clock = fakeClock();
    const read = vi.fn().mockResolvedValueOnce(false).mockResolvedValueOnce(true);
    const cache = createFlagCache({ read, ttlMs: TTL_MS, defaultValue: true, clock });
    await cache.get();

    clock.advance(TTL_MS - 1);
    const cached = await cache.get();

    expect(cached).toBe(false);
    expect(read).toHaveBeenCalledTimes(1);
  });

  it('reads again once the TTL has passed', async () => {
    const clock = fakeClock();
    const read = vi.fn().mockResolvedValueOnce(false).mockResolvedValueOnce(true);
    const cache = createFlagCache({ read, ttlMs: TTL_MS, defaultValue: true, clock });
    await cache.get();

    clock.advance(TTL_MS);
    const fresh = await cache.get();

    expect(fresh).toBe(true);
    expect(read).toHaveBeenCalledTimes(2);
  });

  it('keeps the last value read when a later read fails', async () => {
    const clock = fakeClock();
    const read = vi.fn().mockResolvedValueOnce(false).mockRejectedValueOnce(new Error('timeout'));
    const cache = createFlagCache({ read, ttlMs: TTL_MS, defaultValue: true, clock });
    await cache.get();

    clock.advance(TTL_MS);
    const value = await cache.get();

    expect(value).toBe(false);
    expect(read).toHaveBeenCalledTimes(2);
  });

  it('answers the default value while no read has succeeded yet', async () => {
    const read = vi.fn().mockRejectedValue(new Error('unreachable'));
    const cache = createFlagCache({ read, ttlMs: TTL_MS, defaultValue: true, clock: fakeClock() });

    const value = await cache.get();

    expect(value).toBe(true);
  });

  it('answers a default of off when that is the default it was given', async () => {
    const read = vi.fn().mockRejectedValue(new Error('unreachable'));
    const cache = createFlagCache({ read, ttlMs: TTL_MS, defaultValue: false, clock: fakeClock() });

    const value = await cache.get();

    expect(value).toBe(false);
  });

  it('does not retry a failed read on every get, but again after the TTL', async () => {
    const clock = fakeClock();
    const read = vi.fn().mockRejectedValueOnce(new Error('down')).mockResolvedValueOnce(false);
    const cache = createFlagCache({ read, ttlMs: TTL_MS, defaultValue: true, clock });
    await cache.get();

    clock.advance(TTL_MS - 1);
    const duringBackoff = await Promise.all([cache.get(), cache.get(), cache.get()]);
    const readsDuringBackoff = read.mock.calls.length;
    clock.advance(1);
    const afterBackoff = await cache.get();

    expect(duringBackoff).toEqual([true, true, true]);
    expect(readsDuringBackoff).toBe(1);
    expect(afterBackoff).toBe(false);
    expect(read).toHaveBeenCalledTimes(2);
  });

  it('counts the backoff from the end of a slow failed read', async () => {
    const clock = fakeClock();
    const { read, pending } = controlledRead();
    const cache = createFlagCache({ read, ttlMs: TTL_MS, defaultValue: true, clock });
    const first = cache.get();
    clock.advance(TTL_MS + 1000);
    pending[0]?.reject(new Error('timed out'));
    await first;

    clock.advance(TTL_MS - 1);
    await cache.get();

    expect(read).toHaveBeenCalledTimes(1);
  });

  it('shares one read among concurrent gets', async () => {
    const { read, pending } = controlledRead();
    const cache = createFlagCache({ read, ttlMs: TTL_MS, defaultValue: true, clock: fakeClock() });

    const gets = Array.from({ length: 50 }, () => cache.get());
    pending[0]?.resolve(false);
    const values = await Promise.all(gets);

    expect(read).toHaveBeenCalledTimes(1);
    expect(values.every((v) => v === false)).toBe(true);
  });

  it('treats a read that throws synchronously like a failed read', async () => {
    const clock = fakeClock();
    const read = vi
      .fn<() => Promise<boolean>>()
      .mockImplementationOnce(() => {
        throw new Error('sync failure');
      })
      .mockResolvedValueOnce(false);
    const cache = createFlagCache({ read, ttlMs: TTL_MS, defaultValue: true, clock });

    const first = await cache.get();
    clock.advance(TTL_MS);
    const second = await cache.get();

    expect([first, second]).toEqual([true, false]);
  });

  it('treats a read that returns something other than a boolean as a failure', async () => {
    const read = vi.fn().mockResolvedValue('false' as unknown as boolean);
    const cache = createFlagCache({ read, ttlMs: TTL_MS, defaultValue: true, clock: fakeClock() });

    const value = await cache.get();

    expect(value).toBe(true);
  });

  it('reports each failed read to onReadError', async () => {
    const error = new Error('down');
    const onReadError = vi.fn();
    const read = vi.fn().mockRejectedValue(error);
    const cache = createFlagCache({
      read,
      ttlMs: TTL_MS,
      defaultValue: true,
      clock: fakeClock(),
      onReadError,
    });

    await cache.get();

    expect(onReadError).toHaveBeenCalledWith(error);
  });

  it('ignores an onReadError that throws', async () => {
    const read = vi.fn().mockRejectedValue(new Error('down'));
    const onReadError = () => {
      throw new Error('logger broken');
    };
    const cache = createFlagCache({
      read,
      ttlMs: TTL_MS,
      defaultValue: true,
      clock: fakeClock(),
      onReadError,
    });

    const value = await cache.get();

    expect(value).toBe(true);
  });
});

describe('createCachedReading', () => {
  it('answers undefined until a read succeeds when it has no default', async () => {
    // Prepare
    const clock = fakeClock();
    const read = vi
      .fn<() => Promise<string[]>>()
      .mockRejectedValueOnce(new Error('down'))
      .mockResolvedValueOnce(['a']);
    const reading = createCachedReading({ read, ttlMs: TTL_MS, defaultValue: undefined, clock });

    // Act
    const before = await reading.get();
    clock.advance(TTL_MS);
    const after = await reading.get();

    // Assess
    expect(before).toBeUndefined();
    expect(after).toEqual(['a']);
  });

  it('waits retryAfterErrorMs, not the TTL, after a failed read', async () => {
    const clock = fakeClock();
    const read = vi.fn().mockRejectedValueOnce(new Error('down')).mockResolvedValueOnce(7);
    const reading = createCachedReading<number>({
      read,
      ttlMs: TTL_MS,
      retryAfterErrorMs: 100,
      defaultValue: 0,
      clock,
    });
    await reading.get();

    clock.advance(100);
    const value = await reading.get();

    expect(value).toBe(7);
    expect(read).toHaveBeenCalledTimes(2);
  });

  it('keeps a successful read for the full TTL even with a short retry interval', async () => {
    const clock = fakeClock();
    const read = vi.fn().mockResolvedValueOnce(1).mockResolvedValueOnce(2);
    const reading = createCachedReading<number>({
      read,
      ttlMs: TTL_MS,
      retryAfterErrorMs: 100,
      defaultValue: 0,
      clock,
    });
    await reading.get();

    clock.advance(TTL_MS - 1);
    const value = await reading.get();

    expect(value).toBe(1);
    expect(read).toHaveBeenCalledTimes(1);
  });
});
