/**
 * The single-table layout of the waiting room in DynamoDB (partition key `pk`, sort key `sk`,
 * TTL attribute `ttl`, sparse GSI `line` on `line` + `seq`):
 *
 * | item                 | pk              | sk                  | notes                                   |
 * | -------------------- | --------------- | ------------------- | --------------------------------------- |
 * | session              | `S#<sessionId>` | `S`                 | `line` = room#shard while waiting       |
 * | connection           | `C#<connId>`    | `C`                 | `sessionId`; TTL a few hours            |
 * | room state           | `R#<roomId>`    | `STATE`             | token bucket, last line length, totals  |
 * | pending `admitted`   | `R#<roomId>`    | `OUTBOX#<sessionId>`| one per admission not yet delivered     |
 * | processor lease      | `R#<roomId>`    | `LEASE`             | `owner`, `expiresAt`, `asleep(At)`      |
 * | connection change    | `R#<roomId>#CHG#<shard>` | `<ms>#<sessionId>#<version>` | TTL an hour; see below |
 * | places of a source   | `R#<roomId>#SRC#<source>` | `PLACES`           | TTL a day; `dynamo-source-limits.ts`   |
 * | sockets of a source  | `R#<roomId>#SRC#<source>` | `SOCKETS#<window>` | TTL a minute past the window           |
 * | identity binding     | `R#<roomId>#ID#<identity>` | `ID`            | `sessionId`; TTL 3 days from its claim  |
 * | spent proof of work  | `R#<roomId>#POW#<nonce>` | `POW`             | TTL when its challenge expires          |
 *
 * Connection changes of waiting sessions are logged for the processor, which keeps the line in
 * memory: spread over {@link CHANGE_SHARDS} partitions by session id (a partition takes 1,000
 * writes a second), sorted by time, read with consistent Queries from a little before the last
 * read (a handler's write may land a moment after the time it carries).
 *
 * A session item stores the {@link Session} fields that are not null (a null is an absent
 * attribute, so `seq` and `line` never hold a NULL that the index would refuse), plus `line`,
 * `announced` (the connection `joined` was delivered on) and `ttl`.
 *
 * An identity binding ties a person's key (`identity.ts`: a hash, never the site's user id) to
 * the session last made for them, one partition per person: taken with a conditional PutItem
 * (free, or still naming the place being replaced), read consistently. Its TTL outlives a
 * ticket's 48 hours; a binding gone names no place, and the next join claims it afresh.
 *
 * A spent proof of work (`proof-of-work.ts`) is an item of its own, one partition per proof (its
 * challenge's random nonce), written once with a conditional PutItem: of two joins with one
 * proof, one wins. Nothing reads it; TTL removes it once its challenge can no longer be taken.
 */
import type { IssuedPass } from '../../core/ports.ts';
import type { Session, SessionState } from '../../core/session.ts';

export const SESSION_SK = 'S';
export const CONNECTION_SK = 'C';
export const STATE_SK = 'STATE';
export const LEASE_SK = 'LEASE';
export const OUTBOX_PREFIX = 'OUTBOX#';
export const IDENTITY_SK = 'ID';
/** Partitions of the connection change log. */
export const CHANGE_SHARDS = 8;
/** Name of the sparse GSI that holds the waiting line in `seq` order. */
export const LINE_INDEX = 'line';
/**
 * Partitions of the line index: a numbering writes one of them, chosen by session id, so a
 * flash crowd numbered at 1,667 a second puts about 100 writes a second on each (a partition
 * takes 1,000), and a takeover reads them all at once.
 */
export const LINE_SHARDS = 16;

export const sessionKey = (sessionId: string) => ({ pk: `S#${sessionId}`, sk: SESSION_SK });
export const connectionKey = (connectionId: string) => ({
  pk: `C#${connectionId}`,
  sk: CONNECTION_SK,
});
export const roomPk = (roomId: string) => `R#${roomId}`;
/** The binding of a person's key (`identity.ts`) to the session last made for them. */
export const identityBindingKey = (roomId: string, identity: string) => ({
  pk: `R#${roomId}#ID#${identity}`,
  sk: IDENTITY_SK,
});
/** The record of a spent proof of work, by its challenge's nonce. */
export const POW_SK = 'POW';
export const spentProofKey = (roomId: string, id: string) => ({
  pk: `R#${roomId}#POW#${id}`,
  sk: POW_SK,
});
export const outboxKey = (roomId: string, sessionId: string) => ({
  pk: roomPk(roomId),
  sk: `${OUTBOX_PREFIX}${sessionId}`,
});

