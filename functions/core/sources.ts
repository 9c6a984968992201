/**
 * Limits per source address. A security review had one client take 5,000 places in 3.5 s and
 * open 5,000 idle sockets from one address: every limit per connection holds, and still one
 * machine fills the line in front of real visitors. So the room also counts what each source
 * address holds:
 *
 * - places held at once (arriving or waiting), {@link SourceLimits.maxPlaces}; a `join` over it
 *   gets `rate_limited`, and a place is given back when its session is admitted or abandoned;
 * - new sockets a second ({@link SourceLimits.newSockets}, a token bucket): over it the
 *   handshake is refused with 429 (API Gateway cannot send a frame before `$connect` returns);
 * - locally, sockets open at once ({@link SourceLimits.maxSockets}): a process has a fixed
 *   number of files to spend.
 *
 * The defaults are set for shared addresses, not for single machines. Mobile carriers put
 * hundreds to thousands of subscribers behind one IPv4 address (carrier-grade NAT), as do
 * offices, campuses and public Wi-Fi; if 2% of a country queues for a big sale (a million
 * waiting), a carrier address shared by a thousand phones brings about 20 visitors, and a campus
 * or corporate gateway a few dozen. 100 places per address leaves that room five times over and
 * still cuts one client's grab from 5,000 places to 100. IPv6 clients get a /64 each (one
 * subscriber's prefix), so they are counted per /64, not per address: a client can pick any of
 * 2^64 addresses in its own prefix.
 */

/** What the room holds back per source address. */
export interface SourceLimits {
  /** Places (arriving or waiting) one source may hold at once. */
  maxPlaces: number;
  /** New sockets a second one source may open, and how many back to back. */
  newSockets: { perSecond: number; burst: number };
  /** Sockets one source may hold open at once (enforced where the room holds the sockets). */
  maxSockets: number;
}

/** The defaults, argued above: a shared address of a thousand phones passes, a script does not. */
export const DEFAULT_MAX_PLACES_PER_SOURCE = 100;

/** The limits for a given number of places per source. */
export function sourceLimitsFor(maxPlaces: number): SourceLimits {
  return {
    maxPlaces,
    // A page opens one socket and reconnects with backoff: a shared address's visitors all
    // opening the page within a second or two pass; a script opening thousands does not.
    newSockets: { perSecond: Math.max(10, Math.ceil(maxPlaces / 5)), burst: maxPlaces * 2 },
    // Each visitor a tab or two, plus reconnects whose old socket has not closed yet.
    maxSockets: maxPlaces * 2,
  };
}

/**
 * The key a source address is counted under: an IPv4 address as it is (an IPv4-mapped IPv6
 * address as the IPv4 one), an IPv6 address as its /64 prefix. Null when there is no address
 * (nothing to count it under: such a connection is not limited per source).
 */
export function sourceKey(address: string | undefined | null): string | null {
  if (!address) return null;
  let value = address.trim().toLowerCase();
  if (value.startsWith('[') && value.endsWith(']')) value = value.slice(1, -1);
  const zone = value.indexOf('%');
  if (zone !== -1) value = value.slice(0, zone);
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(value);
  if (mapped) return mapped[1] as string;
  if (/^\d{1,3}(?:\.\d{1,3}){3}$/.test(value)) return value;
  if (!value.includes(':')) return null;
  const groups = expandIpv6(value);
  if (!groups) return null;
  return `${groups.slice(0, 4).join(':')}::/64`;
}

/** The eight 16-bit groups of an IPv6 address, without leading zeros; null if it is not one. */
function expandIpv6(value: string): string[] | null {
  // A trailing embedded IPv4 (::ffff:1.2.3.4 handled above; 64:ff9b::1.2.3.4 and the like).
  let text = value;
  const v4 = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  if (!groups.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return null;
  return groups.map((g) => Number.parseInt(g, 16).toString(16));
}

/**
 * A token bucket per key (new sockets per source), in memory: past `maxTracked` keys, the one
 * used longest ago is forgotten (its next socket finds a full bucket).
 */
export function createKeyedBucket(options: {
  perSecond: number;
  burst: number;
  maxTracked?: number;
}) {
  const { perSecond, burst } = options;
  const maxTracked = options.maxTracked ?? 100_000;
  const buckets = new Map<string, { tokens: number; at: number }>();
  return {
    /** Whether `key` may spend one more now. */
    take(key: string, now: number): boolean {
      const bucket = buckets.get(key);
      const tokens = bucket
        ? Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * perSecond)
        : burst;
      if (tokens < 1) {
        if (bucket) Object.assign(bucket, { tokens, at: now });
        return false;
      }
      if (bucket) {
        // Moved to the end: the map stays in order of last use.
        buckets.delete(key);
      } else if (buckets.size >= maxTracked) {
        const oldest = buckets.keys().next();
        if (!oldest.done) buckets.delete(oldest.value);
      }
      buckets.set(key, { tokens: tokens - 1, at: now });
      return true;
    },
    /** Gives back one `take` (what it was spent on turned out not to count). */
    give(key: string): void {
      const bucket = buckets.get(key);
      if (bucket) bucket.tokens = Math.min(burst, bucket.tokens + 1);
    },
  };
}
