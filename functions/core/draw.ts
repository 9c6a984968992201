/**
 * The draw at a scheduled opening: everyone who joined before it (the pre-queue) gets a
 * uniformly random place, ahead of everyone who joins after.
 *
 * The order is a pure function of what the store keeps, so a processor that takes the lease
 * over, or restarts, rebuilds the same line without a write per visitor:
 *
 * - when a schedule is first seen, the processor makes a secret random `seed` and publishes its
 *   `commitment` (SHA-256 of the seed's hex text) in every `prequeue` message;
 * - at the opening (once the arrivals of the last moments before it are numbered) it records the
 *   draw: when, and the last sequence numbered (`lastSeq`). The members are the sessions numbered
 *   by then that joined before the opening;
 * - a member's place is `SHA-256("<seed>:<session id>")`, members sorted by it (as hex text),
 *   all ahead of everyone else, who keep their order of arrival. The seed is published with the
 *   members' positions, so anyone can recompute the order from the session ids:
 *   `printf '%s:%s' "$seed" "$id" | sha256sum`, sorted.
 *
 * A hash of a secret seed and a distinct id is, for every practical purpose, an independent
 * uniform draw per member, so the sorted order is a uniformly random permutation; the seed is
 * fixed before anyone can know it matters (the commitment is out before the opening) and only
 * the processor knows it until the draw.
 */
import { createHash, randomBytes } from 'node:crypto';

/** A room's draw, kept with the processor's room state. */
export interface RoomDraw {
  /** The opening it is for (epoch ms). */
  opensAt: number;
  /** 32 random bytes as hex: secret until drawn. */
  seed: string;
  /** SHA-256 of `seed` (hex), published before the opening. */
  commitment: string;
  /** When the pre-queue was drawn (epoch ms), or null while it is still to come. */
  drawnAt: number | null;
  /** The last sequence numbered when it was drawn: members were numbered at or before it. */
  lastSeq: string | null;
  /** How many were drawn (null until drawn). */
  members: number | null;
}

/** What a draw reads of a session to place it. */
export interface DrawnSession {
  id: string;
  seq: string;
  joinedAt: number;
}

/**
 * How long after the opening the draw waits, so that arrivals of the last moment before it are
 * numbered first (a tick, plus what an arrival log may lag behind its writes). Until then the
 * pre-queue hears `prequeue` with an opening in the past ("opening now").
 */
export const DRAW_SETTLE_MS = 2_000;

/** SHA-256 of a seed's hex text, as hex: what is published before the opening. */
export function commitmentOf(seed: string): string {
  return createHash('sha256').update(seed, 'utf8').digest('hex');
}

/** A member's rank in the draw (hex): members are placed in the order of their ranks. */
export function drawRank(seed: string, sessionId: string): string {
  return createHash('sha256').update(`${seed}:${sessionId}`, 'utf8').digest('hex');
}

/** A new draw for an opening, with a fresh secret seed. */
export function newDraw(opensAt: number, seed = randomBytes(32).toString('hex')): RoomDraw {
  return {
    opensAt,
    seed,
    commitment: commitmentOf(seed),
    drawnAt: null,
    lastSeq: null,
    members: null,
  };
}

/** Whether the room is before its opening (or drawing it): nobody is admitted or placed yet. */
export function isPrequeue(draw: RoomDraw | null | undefined): draw is RoomDraw {
  return draw != null && draw.drawnAt === null;
}

/** Whether a pending draw's time has come (the opening, plus the settling time). */
export function dueToDraw(draw: RoomDraw | null | undefined, now: number): draw is RoomDraw {
  return isPrequeue(draw) && now >= draw.opensAt + DRAW_SETTLE_MS;
}

/** Whether a numbered session was drawn: numbered by the draw, and joined before the opening. */
export function isMember(draw: RoomDraw | null | undefined, session: DrawnSession): boolean {
  return (
    draw != null &&
    draw.drawnAt !== null &&
    draw.lastSeq !== null &&
    session.seq <= draw.lastSeq &&
    session.joinedAt < draw.opensAt
  );
}

/**
 * A session's place in the room's order, as a string that sorts as the line does: members of a
 * draw by their rank, ahead of everyone else by sequence.
 */
export function placeOf(draw: RoomDraw | null | undefined, session: DrawnSession): string {
  return isMember(draw, session)
    ? `0${drawRank((draw as RoomDraw).seed, session.id)}`
    : `1${session.seq}`;
}

/**
 * The draw a room has for the schedule the operator set (`opensAt`, epoch ms or null) at `now`:
 *
 * - a schedule in the future that has no draw yet gets a new one (a draw already made for an
 *   earlier opening is replaced: everyone still in line is in the new pre-queue);
 * - a pending draw follows the schedule when it moves (its commitment is out, its seed stays),
 *   and is dropped when the schedule is cleared before the opening (the line is in arrival order);
 * - a draw that was made stays as it is: its members keep their places;
 * - a schedule already past when first seen has no pre-queue, so nothing to draw.
 */
export function drawFor(
  draw: RoomDraw | null | undefined,
  opensAt: number | null | undefined,
  now: number,
): RoomDraw | null {
  const current = draw ?? null;
  if (current !== null && current.drawnAt === null) {
    if (opensAt == null) return null;
    return current.opensAt === opensAt ? current : { ...current, opensAt };
  }
  if (opensAt == null || current?.opensAt === opensAt) return current;
  return now < opensAt ? newDraw(opensAt) : current;
}

/**
 * Records the draw over the numbered line (`seqs`, each session's sequence): the last of them
 * bounds the members; `members` counts those who joined before the opening.
 */
export function recordDraw(
  draw: RoomDraw,
  sessions: Iterable<DrawnSession>,
  now: number,
): RoomDraw {
  let lastSeq: string | null = null;
  let members = 0;
  for (const session of sessions) {
    if (lastSeq === null || session.seq > lastSeq) lastSeq = session.seq;
    if (session.joinedAt < draw.opensAt) members += 1;
  }
  return { ...draw, drawnAt: now, lastSeq: lastSeq ?? '', members };
}

/** A draw as the room publishes it: the seed only once the draw is made. */
export type PublishedDraw = Omit<RoomDraw, 'seed' | 'lastSeq'> & { seed: string | null };

/** The draw as published (never the seed before it is made). */
export function publishedDraw(draw: RoomDraw): PublishedDraw {
  return {
    opensAt: draw.opensAt,
    commitment: draw.commitment,
    seed: draw.drawnAt === null ? null : draw.seed,
    drawnAt: draw.drawnAt,
    members: draw.members,
  };
}
