/**
 * A visitor's session: one place in one room's line, from `join` to admission or abandonment.
 */
import type { IssuedPass } from './ports.ts';

/**
 * `arriving`: joined, its arrival not yet numbered by the processor.
 * `waiting`: numbered, holding a place in line.
 * `admitted`: holds a pass. `abandoned`: gone longer than the grace; the place is given up.
 */
export type SessionState = 'arriving' | 'waiting' | 'admitted' | 'abandoned';

export interface Session {
  id: string;
  state: SessionState;
  /** Main-site path and query to go back to (already made safe). */
  returnPath: string;
  /** Epoch ms of the `join`. */
  joinedAt: number;
  /** Place in the room's order (the arrival's `order`, sorts as a string); null while arriving. */
  seq: string | null;
  /** The connection updates go to; null before the first bind. */
  connectionId: string | null;
  /** Epoch ms since the current connection has been gone, or null while connected. */
  disconnectedAt: number | null;
  /**
   * Goes up by one with every change of `connectionId` or `disconnectedAt`, so the processor
   * can tell a late change from a newer one.
   */
  connectionVersion: number;
  pass: IssuedPass | null;
  admittedAt: number | null;
  /** Whether the `admitted` message has been delivered (or made moot by a lost connection). */
  admissionNotified: boolean;
  /**
   * The source address key (`sourceKey`) the place is counted under while in line; absent when
   * it is not counted (limits off, or no address known).
   */
  source?: string;
  /** The person's key (`identity.ts`) the place was taken for; absent without identity tokens. */
  identity?: string;
}

/** A fresh session in state `arriving`, bound to the connection that joined. */
export function newSession(
  id: string,
  connectionId: string,
  returnPath: string,
  joinedAt: number,
): Session {
  return {
    id,
    state: 'arriving',
    returnPath,
    joinedAt,
    seq: null,
    connectionId,
    disconnectedAt: null,
    connectionVersion: 0,
    pass: null,
    admittedAt: null,
    admissionNotified: false,
  };
}

/** Whether a session still holds (or is about to hold) a place in line. */
export function isInLine(session: Pick<Session, 'state'>): boolean {
  return session.state === 'arriving' || session.state === 'waiting';
}
