/**
 * {@link SessionStore} on one DynamoDB table (layout in `dynamo-items.ts`), with the semantics
 * of the in-process `MemorySessionStore`: every state change is a conditional write on the
 * session's own item, so a redelivered arrival, a repeated admission or a late abandonment
 * changes nothing.
 *
 * What it costs, and where it differs from the in-process store (both allowed by the port):
 * - A join writes only its own session and connection items; nothing hot is on the join path.
 *   A resume also marks the place its connection held until then disconnected, and reads the
 *   binding back once its session is connected (frames of one connection run at once).
 * - The line is a Query on the sparse `line` index (about W / 20 read units per full read of W
 *   waiting sessions of ~400 bytes, eventually consistent). GSIs lag the table by a little:
 *   a session numbered in this tick may only show from the next one (it is always at the tail,
 *   so nobody else's position moves), and a session this store admitted or abandoned is left
 *   out of the line for {@link DynamoSessionStoreOptions.departedMemoryMs} even if the index
 *   still shows it, so a position can never go up because of index lag.
 * - `recordPositions` gets only the positions the tick sends (at most its fan-out budget): one
 *   conditional UpdateItem each, `writeConcurrency` at a time (BatchWriteItem only replaces
 *   whole items, unconditionally, which could undo an admission made meanwhile). A lagging
 *   index may show a position written last tick as not yet told: the tick then sends the same
 *   number again, which costs a push and changes nothing for the visitor.
 * - Pending `admitted` notices are small items under the room's partition
 *   (`OUTBOX#<sessionId>`), read with one Query and a BatchGetItem: no scan.
 * - `counts()`: `waiting` counts the index (a paginated `Select: COUNT` Query: the same read
 *   cost as reading the line once, so for operators, never for a hot path); `admitted` and
 *   `abandoned` are totals kept in the room state item, added in the same UpdateItem that saves
 *   the room state at the end of each tick (a processor crash mid-tick may leave that tick's
 *   admissions uncounted: the totals are for operators, decisions never read them);
 *   `arriving` cannot be counted without a hot counter or a scan, so it comes from
 *   {@link DynamoSessionStoreOptions.countArriving} (the arrival queue's depth), or 0.
 * - The processor holds back `position` and `admitted` pushes to a connection until its `joined`
 *   was delivered ({@link DynamoSessionStore.markAnnounced}): on API Gateway the processor's
 *   `postToConnection` could otherwise overtake the message handler's reply.
 * - Throttling is retried by the client's retry strategy (standard mode, 6 attempts in the
 *   default client); unprocessed batch items are retried here with backoff.
 */
