/**
 * `npm run room -- console [--port N] [--aws ...]`: starts the operator console against the
 * local room or the deployed one, prints its address (with its token) and serves until
 * interrupted.
 */
import { fileURLToPath } from 'node:url';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SSMClient } from '@aws-sdk/client-ssm';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { type ConsoleServer, startConsoleServer } from './server.ts';
import { createAwsSource, createLocalSource, type RoomSource } from './sources.ts';

export const CONSOLE_DIST = fileURLToPath(new URL('../../console/dist/', import.meta.url));

export interface ConsoleOptions {
  port: number;
  local?: { url: string; dataDir: string | null };
  aws?: {
    region: string | undefined;
    prefix: string;
    tableName: string | undefined;
    roomId: string;
    ssmClient?: SSMClient;
  };
  out: (text: string) => void;
  err: (text: string) => void;
  /** Resolves when the console should stop (default: SIGINT or SIGTERM). */
  until?: (server: ConsoleServer) => Promise<void>;
}

/** The source the options name. */
export async function openSource(options: ConsoleOptions): Promise<RoomSource> {
  if (options.aws) {
    const { region, prefix, tableName, roomId } = options.aws;
    const clientOptions = region ? { region } : {};
    const ssm = options.aws.ssmClient ?? new SSMClient({ ...clientOptions, maxAttempts: 3 });
    const resolvedRegion = region ?? (await ssm.config.region());
    return createAwsSource({
      ssm,
      cloudWatch: new CloudWatchClient(clientOptions),
      dynamo: DynamoDBDocumentClient.from(new DynamoDBClient(clientOptions)),
      region: resolvedRegion,
      prefix,
      ...(tableName ? { tableName } : {}),
      roomId,
    });
  }
  const local = options.local ?? { url: 'http://127.0.0.1:8080', dataDir: null };
  return createLocalSource(local.url, local.dataDir);
}

export async function runConsole(options: ConsoleOptions): Promise<number> {
  let server: ConsoleServer;
  try {
    server = await startConsoleServer({
      source: await openSource(options),
      distDir: CONSOLE_DIST,
      port: options.port,
      log: (message) => options.err(`${new Date().toISOString()} ${message}\n`),
    });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    options.err(
      code === 'EADDRINUSE'
        ? `Port ${options.port} on 127.0.0.1 is taken: choose another with --port N (0: any free port).\n`
        : `Cannot start the console: ${(error as Error).message}\n`,
    );
    return 1;
  }
  const latest = server.samples().at(-1);
  options.out(
    [
      `Operator console for ${options.aws ? `the deployed room (${options.aws.prefix})` : (options.local?.url ?? 'the local room')}:`,
      '',
      `    ${server.url}`,
      '',
      'Open it in a browser on this machine; the address carries its access token after #',
      '(a new one each start; the page keeps it for its tab only). Ctrl-C stops it.',
      ...(latest?.error ? ['', `Warning: ${latest.error}`] : []),
      '',
    ].join('\n'),
  );
  const until =
    options.until ??
    (() =>
      new Promise<void>((done) => {
        process.once('SIGINT', () => done());
        process.once('SIGTERM', () => done());
      }));
  await until(server);
  await server.close();
  return 0;
}
