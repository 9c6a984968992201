/**
 * The room config as the visitor-facing functions read it: from the room state item, where
 * every processor tick mirrors the config it ran with. SSM Parameter Store answers 40 calls a
 * second per account at standard throughput, and a flash crowd runs a thousand containers of
 * the message function: reading SSM from each (every 5 s) would take 200 calls a second. One
 * item read a second per container (eventually consistent: half a read unit) costs nothing
 * that matters and no quota.
 *
 * The mirror is as fresh as the last tick. A sleeping processor ticks again when the config
 * changes (an EventBridge rule on the parameters wakes it) and at least every minute (the
 * schedule's watchdog). Before any tick ever mirrored it (a fresh deploy), the SSM source is
 * asked, with its own cache and fallback.
 */
import { type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import type { Clock, ConfigSource, RoomConfig } from '../../core/ports.ts';
import { defaultDocumentClient } from './clients.ts';
import { roomPk, STATE_SK } from './dynamo-items.ts';
import { toRoomConfig } from './dynamo-session-store.ts';

export interface MirroredConfigOptions {
  tableName: string;
  roomId: string;
  clock: Clock;
  /** Asked when no tick has mirrored a config yet (SSM). */
  fallback: ConfigSource;
  client?: DynamoDBDocumentClient;
  /** How long one read is trusted; @default 1000 */
  ttlMs?: number;
  onError?: (error: unknown) => void;
}

export function createMirroredConfigSource(options: MirroredConfigOptions): ConfigSource {
  const { tableName: TableName, roomId, clock, fallback } = options;
  const client = options.client ?? defaultDocumentClient();
  const ttlMs = options.ttlMs ?? 1000;
  const Key = { pk: roomPk(roomId), sk: STATE_SK };
  let cached: { config: RoomConfig; freshUntil: number } | undefined;
  let inFlight: Promise<RoomConfig> | undefined;

  async function read(): Promise<RoomConfig> {
    const now = clock.now();
    try {
      const { Item } = await client.send(
        new GetCommand({
          TableName,
          Key,
          ProjectionExpression: '#config',
          ExpressionAttributeNames: { '#config': 'config' },
        }),
      );
      const mirrored = toRoomConfig(Item?.config);
      const config = mirrored ?? (await fallback.get());
      cached = { config, freshUntil: now + ttlMs };
      return config;
    } catch (error) {
      options.onError?.(error);
      // The last mirrored value is better than none; without one, the SSM source decides.
      const config = cached?.config ?? (await fallback.get());
      cached = { config, freshUntil: now + ttlMs };
      return config;
    }
  }

  return {
    async get() {
      if (cached && clock.now() < cached.freshUntil) return cached.config;
      // One read at a time per container, however many frames ask at once.
      inFlight ??= read().finally(() => {
        inFlight = undefined;
      });
      return inFlight;
    },
  };
}
