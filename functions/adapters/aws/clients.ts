/**
 * The AWS SDK clients the adapters use when a caller does not hand one in: one of each per
 * container (Lambda reuses them across invocations), created on first use so that a module
 * that never talks to a service never builds its client.
 *
 * Retries: DynamoDB, SQS and SSM use the SDK's standard retry strategy (exponential backoff with
 * full jitter on throttling, 5xx and network errors) with a few more attempts than the default.
 * The management API client does not retry by itself: {@link createApiGatewayNotifier} retries
 * throttling with its own backoff, and any other failure is retried by the next tick.
 */
import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SSMClient } from '@aws-sdk/client-ssm';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/** Sockets per client: above the processor's send and write concurrency, so none queue. */
const MAX_SOCKETS = 128;
const requestHandler = {
  httpsAgent: { keepAlive: true, maxSockets: MAX_SOCKETS },
  // Plain http only reaches the local stand-ins (start:aws-local): the same pool size.
  httpAgent: { keepAlive: true, maxSockets: MAX_SOCKETS },
};

let documentClient: DynamoDBDocumentClient | undefined;
let ssmClient: SSMClient | undefined;
let sqsClient: SQSClient | undefined;
let lambdaClient: LambdaClient | undefined;
const managementClients = new Map<string, ApiGatewayManagementApiClient>();

export function defaultDocumentClient(): DynamoDBDocumentClient {
  documentClient ??= DynamoDBDocumentClient.from(
    new DynamoDBClient({ maxAttempts: 6, requestHandler }),
    { marshallOptions: { removeUndefinedValues: true } },
  );
  return documentClient;
}

export function defaultSqsClient(): SQSClient {
  sqsClient ??= new SQSClient({ maxAttempts: 5, requestHandler });
  return sqsClient;
}

export function defaultSsmClient(): SSMClient {
  ssmClient ??= new SSMClient({ maxAttempts: 5 });
  return ssmClient;
}

/** For starting the processor (asynchronous invocations). */
export function defaultLambdaClient(): LambdaClient {
  lambdaClient ??= new LambdaClient({ maxAttempts: 3, requestHandler });
  return lambdaClient;
}

/** The management API client of one stage (`https://{apiId}.execute-api.{region}.amazonaws.com/{stage}`). */
export function defaultManagementClient(endpoint: string): ApiGatewayManagementApiClient {
  let client = managementClients.get(endpoint);
  if (!client) {
    client = new ApiGatewayManagementApiClient({ endpoint, maxAttempts: 1, requestHandler });
    managementClients.set(endpoint, client);
  }
  return client;
}
