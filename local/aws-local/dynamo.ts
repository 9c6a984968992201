/**
 * The room's DynamoDB table for `npm run start:aws-local`: on `WR_DYNAMODB_ENDPOINT` when it is
 * set (DynamoDB Local, another dynalite, ...), else on an embedded dynalite (DynamoDB's API in
 * Node, in memory). The table is created from {@link createTableInput}, the definition the CDK
 * app deploys, unless it already exists.
 */
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { createTableInput, ROOM_TABLE } from '../../functions/adapters/aws/resource-definitions.ts';

type DynaliteFactory = (options: { createTableMs?: number; deleteTableMs?: number }) => Server;
const dynalite = createRequire(import.meta.url)('dynalite') as DynaliteFactory;

export interface LocalDynamo {
  endpoint: string;
  /** Whether this process runs the endpoint (dynalite) or uses one it was given. */
  embedded: boolean;
  close(): Promise<void>;
}

/** Starts an embedded dynalite on 127.0.0.1, or uses `endpoint` when given. */
export async function startLocalDynamo(endpoint: string | null): Promise<LocalDynamo> {
  if (endpoint) return { endpoint, embedded: false, close: async () => {} };
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    embedded: true,
    async close() {
      // Requests still being answered finish first: dynalite closes its store when the server
      // closes, and a query it is still running then fails outside any request. Idle
      // connections close at once; one that hangs is cut after 2 s.
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => server.closeAllConnections?.(), 2000);
        server.close(() => {
          clearTimeout(force);
          resolve();
        });
        server.closeIdleConnections?.();
      });
    },
  };
}

/** A client for a local endpoint (any credentials do). */
export function localDynamoClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 3,
    // An endpoint that does not answer must fail the start, not hang it.
    requestHandler: { connectionTimeout: 3000, requestTimeout: 10_000 },
  });
}

/**
 * Creates the room table under `TableName` as the CDK app deploys it (keys, the `line` index,
 * TTL), or leaves an existing one as it is. Resolves once the table is active.
 */
export async function ensureRoomTable(client: DynamoDBClient, TableName: string): Promise<void> {
  try {
    await client.send(new CreateTableCommand(createTableInput(TableName)));
  } catch (error) {
    if ((error as Error).name !== 'ResourceInUseException') throw error;
  }
  for (let attempt = 0; ; attempt++) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName }));
    if (Table?.TableStatus === 'ACTIVE') break;
    if (attempt > 100) throw new Error(`table ${TableName} did not become active`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  try {
    await client.send(
      new UpdateTimeToLiveCommand({
        TableName,
        TimeToLiveSpecification: { AttributeName: ROOM_TABLE.timeToLiveAttribute, Enabled: true },
      }),
    );
  } catch (error) {
    // dynalite does not implement TTL (it never deletes expired items); DynamoDB does. A table
    // that already has it answers ValidationException.
    const name = (error as Error).name;
    if (name !== 'UnknownOperationException' && name !== 'ValidationException') throw error;
  }
}