import {
  BatchGetCommand,
  BatchWriteCommand,
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { EMPTY_ROOM_STATE } from '../../core/admission.ts';
import type { RoomDraw } from '../../core/draw.ts';
import type {
  ChangePage,
  Clock,
  ConnectionChange,
  IssuedPass,
  ReceivedArrival,
  RoomConfig,
  RoomCounts,
  RoomState,
  SessionStore,
} from '../../core/ports.ts';
import { ConnectionTakenError, SessionExistsError } from '../../core/ports.ts';
import { isOpeningTime, isPowCost, operatorTextProblem } from '../../core/room-settings.ts';
import type { Session } from '../../core/session.ts';
import { systemClock } from '../local/system-clock.ts';
import { backoffDelay, isConditionFailed, realSleep } from './aws-errors.ts';
import { defaultDocumentClient } from './clients.ts';
import { chunks, mapLimited } from './concurrency.ts';
import {
  CHANGE_SHARDS,
  changePk,
  changeShardPk,
  changeSk,
  connectionKey,
  fromSessionItem,
  identityBindingKey,
  LINE_INDEX,
  LINE_SHARDS,
  lineKeyOf,
  lineShardKey,
  OUTBOX_PREFIX,
  outboxKey,
  roomPk,
  STATE_SK,
  sessionKey,
  spentProofKey,
  toSessionItem,
} from './dynamo-items.ts';

export interface DynamoSessionStoreOptions {
  client?: DynamoDBDocumentClient;
  tableName: string;
  roomId: string;
  /** For TTLs and the memory of departures; the system clock unless a test needs another. */
  clock?: Clock;
  /** Conditional writes in flight at once in batch methods. */
  writeConcurrency?: number;
  /** How long admitted and abandoned sessions are kept (a resume still finds them). */
  finishedRetentionSeconds?: number;
  /** Lifetime of a connection mapping: API Gateway closes a connection after 2 hours. */
  connectionTtlSeconds?: number;
  /**
   * Lifetime of a session never numbered (its enqueue failed and the visitor never came back):
   * beyond a ticket's 48 hours. Numbering removes it: a session in line never expires.
   */
  arrivingTtlSeconds?: number;
  /**
   * Lifetime of an identity binding from its claim: beyond a ticket's 48 hours, so a person's
   * place is found for as long as a ticket could still resume it.
   */
  identityTtlSeconds?: number;
  /** How long sessions this store admitted or abandoned stay out of the line whatever the index says. */
  departedMemoryMs?: number;
  /** Sessions joined but not yet numbered, for `counts()`: the arrival queue's depth. */
  countArriving?: () => Promise<number>;
  /** Pause before retrying unprocessed batch items (tests pass one that does not wait). */
  sleep?: (ms: number) => Promise<void>;
}

/** The DynamoDB session store, with the one extra write the AWS message handler needs. */
export interface DynamoSessionStore extends SessionStore {
  /**
   * Records that the session's `joined` was delivered on `connectionId` (if that is still its
   * connection). Until then the line shows the session without a connection, so the processor
   * pushes nothing to it that could overtake `joined`.
   */
  markAnnounced(sessionId: string, connectionId: string): Promise<void>;
}

const DAY_SECONDS = 24 * 3600;
/**
 * How long after a tick its writes are taken to have reached the line's index (GSIs propagate
 * in well under a second in normal operation).
 */
const INDEX_SETTLE_MS = 2000;
/** How late a change may land after the time it carries and still be read. */
const CHANGE_LATENESS_MS = 5000;
/** Changes are read within seconds; the log keeps them an hour. */
const CHANGE_TTL_SECONDS = 3600;
const BATCH_GET_MAX = 100;
const BATCH_WRITE_MAX = 25;
const BATCH_ATTEMPTS = 8;

export function createDynamoSessionStore(options: DynamoSessionStoreOptions): DynamoSessionStore {
  const { tableName: TableName, roomId } = options;
  const client = options.client ?? defaultDocumentClient();
  const clock = options.clock ?? systemClock;
  const sleep = options.sleep ?? realSleep;
  const writeConcurrency = options.writeConcurrency ?? 64;
  const finishedRetention = options.finishedRetentionSeconds ?? DAY_SECONDS;
  const connectionTtl = options.connectionTtlSeconds ?? 3 * 3600;
  const arrivingTtl = options.arrivingTtlSeconds ?? 3 * DAY_SECONDS;
  const identityTtl = options.identityTtlSeconds ?? 3 * DAY_SECONDS;
  const departedMemoryMs = options.departedMemoryMs ?? 60_000;
  const stateKey = { pk: roomPk(roomId), sk: STATE_SK };

  /** One partition of the line index, every page of it, without the sessions known to have left. */
  async function readLinePartition(key: string): Promise<Session[]> {
    const sessions: Session[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const result = await client.send(
        new QueryCommand({
          TableName,
          IndexName: LINE_INDEX,
          KeyConditionExpression: '#line = :key',
          ExpressionAttributeNames: { '#line': 'line' },
          ExpressionAttributeValues: { ':key': key },
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      for (const item of result.Items ?? []) {
        const session = fromSessionItem(item);
        if (session.state !== 'waiting' || departed.has(session.id)) continue;
        if (item.announced !== session.connectionId) session.connectionId = null;
        sessions.push(session);
      }
      start = result.LastEvaluatedKey;
    } while (start);
    return sessions;
  }

  /** Sessions this store took out of the line, and when. */
  const departed = new Map<string, number>();
  /** Admissions and abandonments not yet added to the totals in the room state item. */
  const unsaved = { admitted: 0, abandoned: 0 };

  const epochSeconds = (ms: number) => Math.floor(ms / 1000);

  /** Runs a conditional UpdateItem; false when its condition refused it. */
  async function conditionalUpdate(input: Omit<UpdateCommand['input'], 'TableName'>) {
    try {
      await client.send(new UpdateCommand({ TableName, ...input }));
      return true;
    } catch (error) {
      if (isConditionFailed(error)) return false;
      throw error;
    }
  }

  /**
   * Runs a conditional UpdateItem on a session and returns it as it is now, with no connection
   * until its `joined` was delivered on it; undefined when the condition refused it.
   */
  async function updateSession(
    input: Omit<UpdateCommand['input'], 'TableName'>,
  ): Promise<Session | undefined> {
    try {
      const { Attributes } = await client.send(
        new UpdateCommand({ TableName, ...input, ReturnValues: 'ALL_NEW' }),
      );
      if (!Attributes) return undefined;
      const session = fromSessionItem(Attributes);
      if (Attributes.announced !== session.connectionId) session.connectionId = null;
      return session;
    } catch (error) {
      if (isConditionFailed(error)) return undefined;
      throw error;
    }
  }

  /** Logs a waiting session's connection for the processor (see `dynamo-items.ts`). */
  async function logChange(change: Session | ConnectionChange): Promise<void> {
    const entry: ConnectionChange =
      'state' in change
        ? {
            sessionId: change.id,
            connectionId: change.connectionId,
            disconnectedAt: change.disconnectedAt,
            version: change.connectionVersion,
          }
        : change;
    if ('state' in change && change.state !== 'waiting') return;
    const at = entry.at ?? clock.now();
    await client.send(
      new PutCommand({
        TableName,
        Item: {
          pk: changePk(roomId, entry.sessionId),
          sk: changeSk(at, entry.sessionId, entry.version),
          sessionId: entry.sessionId,
          version: entry.version,
          ...(entry.connectionId === null ? {} : { connectionId: entry.connectionId }),
          ...(entry.disconnectedAt === null ? {} : { disconnectedAt: entry.disconnectedAt }),
          ...(entry.asked ? { asked: true, at } : {}),
          ttl: epochSeconds(at) + CHANGE_TTL_SECONDS,
        },
      }),
    );
  }

  /**
   * Binds a connection to a session and returns the session it was bound to before, if any.
   * With `onlyReplacing` (null: the connection must hold nothing) the write is conditional and
   * fails with a condition failure when it is taken.
   */
  async function putConnection(
    connectionId: string,
    sessionId: string,
    onlyReplacing?: string | null,
  ): Promise<string | undefined> {
    const conditional =
      onlyReplacing === undefined
        ? {}
        : onlyReplacing === null
          ? { ConditionExpression: 'attribute_not_exists(pk)' }
          : {
              ConditionExpression: 'attribute_not_exists(pk) OR #sessionId = :replacing',
              ExpressionAttributeNames: { '#sessionId': 'sessionId' },
              ExpressionAttributeValues: { ':replacing': onlyReplacing },
            };
    const { Attributes } = await client.send(
      new PutCommand({
        TableName,
        Item: {
          ...connectionKey(connectionId),
          sessionId,
          ttl: epochSeconds(clock.now()) + connectionTtl,
        },
        ...conditional,
        ReturnValues: 'ALL_OLD',
      }),
    );
    return typeof Attributes?.sessionId === 'string' ? Attributes.sessionId : undefined;
  }

  /** The session a connection is bound to now (consistent read), if any. */
  async function boundSession(connectionId: string): Promise<string | undefined> {
    const { Item } = await client.send(
      new GetCommand({ TableName, Key: connectionKey(connectionId), ConsistentRead: true }),
    );
    return typeof Item?.sessionId === 'string' ? Item.sessionId : undefined;
  }

  /**
   * Marks a session disconnected at `at` if `connectionId` is still its current connection and
   * it was not already; a waiting session's change is logged.
   */
  async function markDisconnected(
    sessionId: string,
    connectionId: string,
    at: number,
  ): Promise<void> {
    const session = await updateSession({
      Key: sessionKey(sessionId),
      UpdateExpression: 'SET #disconnectedAt = :at ADD #version :one',
      ConditionExpression: '#connectionId = :c AND attribute_not_exists(#disconnectedAt)',
      ExpressionAttributeNames: {
        '#connectionId': 'connectionId',
        '#disconnectedAt': 'disconnectedAt',
        '#version': 'connectionVersion',
      },
      ExpressionAttributeValues: { ':c': connectionId, ':at': at, ':one': 1 },
    });
    if (session) await logChange(session);
  }

  function forgetOldDepartures(): void {
    const before = clock.now() - departedMemoryMs;
    for (const [id, at] of departed) {
      if (at >= before) break;
      departed.delete(id);
    }
  }

  function depart(sessionId: string): void {
    departed.delete(sessionId);
    departed.set(sessionId, clock.now());
  }

  /** Reads sessions by id (consistent), in chunks of 100, retrying unprocessed keys. */
  async function batchGetSessions(ids: readonly string[]): Promise<Map<string, Session>> {
    const found = new Map<string, Session>();
    for (const chunk of chunks(ids, BATCH_GET_MAX)) {
      let keys: Record<string, unknown>[] = chunk.map((id) => sessionKey(id));
      for (let attempt = 0; keys.length > 0; attempt++) {
        if (attempt >= BATCH_ATTEMPTS) throw new Error('BatchGetItem left keys unprocessed');
        if (attempt > 0) await sleep(backoffDelay(attempt, 50, 2000));
        const result = await client.send(
          new BatchGetCommand({
            RequestItems: { [TableName]: { Keys: keys, ConsistentRead: true } },
          }),
        );
        for (const item of result.Responses?.[TableName] ?? []) {
          const session = fromSessionItem(item);
          // As in the line: no connection until its `joined` was delivered on it.
          if (item.announced !== session.connectionId) session.connectionId = null;
          found.set(session.id, session);
        }
        keys = result.UnprocessedKeys?.[TableName]?.Keys ?? [];
      }
    }
    return found;
  }

  /** Deletes items by key in chunks of 25, retrying unprocessed ones. */
  async function batchDelete(keys: readonly Record<string, string>[]): Promise<void> {
    for (const chunk of chunks(keys, BATCH_WRITE_MAX)) {
      let requests: NonNullable<BatchWriteCommand['input']['RequestItems']>[string] = chunk.map(
        (Key) => ({ DeleteRequest: { Key } }),
      );
      for (let attempt = 0; requests.length > 0; attempt++) {
        if (attempt >= BATCH_ATTEMPTS) throw new Error('BatchWriteItem left items unprocessed');
        if (attempt > 0) await sleep(backoffDelay(attempt, 50, 2000));
        const result = await client.send(
          new BatchWriteCommand({ RequestItems: { [TableName]: requests } }),
        );
        requests = result.UnprocessedItems?.[TableName] ?? [];
      }
    }
  }

  return {
    async create(session, replacing) {
      // The session first, then the connection's binding, taken only if the connection holds
      // nothing (or the place it gave up): of two joins racing on one connection, the one that
      // loses the binding removes its session, and the winner's session already exists.
      const ttl =
        session.state === 'arriving' ? epochSeconds(session.joinedAt) + arrivingTtl : undefined;
      try {
        await client.send(
          new PutCommand({
            TableName,
            Item: toSessionItem(session, roomId, ttl),
            ConditionExpression: 'attribute_not_exists(pk)',
          }),
        );
      } catch (error) {
        if (isConditionFailed(error)) throw new SessionExistsError(session.id);
        throw error;
      }
      if (!session.connectionId) return;
      try {
        await putConnection(session.connectionId, session.id, replacing ?? null);
      } catch (error) {
        if (!isConditionFailed(error)) throw error;
        await client.send(new DeleteCommand({ TableName, Key: sessionKey(session.id) }));
        throw new ConnectionTakenError(session.connectionId);
      }
    },

    async get(sessionId) {
      const { Item } = await client.send(
        new GetCommand({ TableName, Key: sessionKey(sessionId), ConsistentRead: true }),
      );
      return Item ? fromSessionItem(Item) : undefined;
    },

    sessionOfConnection(connectionId) {
      return boundSession(connectionId);
    },

    async sessionOfIdentity(identity) {
      const { Item } = await client.send(
        new GetCommand({
          TableName,
          Key: identityBindingKey(roomId, identity),
          ConsistentRead: true,
        }),
      );
      return typeof Item?.sessionId === 'string' ? Item.sessionId : undefined;
    },

    async claimIdentity(identity, sessionId, previous) {
      // One conditional write on the person's own item: of two joins racing, one wins.
      const condition =
        previous === null
          ? { ConditionExpression: 'attribute_not_exists(pk)' }
          : {
              ConditionExpression: '#sessionId = :previous',
              ExpressionAttributeNames: { '#sessionId': 'sessionId' },
              ExpressionAttributeValues: { ':previous': previous },
            };
      try {
        await client.send(
          new PutCommand({
            TableName,
            Item: {
              ...identityBindingKey(roomId, identity),
              sessionId,
              ttl: epochSeconds(clock.now()) + identityTtl,
            },
            ...condition,
          }),
        );
        return true;
      } catch (error) {
        if (isConditionFailed(error)) return false;
        throw error;
      }
    },

    async spendProof(id, expiresAt) {
      try {
        await client.send(
          new PutCommand({
            TableName,
            Item: { ...spentProofKey(roomId, id), ttl: Math.ceil(expiresAt / 1000) },
            ConditionExpression: 'attribute_not_exists(pk)',
          }),
        );
        return true;
      } catch (error) {
        if (isConditionFailed(error)) return false;
        throw error;
      }
    },

    async attachConnection(sessionId, connectionId, at) {
      // The mapping first: should the session update not follow, the session still points at
      // its old connection, whose `$disconnect` or 410 marks it as gone as before.
      const previous = await putConnection(connectionId, sessionId);
      // One place per connection: the place it held until now is let go, as if it closed.
      if (previous !== undefined && previous !== sessionId) {
        await markDisconnected(previous, connectionId, at);
      }
      // Not logged: the line shows no connection until `joined` is delivered on it, and
      // `markAnnounced` logs that.
      const attached = await conditionalUpdate({
        Key: sessionKey(sessionId),
        UpdateExpression: 'SET #connectionId = :c REMOVE #disconnectedAt ADD #version :one',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeNames: {
          '#connectionId': 'connectionId',
          '#disconnectedAt': 'disconnectedAt',
          '#version': 'connectionVersion',
        },
        ExpressionAttributeValues: { ':c': connectionId, ':one': 1 },
      });
      // Frames of one connection run at once: a resume of another place may have taken the
      // binding between ours and this update, finding this session not yet on the connection
      // (so it let nothing go), or the connection closed meanwhile. Read back, the binding
      // tells: if it no longer names this session, this session lets itself go. A binding taken
      // after this read finds this session on the connection and lets it go.
      if (attached && (await boundSession(connectionId)) !== sessionId) {
        await markDisconnected(sessionId, connectionId, at);
      }
    },

    async detachConnection(connectionId, at) {
      const { Attributes } = await client.send(
        new DeleteCommand({ TableName, Key: connectionKey(connectionId), ReturnValues: 'ALL_OLD' }),
      );
      const sessionId =
        typeof Attributes?.sessionId === 'string' ? Attributes.sessionId : undefined;
      if (!sessionId) return undefined;
      await markDisconnected(sessionId, connectionId, at);
      return sessionId;
    },

    async askForPosition(sessionId) {
      // Version 0 is never newer than what the line holds: only the question is new.
      const at = clock.now();
      await logChange({
        sessionId,
        connectionId: null,
        disconnectedAt: null,
        version: 0,
        asked: true,
        at,
      });
    },

    async readChanges(cursor): Promise<ChangePage> {
      const now = clock.now();
      if (cursor === null) return { changes: [], cursor: String(now) };
      const from = changeSk(Number(cursor) - CHANGE_LATENESS_MS, '', 0);
      const pages = await Promise.all(
        Array.from({ length: CHANGE_SHARDS }, async (_, shard) => {
          const changes: ConnectionChange[] = [];
          let start: Record<string, unknown> | undefined;
          do {
            const result = await client.send(
              new QueryCommand({
                TableName,
                KeyConditionExpression: 'pk = :pk AND sk > :from',
                ExpressionAttributeValues: { ':pk': changeShardPk(roomId, shard), ':from': from },
                ConsistentRead: true,
                ...(start ? { ExclusiveStartKey: start } : {}),
              }),
            );
            for (const item of result.Items ?? []) changes.push(toChange(item));
            start = result.LastEvaluatedKey;
          } while (start);
          return changes;
        }),
      );
      return { changes: pages.flat(), cursor: String(now) };
    },

    async numberArrivals(arrivals: readonly Pick<ReceivedArrival, 'sessionId' | 'order'>[]) {
      const numbered = await mapLimited(arrivals, writeConcurrency, ({ sessionId, order }) =>
        updateSession({
          Key: sessionKey(sessionId),
          UpdateExpression: 'SET #seq = :seq, #state = :waiting, #line = :room REMOVE #ttl',
          ConditionExpression:
            'attribute_exists(pk) AND attribute_not_exists(#seq) AND #state = :arriving',
          ExpressionAttributeNames: {
            '#seq': 'seq',
            '#state': 'state',
            '#line': 'line',
            '#ttl': 'ttl',
          },
          ExpressionAttributeValues: {
            ':seq': order,
            ':waiting': 'waiting',
            ':arriving': 'arriving',
            ':room': lineKeyOf(roomId, sessionId),
          },
        }),
      );
      return numbered.filter((session): session is Session => session !== undefined);
    },

    async readLine(): Promise<Session[]> {
      forgetOldDepartures();
      // The index lags the table: let the last tick's numbering and admissions reach it
      // before a processor that takes over reads the line it will then keep.
      const { Item } = await client.send(
        new GetCommand({ TableName, Key: stateKey, ConsistentRead: true }),
      );
      const wait = numberOr(Item?.tickedAt, 0) + INDEX_SETTLE_MS - clock.now();
      if (wait > 0) await sleep(Math.min(wait, INDEX_SETTLE_MS));
      // Every partition at once (and the one unsharded key a room numbered before the index
      // was sharded may still hold), each in `seq` order, merged.
      const keys = [
        roomId,
        ...Array.from({ length: LINE_SHARDS }, (_, i) => lineShardKey(roomId, i)),
      ];
      const parts = await Promise.all(keys.map((key) => readLinePartition(key)));
      return parts.flat().sort((a, b) => ((a.seq as string) < (b.seq as string) ? -1 : 1));
    },

    async admit(sessionId: string, pass: IssuedPass, at: number) {
      // The notice first: should the admission not follow, a notice for a session still
      // waiting is skipped; the other order could admit a session and never tell it.
      await client.send(
        new PutCommand({
          TableName,
          Item: { ...outboxKey(roomId, sessionId), sessionId, at },
        }),
      );
      const admitted = await conditionalUpdate({
        Key: sessionKey(sessionId),
        UpdateExpression:
          'SET #state = :admitted, #pass = :pass, #admittedAt = :at, #notified = :false, #ttl = :ttl REMOVE #line',
        ConditionExpression: '#state = :waiting',
        ExpressionAttributeNames: {
          '#state': 'state',
          '#pass': 'pass',
          '#admittedAt': 'admittedAt',
          '#notified': 'admissionNotified',
          '#ttl': 'ttl',
          '#line': 'line',
        },
        ExpressionAttributeValues: {
          ':admitted': 'admitted',
          ':waiting': 'waiting',
          ':pass': { token: pass.token, expiresAt: pass.expiresAt },
          ':at': at,
          ':false': false,
          ':ttl': pass.expiresAt + finishedRetention,
        },
      });
      if (!admitted) return false;
      depart(sessionId);
      unsaved.admitted += 1;
      return true;
    },

    async abandon(sessionId, disconnectedAt, at) {
      // Conditional on the same absence: a visitor who came back meanwhile keeps the place.
      const abandoned = await conditionalUpdate({
        Key: sessionKey(sessionId),
        UpdateExpression: 'SET #state = :abandoned, #ttl = :ttl REMOVE #line',
        ConditionExpression:
          '(#state = :waiting OR #state = :arriving) AND #disconnectedAt = :disconnectedAt',
        ExpressionAttributeNames: {
          '#state': 'state',
          '#ttl': 'ttl',
          '#line': 'line',
          '#disconnectedAt': 'disconnectedAt',
        },
        ExpressionAttributeValues: {
          ':abandoned': 'abandoned',
          ':waiting': 'waiting',
          ':arriving': 'arriving',
          ':disconnectedAt': disconnectedAt,
          ':ttl': epochSeconds(at) + finishedRetention,
        },
      });
      if (!abandoned) return false;
      depart(sessionId);
      unsaved.abandoned += 1;
      return true;
    },

    /**
     * Reads the outbox (one Query) and the sessions it names (BatchGetItem). Notices already
     * delivered, or for sessions gone or abandoned, are deleted on the way; a notice for a
     * session still waiting (its admission did not happen) is kept for when it does.
     */
    async pendingAdmissionNotices(limit) {
      const ids: string[] = [];
      let start: Record<string, unknown> | undefined;
      do {
        const result = await client.send(
          new QueryCommand({
            TableName,
            KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
            ExpressionAttributeValues: { ':pk': roomPk(roomId), ':prefix': OUTBOX_PREFIX },
            ConsistentRead: true,
            Limit: Math.max(1, limit - ids.length),
            ...(start ? { ExclusiveStartKey: start } : {}),
          }),
        );
        for (const item of result.Items ?? []) {
          if (typeof item.sessionId === 'string') ids.push(item.sessionId);
        }
        start = result.LastEvaluatedKey;
      } while (start && ids.length < limit);
      if (ids.length === 0) return [];
      const sessions = await batchGetSessions(ids);
      const pending: Session[] = [];
      const stale: string[] = [];
      for (const id of ids) {
        const session = sessions.get(id);
        if (session?.state === 'admitted' && !session.admissionNotified) pending.push(session);
        else if (session?.state !== 'waiting') stale.push(id);
      }
      if (stale.length > 0) await batchDelete(stale.map((id) => outboxKey(roomId, id)));
      return pending;
    },

    async markAdmissionNotified(sessionIds) {
      await mapLimited(sessionIds, writeConcurrency, (id) =>
        conditionalUpdate({
          Key: sessionKey(id),
          UpdateExpression: 'SET #notified = :true',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeNames: { '#notified': 'admissionNotified' },
          ExpressionAttributeValues: { ':true': true },
        }),
      );
      // Deleted after the sessions are marked: a crash in between leaves notices that the next
      // read finds delivered and deletes.
      await batchDelete(sessionIds.map((id) => outboxKey(roomId, id)));
    },

    async getRoomState(): Promise<RoomState> {
      const { Item } = await client.send(
        new GetCommand({ TableName, Key: stateKey, ConsistentRead: true }),
      );
      return Item ? toRoomState(Item) : structuredClone(EMPTY_ROOM_STATE);
    },

    async putRoomState(state) {
      const admitted = unsaved.admitted;
      const abandoned = unsaved.abandoned;
      unsaved.admitted = 0;
      unsaved.abandoned = 0;
      // A state from before the bucket was ever refilled never writes `refilledAt` (a NULL there
      // would fail every later comparison and stop admission for good).
      const refilled = state.refilledAt !== null;
      // Only the tick's last write carries where the line's arrivals stand; the others keep it.
      const released = typeof state.releasedUpTo === 'string';
      const stopped = typeof state.stoppedAt === 'number';
      try {
        await client.send(
          new UpdateCommand({
            TableName,
            Key: stateKey,
            UpdateExpression: `SET #tokens = :tokens, ${refilled ? '#refilledAt = :refilledAt, ' : ''}#recent = :recent, #waiting = :waiting, #tickedAt = :tickedAt, #activeAt = :activeAt, #config = :config${released ? ', #releasedUpTo = :releasedUpTo' : ''}${stopped ? ', #stoppedAt = :stoppedAt' : ''} ADD #admittedTotal :admitted, #abandonedTotal :abandoned`,
            ExpressionAttributeNames: {
              '#tokens': 'tokens',
              '#refilledAt': 'refilledAt',
              '#recent': 'recentAdmissions',
              '#waiting': 'waiting',
              '#tickedAt': 'tickedAt',
              '#activeAt': 'activeAt',
              '#config': 'config',
              ...(released ? { '#releasedUpTo': 'releasedUpTo' } : {}),
              ...(stopped ? { '#stoppedAt': 'stoppedAt' } : {}),
              '#admittedTotal': 'admittedTotal',
              '#abandonedTotal': 'abandonedTotal',
            },
            ExpressionAttributeValues: {
              ':tokens': state.tokens,
              ...(refilled ? { ':refilledAt': state.refilledAt } : {}),
              ':recent': state.recentAdmissions.map(({ at, count }) => ({ at, count })),
              ':waiting': state.waiting,
              ':tickedAt': state.tickedAt,
              ':activeAt': state.activeAt,
              ':config': state.config,
              ...(released ? { ':releasedUpTo': state.releasedUpTo } : {}),
              ...(stopped ? { ':stoppedAt': state.stoppedAt } : {}),
              ':admitted': admitted,
              ':abandoned': abandoned,
              ':null': 'NULL',
            },
            // Never move the bucket back in time: a tick that lost its lease and writes late
            // would otherwise hand out tokens already spent (the port's rule). (A NULL left by
            // an earlier version counts as never refilled.)
            ConditionExpression: `attribute_not_exists(#refilledAt) OR attribute_type(#refilledAt, :null)${refilled ? ' OR #refilledAt <= :refilledAt' : ''}`,
          }),
        );
        return true;
      } catch (error) {
        unsaved.admitted += admitted;
        unsaved.abandoned += abandoned;
        // An older state than the stored one is dropped on purpose; its totals go with the next.
        if (isConditionFailed(error)) return false;
        throw error;
      }
    },

    async putDraw(draw, expected) {
      // Conditional on the draw read (`sameDraw`): a processor that overlaps another for a
      // moment can neither put back an older draw nor make a second one.
      const condition =
        expected === null
          ? 'attribute_not_exists(#draw) OR attribute_type(#draw, :nullType)'
          : `#draw.#commitment = :commitment AND #draw.#opensAt = :opensAt AND ${
              expected.drawnAt === null
                ? 'attribute_type(#draw.#drawnAt, :nullType)'
                : '#draw.#drawnAt = :drawnAt'
            }`;
      try {
        await client.send(
          new UpdateCommand({
            TableName,
            Key: stateKey,
            UpdateExpression: 'SET #draw = :draw',
            ConditionExpression: condition,
            ExpressionAttributeNames: {
              '#draw': 'draw',
              ...(expected === null
                ? {}
                : { '#commitment': 'commitment', '#opensAt': 'opensAt', '#drawnAt': 'drawnAt' }),
            },
            ExpressionAttributeValues: {
              ':draw': draw,
              ':nullType': 'NULL',
              ...(expected === null
                ? {}
                : {
                    ':commitment': expected.commitment,
                    ':opensAt': expected.opensAt,
                    ...(expected.drawnAt === null ? {} : { ':drawnAt': expected.drawnAt }),
                  }),
            },
          }),
        );
        return true;
      } catch (error) {
        if (isConditionFailed(error)) return false;
        throw error;
      }
    },

    async counts(): Promise<RoomCounts> {
      const { Item } = await client.send(
        new GetCommand({ TableName, Key: stateKey, ConsistentRead: true }),
      );
      return {
        waiting: numberOr(Item?.waiting, 0),
        arriving: options.countArriving ? await options.countArriving() : 0,
        admitted: numberOr(Item?.admittedTotal, 0) + unsaved.admitted,
        abandoned: numberOr(Item?.abandonedTotal, 0) + unsaved.abandoned,
      };
    },

    async markAnnounced(sessionId, connectionId) {
      const session = await updateSession({
        Key: sessionKey(sessionId),
        UpdateExpression: 'SET #announced = :c ADD #version :one',
        ConditionExpression: '#connectionId = :c',
        ExpressionAttributeNames: {
          '#announced': 'announced',
          '#connectionId': 'connectionId',
          '#version': 'connectionVersion',
        },
        ExpressionAttributeValues: { ':c': connectionId, ':one': 1 },
      });
      if (session) await logChange(session);
    },
  };
}

/**
 * The config mirrored on the room state item, or null if there is none (or its `enabled` or
 * rate is malformed). A fair-launch setting that is absent (mirrored by a processor from before
 * it existed) or malformed reads as its default: it never costs the handlers the whole config.
 */
export function toRoomConfig(value: unknown): RoomConfig | null {
  const config = value as Partial<RoomConfig> | null | undefined;
  if (typeof config?.enabled !== 'boolean') return null;
  const rate = config.admitPerMinute;
  if (typeof rate !== 'number' || !Number.isInteger(rate) || rate < 0) return null;
  const { opensAt, powCost, message, closed } = config;
  const text = (t: unknown) =>
    typeof t === 'string' && operatorTextProblem(t) === null ? t : null;
  // Each as it was mirrored; absent stays absent (the default), malformed is the default.
  return {
    enabled: config.enabled,
    admitPerMinute: rate,
    ...(opensAt === undefined
      ? {}
      : { opensAt: typeof opensAt === 'number' && isOpeningTime(opensAt) ? opensAt : null }),
    ...(powCost === undefined
      ? {}
      : { powCost: typeof powCost === 'number' && isPowCost(powCost) ? powCost : 0 }),
    ...(message === undefined ? {} : { message: text(message) }),
    ...(closed === undefined ? {} : { closed: text(closed) }),
  };
}

function toRoomState(item: Record<string, unknown>): RoomState {
  const recent = Array.isArray(item.recentAdmissions) ? item.recentAdmissions : [];
  return {
    tokens: numberOr(item.tokens, 0),
    refilledAt: typeof item.refilledAt === 'number' ? item.refilledAt : null,
    recentAdmissions: recent.map((entry: { at?: unknown; count?: unknown }) => ({
      at: numberOr(entry.at, 0),
      count: numberOr(entry.count, 0),
    })),
    waiting: numberOr(item.waiting, 0),
    tickedAt: typeof item.tickedAt === 'number' ? item.tickedAt : null,
    activeAt: typeof item.activeAt === 'number' ? item.activeAt : null,
    config: toRoomConfig(item.config),
    ...(item.draw ? { draw: toRoomDraw(item.draw) } : {}),
    ...(typeof item.releasedUpTo === 'string' ? { releasedUpTo: item.releasedUpTo } : {}),
    ...(typeof item.stoppedAt === 'number' ? { stoppedAt: item.stoppedAt } : {}),
  };
}

/** The draw kept on the room state item (`draw.ts`), or null if there is none or it is malformed. */
function toRoomDraw(value: unknown): RoomDraw | null {
  const draw = value as Partial<RoomDraw> | null | undefined;
  if (
    typeof draw?.opensAt !== 'number' ||
    typeof draw.seed !== 'string' ||
    typeof draw.commitment !== 'string'
  ) {
    return null;
  }
  return {
    opensAt: draw.opensAt,
    ...(typeof draw.schedule === 'number' ? { schedule: draw.schedule } : {}),
    afterSeq: typeof draw.afterSeq === 'string' ? draw.afterSeq : null,
    previous: toRoomDraw(draw.previous),
    seed: draw.seed,
    commitment: draw.commitment,
    drawnAt: typeof draw.drawnAt === 'number' ? draw.drawnAt : null,
    lastSeq: typeof draw.lastSeq === 'string' ? draw.lastSeq : null,
    members: typeof draw.members === 'number' ? draw.members : null,
  };
}

function toChange(item: Record<string, unknown>): ConnectionChange {
  return {
    sessionId: String(item.sessionId),
    connectionId: typeof item.connectionId === 'string' ? item.connectionId : null,
    disconnectedAt: typeof item.disconnectedAt === 'number' ? item.disconnectedAt : null,
    version: numberOr(item.version, 0),
    ...(item.asked === true ? { asked: true, at: numberOr(item.at, 0) } : {}),
  };
}

function numberOr(value: unknown, fallback: number): number {
  return typeof value === 'number' ? value : fallback;
}
