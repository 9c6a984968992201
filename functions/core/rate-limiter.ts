/**
 * A token bucket per connection, so one socket flooding frames gets `rate_limited` and cannot
 * slow anyone else down. Kept in memory: a connection lives on one server (or one Lambda
 * container sees a share of its frames, which still bounds what a flood costs).
 */
export interface ConnectionRateLimiter {
  /** Whether the connection may send one more frame now. */
  allow(connectionId: string, now: number): boolean;
  forget(connectionId: string): void;
}

export interface RateLimitOptions {
  /** Frames allowed back to back. */
  burst: number;
  /** Frames per second sustained. */
  perSecond: number;
  /** Connections tracked at most; the oldest are forgotten first. */
  maxTracked?: number;
}

export function createConnectionRateLimiter(options: RateLimitOptions): ConnectionRateLimiter {
  const { burst, perSecond } = options;
  const maxTracked = options.maxTracked ?? 100_000;
  const buckets = new Map<string, { tokens: number; at: number }>();
  return {
    allow(connectionId, now) {
      const bucket = buckets.get(connectionId) ?? { tokens: burst, at: now };
      bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * perSecond);
      bucket.at = now;
      if (!buckets.has(connectionId)) {
        if (buckets.size >= maxTracked) {
          const oldest = buckets.keys().next();
          if (!oldest.done) buckets.delete(oldest.value);
        }
        buckets.set(connectionId, bucket);
      }
      if (bucket.tokens < 1) return false;
      bucket.tokens -= 1;
      return true;
    },
    forget(connectionId) {
      buckets.delete(connectionId);
    },
  };
}
