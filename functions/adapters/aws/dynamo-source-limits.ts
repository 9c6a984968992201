/**
 * Limits per source address on AWS (`core/sources.ts`), as counters in the room's table:
 *
 * - places held: one item per source (`R#<roomId>#SRC#<source>` / `PLACES`), a conditional
 *   `ADD places 1` at `join` that fails at the most, and `ADD places -n` for what a tick admitted
 *   or abandoned (one update per source, not per visitor);
 * - new sockets: one item per source and 5-second window (`SOCKETS#<window>`), a conditional
 *   `ADD n 1` at `$connect`. A source refused in a window is remembered by the container for
 *   the rest of it, so a flood of handshakes costs a write only until its first refusal.
 *
 * The counts expire (TTL): a places count a day after it was first written (not moved by later
 * takes, so even a busy address's count starts afresh daily), a window a minute after it ends.
 * A place that is never given back (a processor that died between an admission and its release,
 * a visitor gone before its arrival was logged) so costs its source one place for a day at most;
 * a count is never taken below zero, and one started afresh counts only the places taken since.
 */
import { type DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Clock, SourcePlaces } from '../../core/ports.ts';
import type { SourceLimits } from '../../core/sources.ts';
import { systemClock } from '../local/system-clock.ts';
import { isConditionFailed } from './aws-errors.ts';
import { defaultDocumentClient } from './clients.ts';
import { mapLimited } from './concurrency.ts';
import { sourcePk } from './dynamo-items.ts';

export const PLACES_SK = 'PLACES';
/** How long a places count lives after it was first written. */
const PLACES_TTL_SECONDS = 24 * 3600;
/** The window new sockets are counted in. */
export const SOCKET_WINDOW_MS = 5000;

export interface DynamoSourceLimitsOptions {
  tableName: string;
  roomId: string;
  limits: SourceLimits;
  client?: DynamoDBDocumentClient;
  clock?: Clock;
  /** Told when a count could not be updated (the visitor is let through, or a place kept). */
  onError?: (error: unknown) => void;
}

export interface DynamoSourceLimits {
  places: SourcePlaces;
  /** Whether `source` may open one more socket now (`$connect`); a failed write lets it in. */
  takeSocket(source: string): Promise<boolean>;
}

export function createDynamoSourceLimits(options: DynamoSourceLimitsOptions): DynamoSourceLimits {
  const { tableName: TableName, roomId, limits } = options;
  const client = options.client ?? defaultDocumentClient();
  const clock = options.clock ?? systemClock;
  const onError = options.onError ?? (() => {});
  const perWindow = Math.max(
    limits.newSockets.burst,
    Math.ceil((limits.newSockets.perSecond * SOCKET_WINDOW_MS) / 1000),
  );
  /** Sources refused in the current window, by the window they were refused in. */
  const refused = new Map<string, number>();

  async function decrement(source: string, n: number): Promise<void> {
    const Key = { pk: sourcePk(roomId, source), sk: PLACES_SK };
    try {
      await client.send(
        new UpdateCommand({
          TableName,
          Key,
          UpdateExpression: 'ADD places :minus',
          ConditionExpression: 'places >= :n',
          ExpressionAttributeValues: { ':minus': -n, ':n': n },
        }),
      );
    } catch (error) {
      if (!isConditionFailed(error)) throw error;
      // Fewer than n counted (expired and counted again since): down to zero, never below;
      // nothing at all when the count itself has expired.
      try {
        await client.send(
          new UpdateCommand({
            TableName,
            Key,
            UpdateExpression: 'SET places = :zero',
            ConditionExpression: 'attribute_exists(places)',
            ExpressionAttributeValues: { ':zero': 0 },
          }),
        );
      } catch (inner) {
        if (!isConditionFailed(inner)) throw inner;
      }
    }
  }

  return {
    places: {
      async take(source) {
        try {
          await client.send(
            new UpdateCommand({
              TableName,
              Key: { pk: sourcePk(roomId, source), sk: PLACES_SK },
              UpdateExpression: 'ADD places :one SET #ttl = if_not_exists(#ttl, :ttl)',
              ConditionExpression: 'attribute_not_exists(places) OR places < :max',
              ExpressionAttributeNames: { '#ttl': 'ttl' },
              ExpressionAttributeValues: {
                ':one': 1,
                ':max': limits.maxPlaces,
                ':ttl': Math.floor(clock.now() / 1000) + PLACES_TTL_SECONDS,
              },
            }),
          );
          return true;
        } catch (error) {
          if (isConditionFailed(error)) return false;
          // The table failing must not turn every visitor away: the place is taken, uncounted.
          onError(error);
          return true;
        }
      },
      async release(sources) {
        const counts = new Map<string, number>();
        for (const source of sources) counts.set(source, (counts.get(source) ?? 0) + 1);
        await mapLimited([...counts], 16, async ([source, n]) => {
          try {
            await decrement(source, n);
          } catch (error) {
            onError(error);
          }
        });
      },
    },

    async takeSocket(source) {
      const now = clock.now();
      const window = Math.floor(now / SOCKET_WINDOW_MS);
      if (refused.get(source) === window) return false;
      try {
        await client.send(
          new UpdateCommand({
            TableName,
            Key: { pk: sourcePk(roomId, source), sk: `SOCKETS#${window}` },
            UpdateExpression: 'ADD n :one SET #ttl = :ttl',
            ConditionExpression: 'attribute_not_exists(n) OR n < :max',
            ExpressionAttributeNames: { '#ttl': 'ttl' },
            ExpressionAttributeValues: {
              ':one': 1,
              ':max': perWindow,
              ':ttl': Math.floor(((window + 1) * SOCKET_WINDOW_MS) / 1000) + 60,
            },
          }),
        );
        return true;
      } catch (error) {
        if (isConditionFailed(error)) {
          if (refused.size >= 10_000) refused.clear();
          refused.set(source, window);
          return false;
        }
        onError(error);
        return true;
      }
    },
  };
}
