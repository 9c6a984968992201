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
 *   after the schedule was first seen (`afterSeq`) and by the draw, that joined before the opening;
 * - a member's place is `SHA-256("<seed>:<session id>")`, members sorted by it (as hex text),
 *   behind those already in line when the schedule was set (they keep their places) and ahead of
 *   everyone who joins after. The seed is published with the members' positions, so anyone can
 *   recompute the order from the session ids: `printf '%s:%s' "$seed" "$id" | sha256sum`, sorted.
 *
 * A hash of a secret seed and a distinct id is, for every practical purpose, an independent
 * uniform draw per member, so the sorted order is a uniformly random permutation; the seed is
 * fixed before anyone can know it matters (the commitment is out before the opening) and only
 * the processor knows it until the draw.
 */
import { createHash, randomBytes } from 'node:crypto';

/** A room's draw, kept with the processor's room state. */
export interface RoomDraw {
  /**
   * The opening it is for (epoch ms): the operator's schedule, or when the processor saw the
   * schedule moved into the past (the room opened then: nobody who joined before is left out).
   */
  opensAt: number;
  /** The operator's schedule it follows (epoch ms); absent in a draw of an earlier version. */
  schedule?: number;
  /**
   * The last sequence numbered when the schedule was first seen (null: nobody in line): those
   * in line then keep their places, ahead of the pre-queue.
   */
  afterSeq?: string | null;
  /**
   * The draw made before this one, while its members may still be in line: they keep the
   * places it gave them (one draw back; its own `previous` is not kept).
   */
  previous?: RoomDraw | null;
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
 * numbered first (a tick, plus the arrival queue's settle window). Until then the
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

/**
 * A new draw for an opening, with a fresh secret seed, after `afterSeq` (the last sequence
 * numbered now) and a draw made before it, if any.
 */
export function newDraw(
  opensAt: number,
  seed = randomBytes(32).toString('hex'),
  afterSeq: string | null = null,
  previous: RoomDraw | null = null,
): RoomDraw {
  return {
    opensAt,
    schedule: opensAt,
    afterSeq,
    previous: previous === null ? null : { ...previous, previous: null },
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

/**
 * Whether a numbered session was drawn: numbered after the schedule was seen and by the draw,
 * and joined before the opening.
 */
export function isMember(draw: RoomDraw | null | undefined, session: DrawnSession): boolean {
  return (
    draw != null &&
    draw.drawnAt !== null &&
    draw.lastSeq !== null &&
    session.seq <= draw.lastSeq &&
    (draw.afterSeq == null || session.seq > draw.afterSeq) &&
    session.joinedAt < draw.opensAt
  );
}

/**
 * A session's place in the room's order, as a string that sorts as the line does: members of
 * the draw before by its ranks, then those in line before the schedule was seen by sequence,
 * then members of this draw by their ranks, then everyone else by sequence.
 */
export function placeOf(draw: RoomDraw | null | undefined, session: DrawnSession): string {
  if (draw == null) return `3${session.seq}`;
  if (draw.previous && isMember(draw.previous, session)) {
    return `0${drawRank(draw.previous.seed, session.id)}`;
  }
  if (draw.afterSeq != null && session.seq <= draw.afterSeq) return `1${session.seq}`;
  if (isMember(draw, session)) return `2${drawRank(draw.seed, session.id)}`;
  return `3${session.seq}`;
}

/** The operator's schedule a draw follows. */
function scheduleOf(draw: RoomDraw): number {
  return draw.schedule ?? draw.opensAt;
}

/**
 * The draw a room has for the schedule the operator set (`opensAt`, epoch ms or null) at `now`,
 * with `lastSeq` giving the last sequence numbered (asked only for a new draw):
 *
 * - a schedule in the future that has no draw yet gets a new one, after those in line now; a
 *   draw made for an earlier opening becomes its `previous` (its members keep their places);
 * - a pending draw follows the schedule when it moves (its commitment is out, its seed stays);
 *   moved into the past, the room opens now (who joined until now is in the pre-queue); cleared
 *   before the opening, the draw is dropped (the line keeps its order of arrival);
 * - a draw that was made stays as it is;
 * - a schedule already past when first seen has no pre-queue, so nothing to draw.
 */
export function drawFor(
  draw: RoomDraw | null | undefined,
  opensAt: number | null | undefined,
  now: number,
  lastSeq: () => string | null = () => null,
): RoomDraw | null {
  const current = draw ?? null;
  if (current !== null && current.drawnAt === null) {
    if (opensAt == null) return null;
    if (scheduleOf(current) === opensAt) return current;
    return { ...current, schedule: opensAt, opensAt: Math.max(opensAt, now) };
  }
  if (opensAt == null || (current !== null && scheduleOf(current) === opensAt)) return current;
  return now < opensAt ? newDraw(opensAt, undefined, lastSeq(), current) : current;
}

/** Whether two draws are the same record (as stored: a write is conditional on it). */
export function sameDraw(a: RoomDraw | null | undefined, b: RoomDraw | null | undefined): boolean {
  if (a == null || b == null) return a == null && b == null;
  return a.commitment === b.commitment && a.opensAt === b.opensAt && a.drawnAt === b.drawnAt;
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
  const list = [...sessions];
  for (const session of list) {
    if (lastSeq === null || session.seq > lastSeq) lastSeq = session.seq;
  }
  const drawn: RoomDraw = { ...draw, drawnAt: now, lastSeq };
  return { ...drawn, members: list.filter((session) => isMember(drawn, session)).length };
}

/** A draw as the room publishes it: the seed only once the draw is made. */
export type PublishedDraw = Pick<RoomDraw, 'opensAt' | 'commitment' | 'drawnAt' | 'members'> & {
  seed: string | null;
};

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
