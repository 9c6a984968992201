/**
 * An in-memory DynamoDB (dynalite) on loopback, and tables with the contract's layout: `pk`/`sk`
 * keys, TTL on `ttl`, on-demand billing and the sparse `line` GSI (`line` + `seq`, all
 * attributes projected).
 */
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ensureRoomTable } from '../../local/aws-local/dynamo.ts';
import './aws-sdk-env.ts';

type DynaliteFactory = (options: { createTableMs?: number }) => Server;
const dynalite = createRequire(import.meta.url)('dynalite') as DynaliteFactory;

export interface Dynalite {
  endpoint: string;
  client: DynamoDBClient;
  documentClient: DynamoDBDocumentClient;
  /** Creates a table with the contract's layout under a fresh name and returns the name. */
  createTable(): Promise<string>;
  close(): Promise<void>;
}

let tables = 0;

export async function startDynalite(): Promise<Dynalite> {
  const server = dynalite({ createTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
  });
  const documentClient = DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true },
  });
  return {
    endpoint,
    client,
    documentClient,
    createTable: () => createRoomTable(client, `room-table-${process.pid}-${++tables}`),
    async close() {
      client.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The table the CDK app deploys, from the same definition. */
export async function createRoomTable(client: DynamoDBClient, TableName: string): Promise<string> {
  await ensureRoomTable(client, TableName);
  return TableName;
}
