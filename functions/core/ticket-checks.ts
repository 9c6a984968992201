/**
 * Ticket checks on a budget. A signature check costs the room a little CPU, and a flood of
 * `resume` frames with forged tickets, each frame within its connection's limits, once took a
 * bystander's ping from 1.6 ms to over a second. So before any signature is checked:
 *
 * - a ticket that cannot be one of this room's (not a compact JWS, another algorithm, `typ`,
 *   issuer or audience, no subject, expired, a signature of the wrong length) is refused from
 *   its decoded parts alone;
 * - a ticket checked lately is answered from memory: good ones (a visitor reconnecting) until
 *   they expire, bad ones as bad;
 * - the room has a budget of failed signature checks (a token bucket): once forged tickets
 *   have spent it, a ticket it has not seen is answered "busy" without being checked, until
 *   the budget refills. Good tickets never spend it, so honest resumes only wait while an attack
 *   is going on, and then retry (the page backs off on `rate_limited`);
 * - each source address has a budget of its own, a tenth of the room's: one machine forging
 *   tickets is answered "busy" once it has spent its share, and leaves the room's budget, and
 *   so the resumes of everyone else, alone. It takes many machines to spend the room's.
 */
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { createKeyedBucket } from './sources.ts';

/** The room spent its budget of failed ticket checks: answer `rate_limited`, check nothing. */
export class TicketChecksBusyError extends Error {
  constructor() {
    super('too many bad tickets to check right now');
    this.name = 'TicketChecksBusyError';
  }
}

export interface TicketCheckOptions {
  roomId: string;
  audience: string;
  typ: string;
  /** Failed signature checks a second the room allows itself, and how many at once. */
  failuresPerSecond?: number;
  failureBurst?: number;
  /** The same for one source address; a tenth of the room's by default. */
  sourceFailuresPerSecond?: number;
  sourceFailureBurst?: number;
  /** Tickets remembered, good and bad. */
  remember?: number;
}

/** An ES256 signature in a compact JWS: 64 bytes, 86 base64url characters. */
const ES256_SIGNATURE_LENGTH = 86;

/**
 * Wraps `verify` (the signature and claims check; resolves the session id or null) with the
 * checks above. `now` is epoch ms; `source` the key of the asking address (null: unknown, only
 * the room's budget applies).
 */
export function checkTicketsOnBudget(
  verify: (ticket: string, now: number) => Promise<string | null>,
  options: TicketCheckOptions,
): (ticket: string, now: number, source?: string | null) => Promise<string | null> {
  const rate = options.failuresPerSecond ?? 200;
  const burst = options.failureBurst ?? 400;
  const perSource = createKeyedBucket({
    perSecond: options.sourceFailuresPerSecond ?? rate / 10,
    burst: options.sourceFailureBurst ?? burst / 10,
  });
  const remember = options.remember ?? 20_000;
  const good = new Map<string, { sessionId: string; expiresAt: number }>();
  const bad = new Map<string, true>();
  let tokens = burst;
  let refilledAt: number | null = null;

  /** When a ticket that could be this room's expires (epoch ms), or null if it cannot be. */
  function plausibleUntil(ticket: string, now: number): number | null {
    const parts = ticket.split('.');
    if (parts.length !== 3 || parts[2]?.length !== ES256_SIGNATURE_LENGTH) return null;
    try {
      const header = decodeProtectedHeader(ticket);
      const claims = decodeJwt(ticket);
      const plausible =
        header.alg === 'ES256' &&
        header.typ === options.typ &&
        claims.iss === options.roomId &&
        claims.aud === options.audience &&
        typeof claims.sub === 'string' &&
        typeof claims.exp === 'number' &&
        claims.exp * 1000 > now;
      return plausible ? (claims.exp as number) * 1000 : null;
    } catch {
      return null;
    }
  }

  /** Remembers `key`, forgetting the oldest entry past `remember`. */
  function keep<V>(map: Map<string, V>, key: string, value: V): void {
    map.set(key, value);
    if (map.size > remember) {
      const oldest = map.keys().next().value;
      if (oldest !== undefined) map.delete(oldest);
    }
  }

  return async (ticket, now, source = null) => {
    const known = good.get(ticket);
    if (known) {
      if (known.expiresAt > now) return known.sessionId;
      good.delete(ticket);
    }
    const expiresAt = bad.has(ticket) ? null : plausibleUntil(ticket, now);
    if (expiresAt === null) return null;
    // Both budgets are spent up front (checks run concurrently), given back if the ticket is good.
    if (source !== null && !perSource.take(source, now)) throw new TicketChecksBusyError();
    tokens = Math.min(burst, tokens + ((now - (refilledAt ?? now)) / 1000) * rate);
    refilledAt = now;
    if (tokens < 1) {
      if (source !== null) perSource.give(source);
      throw new TicketChecksBusyError();
    }
    tokens -= 1;
    const sessionId = await verify(ticket, now);
    if (sessionId === null) {
      keep(bad, ticket, true);
      return null;
    }
    tokens = Math.min(burst, tokens + 1);
    if (source !== null) perSource.give(source);
    keep(good, ticket, { sessionId, expiresAt });
    return sessionId;
  };
}
