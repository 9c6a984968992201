/**
 * `npm run start:aws-local`'s room: every visitor action goes through the code that deploys.
 * The real Lambda entry points run in their own processes ({@link startLambdaFunction}) with the
 * environment the CDK app gives them, behind an API Gateway WebSocket stand-in; they reach
 * DynamoDB (dynalite, or `WR_DYNAMODB_ENDPOINT`), SQS FIFO (fauxqs, or `WR_SQS_ENDPOINT`) and SSM
 * (a stand-in speaking SSM's protocol) through the real AWS SDK clients. The processor is invoked
 * as EventBridge invokes it (every minute, with the function's timeout) and as it invokes
 * itself and is woken by a join (Lambda's Invoke API on a stand-in); one invocation per
 * container, as Lambda runs them.
 *
 * The operator's commands write the SSM parameters the functions read; the status reads the
 * table and the arrival queue. Every AWS call is counted ({@link AwsUsage}).
 */
import { availableParallelism } from 'node:os';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyWebsocketEventV2 } from 'aws-lambda';
import { ROOM_FUNCTION_ENTRIES, type RoomFunctionName } from '../../cdk/paths.ts';
import { createDynamoSessionStore } from '../../functions/adapters/aws/dynamo-session-store.ts';
import { LAMBDA_FUNCTIONS } from '../../functions/adapters/aws/resource-definitions.ts';
import { createSqsArrivalQueue } from '../../functions/adapters/aws/sqs-arrival-queue.ts';
import {
  createSsmConfigSource,
  createSsmConfigWriter,
} from '../../functions/adapters/aws/ssm-config.ts';
import {
  loadSignerKeysFromSsm,
  rotateKeyRingInSsm,
} from '../../functions/adapters/aws/ssm-signing-key.ts';
import { newKeyRing, retiredKeepSeconds, serializeKeyRing } from '../../functions/core/key-ring.ts';
import type { SessionStore } from '../../functions/core/ports.ts';
import { CLIENT_ACTIONS } from '../../functions/core/protocol.ts';
import { FAIR_LAUNCH_DEFAULTS } from '../../functions/core/room-settings.ts';
import {
  generateSigningKey,
  importKeyRing,
  jwksOfRing,
  type SigningKey,
  TICKET_TTL_SECONDS,
} from '../../functions/core/tokens.ts';
import { Env } from '../../functions/env.ts';
import { settingsOf } from '../admin.ts';
import { ConfigError, type LocalConfig } from '../config.ts';
import { type Log, type RoomBackend, readRoomStatus } from '../front.ts';
import { KeyRotationUnavailableError, loadOrCreateKey, pinnedKeyMessage } from '../keys.ts';
import { ensureRoomTable, localDynamoClient, startLocalDynamo } from './dynamo.ts';
import { playsDynamoFaults, startDynamoFaultProxy } from './dynamo-faults.ts';
import type { AwsFaults, FaultCounters } from './faults.ts';
import { AccountConcurrency, type LambdaFunction, startLambdaFunction } from './lambda-runtime.ts';
import { startLambdaStandIn } from './lambda-stand-in.ts';
import { ensureArrivalQueues, localSqsClient, startLocalSqs } from './sqs.ts';
import { startSqsFaultsProxy } from './sqs-faults.ts';
import { startSsmStandIn } from './ssm-stand-in.ts';
import { type AwsUsage, addSdkUsage, emptySdkUsage } from './usage.ts';
import { startWebSocketApi } from './websocket-api.ts';

/**
 * Containers this machine runs for each function at once (Lambda would start one per
 * invocation in flight): beyond them, invocations wait their turn. A container is a process
 * (about 100 MB); the visitor-facing functions spend most of their time waiting on DynamoDB and
 * SQS, so a few per core keep the cores busy without a pile of work that all finishes too late.
 */
const cores = availableParallelism();
export const MACHINE_CONTAINERS: Record<RoomFunctionName, number> = {
  message: 4 * cores,
  connect: 2 * cores,
  disconnect: 2 * cores,
  // The running processor, its successor, and a wake that finds the lease taken.
  processor: 3,
};

/** How far behind a visitor-facing function may be before it refuses work at once. */
const SHED_AFTER_MS = 8000;

export const CONFIG_PREFIX = '/waiting-room/config/';
export const SIGNING_KEY_PARAMETER = '/waiting-room/signing-key';
const REGION = 'us-east-1';
const CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };
const STAGE = 'live';