/** A session id's place among `shards` partitions (stable, spread evenly). */
export function shardOf(sessionId: string, shards: number): number {
  let hash = 0;
  for (let i = 0; i < sessionId.length; i++) hash = (hash * 31 + sessionId.charCodeAt(i)) | 0;
  return Math.abs(hash) % shards;
}

/** The partition of the change log a session's changes go to. */
export function changePk(roomId: string, sessionId: string): string {
  return changeShardPk(roomId, shardOf(sessionId, CHANGE_SHARDS));
}

/** The line index partition (`line` attribute) a waiting session is numbered into. */
export function lineKeyOf(roomId: string, sessionId: string): string {
  return lineShardKey(roomId, shardOf(sessionId, LINE_SHARDS));
}

export const lineShardKey = (roomId: string, shard: number) => `${roomId}#${shard}`;

export const changeShardPk = (roomId: string, shard: number) => `R#${roomId}#CHG#${shard}`;

/** The partition of one source address's counts (`sourceKey`). */
export const sourcePk = (roomId: string, source: string) => `R#${roomId}#SRC#${source}`;

/** The sort key of a change: time first (13 digits, so it sorts), unique per session version. */
export const changeSk = (at: number, sessionId: string, version: number) =>
  `${String(Math.max(0, Math.floor(at))).padStart(13, '0')}#${sessionId}#${version}`;

export interface SessionItem {
  pk: string;
  sk: string;
  id: string;
  state: SessionState;
  returnPath: string;
  joinedAt: number;
  seq?: string;
  connectionId?: string;
  disconnectedAt?: number;
  connectionVersion: number;
  pass?: IssuedPass;
  admittedAt?: number;
  admissionNotified: boolean;
  /** The room and line partition while the session is waiting: what puts it in the `line` index. */
  line?: string;
  /** The connection on which the session's `joined` was delivered. */
  announced?: string;
  /** The source address key the place is counted under. */
  source?: string;
  /** The person's key (`identity.ts`) the place was made for. */
  identity?: string;
  /** Epoch seconds after which DynamoDB may delete the item. */
  ttl?: number;
}

/** The item for a session (nulls left out). */
export function toSessionItem(session: Session, roomId: string, ttl?: number): SessionItem {
  const item: SessionItem = {
    ...sessionKey(session.id),
    id: session.id,
    state: session.state,
    returnPath: session.returnPath,
    joinedAt: session.joinedAt,
    connectionVersion: session.connectionVersion,
    admissionNotified: session.admissionNotified,
  };
  if (session.seq !== null) item.seq = session.seq;
  if (session.connectionId !== null) item.connectionId = session.connectionId;
  if (session.disconnectedAt !== null) item.disconnectedAt = session.disconnectedAt;
  if (session.pass !== null) item.pass = { ...session.pass };
  if (session.admittedAt !== null) item.admittedAt = session.admittedAt;
  if (session.source !== undefined) item.source = session.source;
  if (session.identity !== undefined) item.identity = session.identity;
  if (session.state === 'waiting' && session.seq !== null)
    item.line = lineKeyOf(roomId, session.id);
  if (ttl !== undefined) item.ttl = ttl;
  return item;
}

const SESSION_STATES: readonly string[] = ['arriving', 'waiting', 'admitted', 'abandoned'];

/** The session an item holds; throws on an item that is not one (a bug, never a visitor's input). */
export function fromSessionItem(item: Record<string, unknown>): Session {
  const { id, state, returnPath, joinedAt } = item;
  if (
    typeof id !== 'string' ||
    typeof state !== 'string' ||
    !SESSION_STATES.includes(state) ||
    typeof returnPath !== 'string' ||
    typeof joinedAt !== 'number'
  ) {
    throw new Error(`not a session item: ${String(item.pk)}`);
  }
  const pass = item.pass as Partial<IssuedPass> | undefined;
  return {
    id,
    state: state as SessionState,
    returnPath,
    joinedAt,
    seq: stringOrNull(item.seq),
    connectionId: stringOrNull(item.connectionId),
    disconnectedAt: numberOrNull(item.disconnectedAt),
    connectionVersion: numberOr(item.connectionVersion, 0),
    pass:
      pass && typeof pass.token === 'string' && typeof pass.expiresAt === 'number'
        ? { token: pass.token, expiresAt: pass.expiresAt }
        : null,
    admittedAt: numberOrNull(item.admittedAt),
    admissionNotified: item.admissionNotified === true,
    ...(typeof item.source === 'string' ? { source: item.source } : {}),
    ...(typeof item.identity === 'string' ? { identity: item.identity } : {}),
  };
}

function stringOrNull(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

function numberOr(value: unknown, fallback: number): number {
  return typeof value === 'number' ? value : fallback;
}

function numberOrNull(value: unknown): number | null {
  return typeof value === 'number' ? value : null;
}
