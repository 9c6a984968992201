/**
 * The processor {@link Lease} as one DynamoDB item (`pk = R#<room>`, `sk = LEASE`): taken or
 * renewed by a conditional write that succeeds only if nobody holds it, it has expired, or this
 * owner holds it.
 *
 * The holder is a processor (a Lambda container), not one invocation: a release only expires
 * the lease and keeps its owner, so when the same container takes it again and nobody held it
 * in between, `acquire` answers `renewed` and the line it keeps in memory is still current.
 *
 * Expiry is compared with the clock of whoever tries to take the lease, so the lease must be
 * much longer than the clock skew between Lambda hosts (NTP keeps it well under a second).
 */
import { type DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Lease } from '../../core/lease.ts';
import { isConditionFailed } from './aws-errors.ts';
import { defaultDocumentClient } from './clients.ts';
import { LEASE_SK, roomPk } from './dynamo-items.ts';

export interface DynamoLeaseOptions {
  client?: DynamoDBDocumentClient;
  tableName: string;
  roomId: string;
  /** Who holds it: unique per processor (one per Lambda container). */
  owner: string;
}

export function createDynamoLease(options: DynamoLeaseOptions): Lease {
  const { tableName: TableName, roomId, owner } = options;
  const client = options.client ?? defaultDocumentClient();
  const Key = { pk: roomPk(roomId), sk: LEASE_SK };
  return {
    async acquire(now, durationMs) {
      try {
        const { Attributes } = await client.send(
          new UpdateCommand({
            TableName,
            Key,
            UpdateExpression: 'SET #owner = :me, #expiresAt = :expiresAt, #ttl = :ttl',
            ConditionExpression: 'attribute_not_exists(pk) OR #expiresAt < :now OR #owner = :me',
            ExpressionAttributeNames: {
              '#owner': 'owner',
              '#expiresAt': 'expiresAt',
              '#ttl': 'ttl',
            },
            ExpressionAttributeValues: {
              ':me': owner,
              ':now': now,
              ':expiresAt': now + durationMs,
              // Housekeeping only: an expired lease is free whether or not it was deleted.
              ':ttl': Math.floor((now + durationMs) / 1000) + 3600,
            },
            ReturnValues: 'ALL_OLD',
          }),
        );
        return Attributes?.owner === owner ? 'renewed' : 'taken';
      } catch (error) {
        if (isConditionFailed(error)) return false;
        throw error;
      }
    },
    async setAsleep(asleep, now) {
      try {
        // `asleepAt` stays while the room sleeps on (a waker that wakes it removes it).
        const { Attributes } = await client.send(
          new UpdateCommand({
            TableName,
            Key,
            UpdateExpression: asleep
              ? 'SET #asleep = :true, #asleepAt = if_not_exists(#asleepAt, :now)'
              : 'SET #asleep = :false REMOVE #asleepAt',
            ConditionExpression: '#owner = :me',
            ExpressionAttributeNames: {
              '#owner': 'owner',
              '#asleep': 'asleep',
              '#asleepAt': 'asleepAt',
            },
            ExpressionAttributeValues: asleep
              ? { ':me': owner, ':true': true, ':now': now }
              : { ':me': owner, ':false': false },
            ReturnValues: 'ALL_NEW',
          }),
        );
        return asleep && typeof Attributes?.asleepAt === 'number' ? Attributes.asleepAt : null;
      } catch (error) {
        // Another processor holds the lease now: the mark is its to set.
        if (!isConditionFailed(error)) throw error;
        return null;
      }
    },
    async release() {
      try {
        // Expired at once, owner kept: see above.
        await client.send(
          new UpdateCommand({
            TableName,
            Key,
            UpdateExpression: 'SET #expiresAt = :zero',
            ConditionExpression: '#owner = :me',
            ExpressionAttributeNames: { '#owner': 'owner', '#expiresAt': 'expiresAt' },
            ExpressionAttributeValues: { ':me': owner, ':zero': 0 },
          }),
        );
      } catch (error) {
        if (!isConditionFailed(error)) throw error;
      }
    },
  };
}