/** What `start:aws-local` adds to `npm start`'s settings (read by `aws-local-config.ts`). */
export interface AwsLocalSettings {
  /** A DynamoDB endpoint to use instead of the embedded dynalite. */
  dynamoEndpoint: string | null;
  /** An SQS endpoint to use instead of the embedded fauxqs. */
  sqsEndpoint: string | null;
  /** API Gateway's idle timeout and maximum connection age. */
  idleTimeoutMs: number;
  maxConnectionMs: number;
  /** How often the processor is invoked (EventBridge: every minute). */
  scheduleMs: number;
  /** The processor's Lambda timeout. */
  processorTimeoutMs: number;
  /** How long the processor stays awake with nobody in line. */
  sleepAfterIdleMs: number;
  /** AWS's limits and faults the stand-ins play (`WR_AWS_FAULTS`); empty: none. */
  faults: AwsFaults;
}

export const DEFAULT_AWS_LOCAL_SETTINGS: AwsLocalSettings = {
  dynamoEndpoint: null,
  sqsEndpoint: null,
  idleTimeoutMs: 10 * 60_000,
  maxConnectionMs: 2 * 3600_000,
  scheduleMs: LAMBDA_FUNCTIONS.processor.scheduleSeconds * 1000,
  processorTimeoutMs: LAMBDA_FUNCTIONS.processor.timeoutSeconds * 1000,
  sleepAfterIdleMs: 60_000,
  faults: {},
};

export interface AwsBackend extends RoomBackend {
  usage(): Promise<AwsUsage>;
  /** The room's table, read as an operator would (not counted). */
  store: SessionStore;
  key: SigningKey;
}

export async function startAwsBackend(
  settings: LocalConfig,
  aws: AwsLocalSettings,
  log: Log,
): Promise<AwsBackend> {
  // The SDK's notice about future Node versions says nothing about the room.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const cleanup: (() => Promise<void>)[] = [];
  const closeAll = async () => {
    for (const step of cleanup.reverse()) await step().catch(() => {});
  };
  try {
    return await assemble(settings, aws, log, cleanup, closeAll);
  } catch (error) {
    await closeAll();
    throw error;
  }
}

async function assemble(
  settings: LocalConfig,
  aws: AwsLocalSettings,
  log: Log,
  cleanup: (() => Promise<void>)[],
  closeAll: () => Promise<void>,
): Promise<AwsBackend> {
  const since = Date.now();
  /** How often each of `aws.faults` struck, by kind (`dynamodb.throttled`, ...). */
  const faultCounters: FaultCounters = {};
  // What the deploy's custom resource makes: a ring of the key (WR_KEY_FILE's, as a parameter
  // that already holds a key, or a new one) and a next key, published from now.
  const seed = settings.keyFile
    ? await loadOrCreateKey(settings.keyFile)
    : await generateSigningKey();
  const keepSeconds = retiredKeepSeconds({
    passTtlSeconds: settings.passTtlSeconds,
    ticketTtlSeconds: TICKET_TTL_SECONDS,
  });
  const ring = newKeyRing(seed.pkcs8, (await generateSigningKey()).pkcs8, Math.floor(since / 1000));
  /** The JWKS as the room's bucket holds it; written by the rotation, as on AWS. */
  let published = jwksOfRing(await importKeyRing(ring), Math.floor(since / 1000), keepSeconds);
  let key: SigningKey = seed;

  const ssm = await startSsmStandIn({ getRate: aws.faults['ssm-rate'], counters: faultCounters });
  cleanup.push(() => ssm.close());
  // The operator's and the front's client: outside the functions' throughput quota.
  const ssmClient = new SSMClient({
    endpoint: ssm.operatorUrl,
    region: REGION,
    credentials: CREDENTIALS,
  });
  cleanup.push(async () => ssmClient.destroy());
  // What a deploy creates: the settings as the environment seeds them, and the key.
  const put = (Name: string, Value: string, Type: 'String' | 'SecureString' = 'String') =>
    ssmClient.send(new PutParameterCommand({ Name, Value, Type, Overwrite: true }));
  const writer = createSsmConfigWriter({ client: ssmClient, prefix: CONFIG_PREFIX });
  await writer.setEnabled(settings.enabled);
  await writer.setRate(settings.admitPerMinute);
  await writer.write(FAIR_LAUNCH_DEFAULTS);
  await put(SIGNING_KEY_PARAMETER, serializeKeyRing(ring), 'SecureString');

  const dynamo = await startLocalDynamo(aws.dynamoEndpoint);
  cleanup.push(() => dynamo.close());
  // The functions' DynamoDB: at AWS's limits (throughput, index lag) when WR_AWS_FAULTS names
  // them; the operator's reads below go straight to the table.
  const functionsDynamo = playsDynamoFaults(aws.faults)
    ? await startDynamoFaultProxy({
        target: dynamo.endpoint,
        faults: aws.faults,
        counters: faultCounters,
      })
    : null;
  if (functionsDynamo) cleanup.push(() => functionsDynamo.close());
  const dynamoClient = localDynamoClient(dynamo.endpoint);
  cleanup.push(async () => dynamoClient.destroy());
  const tableName = `waiting-room-${settings.roomId}`;
  try {
    await ensureRoomTable(dynamoClient, tableName);
  } catch (error) {
    if (dynamo.embedded) throw error;
    throw new ConfigError(
      'WR_DYNAMODB_ENDPOINT',
      `cannot create or read the table ${tableName} at ${dynamo.endpoint} (${(error as Error).message})`,
    );
  }

  const sqs = await startLocalSqs(aws.sqsEndpoint);
  cleanup.push(() => sqs.close());
  const sqsClient = localSqsClient(sqs.endpoint);
  cleanup.push(async () => sqsClient.destroy());
  let queues: Awaited<ReturnType<typeof ensureArrivalQueues>>;
  try {
    queues = await ensureArrivalQueues(sqsClient, sqs.endpoint, `waiting-room-${settings.roomId}`);
  } catch (error) {
    if (sqs.embedded) throw error;
    throw new ConfigError(
      'WR_SQS_ENDPOINT',
      `cannot create or read the arrival queue at ${sqs.endpoint} (${(error as Error).message})`,
    );
  }
  // The arrival queue the functions send to and receive from, as the operator's status counts it.
  const arrivals = createSqsArrivalQueue({ client: sqsClient, queueUrl: queues.queueUrl });
  // The functions reach SQS through its FIFO quota when `sqs-rate` is on; the operator does not.
  // The SDK sends each call to its QueueUrl's host, so the URL they are given is the proxy's.
  const sqsRate = aws.faults['sqs-rate'];
  const sqsQuota =
    sqsRate === undefined
      ? null
      : await startSqsFaultsProxy({ target: sqs.endpoint, rate: sqsRate, counters: faultCounters });
  if (sqsQuota) cleanup.push(() => sqsQuota.close());
  const functionsSqs = sqsQuota
    ? {
        endpoint: sqsQuota.endpoint,
        queueUrl: `${sqsQuota.endpoint}${new URL(queues.queueUrl).pathname}`,
      }
    : { endpoint: sqs.endpoint, queueUrl: queues.queueUrl };

  const functions = {} as Record<RoomFunctionName, LambdaFunction>;
  let closed = false;
  const invoke =
    (name: RoomFunctionName) => (event: APIGatewayProxyWebsocketEventV2, gone?: AbortSignal) => {
      const fn = functions[name];
      if (!fn) return Promise.reject(new Error(`${name} is not running yet`));
      // Only a join makes a place; every other frame answers from what is stored, and goes
      // first. A frame whose visitor left while it waited for a container is not run.
      return fn.invoke(event, 'sync', {
        urgent: event.requestContext.routeKey !== 'join',
        ...(gone ? { signal: gone } : {}),
      });
    };
  const api = await startWebSocketApi({
    // As the CDK app routes them: every action and `$default` to the message function.
    routes: {
      $connect: invoke('connect'),
      $disconnect: invoke('disconnect'),
      $default: invoke('message'),
      ...Object.fromEntries(CLIENT_ACTIONS.map((action) => [action, invoke('message')])),
    },
    stage: STAGE,
    domainName: new URL(settings.publicUrl).host,
    idleTimeoutMs: aws.idleTimeoutMs,
    maxConnectionMs: aws.maxConnectionMs,
    requestRate: aws.faults['apigw-rate'],
    newConnectionRate: aws.faults['apigw-connections'],
    counters: faultCounters,
    onError: (routeKey, connectionId, error) =>
      log('error', 'invocation failed', { routeKey, connectionId, error: String(error) }),
  });
  cleanup.push(() => api.close());

  const processorName = `waiting-room-${settings.roomId}-processor`;
  const lambdaApi = await startLambdaStandIn((name) =>
    name === processorName && !closed
      ? (event) => {
          functions.processor?.invoke(event, 'async').catch((error: unknown) => {
            if (!closed) log('error', 'processor invocation failed', { error: String(error) });
          });
        }
      : undefined,
  );
  cleanup.push(() => lambdaApi.close());

  const environment: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    AWS_REGION: REGION,
    AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL_DYNAMODB: functionsDynamo?.endpoint ?? dynamo.endpoint,
    AWS_ENDPOINT_URL_SQS: functionsSqs.endpoint,
    AWS_ENDPOINT_URL_SSM: ssm.url,
    AWS_ENDPOINT_URL_LAMBDA: lambdaApi.url,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    // The functions' own logs: warnings and errors unless asked for more. Their metrics (EMF)
    // are read by the runtime, as CloudWatch would, and summed into the usage report.
    POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'WARN',
    [Env.tableName]: tableName,
    [Env.arrivalQueueUrl]: functionsSqs.queueUrl,
    [Env.configPrefix]: CONFIG_PREFIX,
    [Env.signingKeyParameter]: SIGNING_KEY_PARAMETER,
    [Env.managementEndpoint]: api.managementEndpoint,
    [Env.roomId]: settings.roomId,
    [Env.mainOrigin]: settings.publicUrl,
    [Env.allowedOrigins]: settings.allowedOrigins
      .filter((origin) => origin !== settings.publicUrl)
      .join(','),
    [Env.passTtlSeconds]: String(settings.passTtlSeconds),
    [Env.abandonAfterSeconds]: String(settings.abandonAfterSeconds),
    [Env.tickMs]: String(settings.tickMs),
    [Env.positionBudgetPerSecond]: String(settings.positionBudgetPerSecond),
    [Env.processorFunctionName]: processorName,
    [Env.sleepAfterIdleSeconds]: String(Math.round(aws.sleepAfterIdleMs / 1000)),
    [Env.sourceLimits]: settings.sourceLimits ? 'on' : 'off',
    [Env.maxPlacesPerSource]: String(settings.sourceLimits?.maxPlaces ?? 1),
  };
  // As a deploy does: identity tokens are the message function's alone, each variable only
  // when set (a function has no file to read: the key travels as its PEM text).
  const identityEnvironment: Record<string, string> = {
    ...(settings.identityPublicKeyPem
      ? { [Env.identityPublicKey]: settings.identityPublicKeyPem }
      : {}),
    ...(settings.identityJwksUrl ? { [Env.identityJwksUrl]: settings.identityJwksUrl } : {}),
    ...(settings.identityRequired ? { [Env.identityRequired]: 'true' } : {}),
  };
  // The account's pool of invocations at once, when played (`lambda-concurrency`).
  const concurrency = aws.faults['lambda-concurrency']
    ? new AccountConcurrency(aws.faults['lambda-concurrency'])
    : undefined;
  // Every container is waited for, so that none is left running when another fails to start.
  const started = await Promise.allSettled(
    (Object.keys(ROOM_FUNCTION_ENTRIES) as RoomFunctionName[]).map(async (name) => {
      const sizing =
        name === 'processor' ? LAMBDA_FUNCTIONS.processor : LAMBDA_FUNCTIONS.visitorFacing;
      const fn = await startLambdaFunction({
        name,
        entry: ROOM_FUNCTION_ENTRIES[name],
        environment: {
          ...environment,
          ...(name === 'message' ? identityEnvironment : {}),
          AWS_LAMBDA_FUNCTION_NAME:
            name === 'processor' ? processorName : `waiting-room-${settings.roomId}-${name}`,
          AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(sizing.memoryMb),
        },
        memoryMb: sizing.memoryMb,
        timeoutMs: name === 'processor' ? aws.processorTimeoutMs : sizing.timeoutSeconds * 1000,
        maxContainers: MACHINE_CONTAINERS[name],
        // What API Gateway hands over is refused at once when this machine could not answer
        // it well within the page's patience (10 s for a socket, 20 s for an answer).
        ...(name === 'processor' ? {} : { shedAfterMs: SHED_AFTER_MS }),
        ...(name === 'processor'
          ? { maxEventAgeMs: LAMBDA_FUNCTIONS.processor.maxEventAgeSeconds * 1000 }
          : {}),
        ...(concurrency ? { concurrency } : {}),
        ...(aws.faults['cold-start'] ? { coldStartMs: aws.faults['cold-start'] } : {}),
        ...(aws.faults['clock-skew'] ? { clockSkewMs: aws.faults['clock-skew'] } : {}),
        counters: faultCounters,
      });
      cleanup.push(() => fn.close());
      functions[name] = fn;
    }),
  );
  const failed = started.find((result) => result.status === 'rejected');
  if (failed) throw failed.reason;

  // What the front and the operator read: not counted as the room's AWS calls.
  const documentClient = DynamoDBDocumentClient.from(dynamoClient, {
    marshallOptions: { removeUndefinedValues: true },
  });
  const store = createDynamoSessionStore({
    client: documentClient,
    tableName,
    roomId: settings.roomId,
    countArriving: () => arrivals.approximateDepth(),
  });
  // The gate's flag: read often and cheaply (CloudFront caches the flag document on AWS).
  const gateConfig = createSsmConfigSource({
    client: ssmClient,
    prefix: CONFIG_PREFIX,
    ttlMs: 250,
  });
  const operatorConfig = createSsmConfigSource({
    client: ssmClient,
    prefix: CONFIG_PREFIX,
    ttlMs: 0,
  });

  const processorRuns = { invocations: 0 };
  let schedule: NodeJS.Timeout | undefined;
  const runProcessor = () => {
    if (closed) return;
    processorRuns.invocations += 1;
    const event = {
      version: '0',
      id: `local-${processorRuns.invocations}`,
      'detail-type': 'Scheduled Event',
      source: 'aws.events',
      time: new Date().toISOString(),
      region: REGION,
      resources: ['arn:aws:events:us-east-1:000000000000:rule/ProcessorSchedule'],
      detail: {},
    };
    functions.processor.invoke(event, 'async').catch((error: unknown) => {
      if (!closed) log('error', 'processor invocation failed', { error: String(error) });
    });
  };

  return {
    get jwks() {
      return published;
    },
    // What `rotate-key --aws` makes the key rotation function do, on the SSM stand-in; the
    // functions' containers read the new ring within a minute, as deployed.
    async rotateKey({ force }) {
      // As on `npm start`: a pinned key is the operator's, and a restart would go back to it.
      if (settings.keyFile)
        throw new KeyRotationUnavailableError(pinnedKeyMessage(settings.keyFile));
      const result = await rotateKeyRingInSsm({
        client: ssmClient,
        name: SIGNING_KEY_PARAMETER,
        keepSeconds,
        force,
        publish: async (jwks) => {
          published = jwks;
        },
      });
      if (result.outcome !== 'refused') {
        key = (
          await loadSignerKeysFromSsm({
            client: ssmClient,
            name: SIGNING_KEY_PARAMETER,
            keepSeconds,
          })
        ).current;
      }
      return result;
    },
    isEnabled: async () => (await gateConfig.get()).enabled,
    status: async () =>
      readRoomStatus(await operatorConfig.get(), store, api.connections, Date.now()),
    async changeConfig(change) {
      await writer.write(settingsOf(change));
      // What the deployed EventBridge rule on the parameters does: wake the processor, whose
      // next tick mirrors the new config for the handlers.
      functions.processor?.invoke({ waitingRoom: 'wake' }, 'async').catch((error: unknown) => {
        if (!closed) log('error', 'processor invocation failed', { error: String(error) });
      });
    },
    adminReports: { usage: () => usage() },
    store,
    get key() {
      return key;
    },
    handleUpgrade: (req, socket, head) => api.handleUpgrade(req, socket, head),
    start() {
      runProcessor();
      schedule = setInterval(runProcessor, aws.scheduleMs);
    },
    usage,
    async close() {
      closed = true;
      clearInterval(schedule);
      // Visitors first, while the functions still run; then everything else.
      await api.close();
      await closeAll();
    },
  };

  async function usage(): Promise<AwsUsage> {
    const sdk: AwsUsage['sdk'] = {};
    const lambda: AwsUsage['lambda'] = {};
    const metrics: AwsUsage['metrics'] = {};
    let total = emptySdkUsage();
    for (const [name, fn] of Object.entries(functions)) {
      sdk[name] = await fn.sdkUsage();
      total = addSdkUsage(total, sdk[name]);
      lambda[name] = fn.usage();
      metrics[name] = { ...fn.metrics };
    }
    sdk.total = total;
    return {
      since,
      at: Date.now(),
      sdk,
      lambda,
      apiGateway: api.usage(),
      metrics,
      processor: {
        invocations: functions.processor?.usage().invocations ?? 0,
        ticks: functions.processor?.metrics.ticks ?? 0,
      },
      faults: { on: aws.faults, struck: { ...faultCounters } },
    };
  }
}
