/** API Gateway WebSocket events and Lambda contexts as the Lambda runtime hands them over. */
import type { APIGatewayProxyWebsocketEventV2, Context } from 'aws-lambda';

export const API_ID = 'a1b2c3d4e5';
export const STAGE = 'live';
export const DOMAIN = `${API_ID}.execute-api.eu-west-1.amazonaws.com`;

let requests = 0;

/** A WebSocket route event (`$connect`, `$disconnect`, `$default` or an action route). */
export function websocketEvent(
  routeKey: string,
  connectionId: string,
  body?: string | object,
  options: { isBase64Encoded?: boolean; sourceIp?: string } = {},
): APIGatewayProxyWebsocketEventV2 {
  const eventType =
    routeKey === '$connect' ? 'CONNECT' : routeKey === '$disconnect' ? 'DISCONNECT' : 'MESSAGE';
  const now = Date.now();
  requests += 1;
  return {
    requestContext: {
      routeKey,
      messageId: eventType === 'MESSAGE' ? `msg-${requests}` : undefined,
      eventType,
      extendedRequestId: `ext-${requests}`,
      requestTime: new Date(now).toUTCString(),
      messageDirection: 'IN',
      stage: STAGE,
      connectedAt: now - 1000,
      requestTimeEpoch: now,
      requestId: `req-${requests}`,
      domainName: DOMAIN,
      connectionId,
      apiId: API_ID,
      // API Gateway names the client's address on every WebSocket event.
      identity: { sourceIp: options.sourceIp ?? '198.51.100.10' },
    },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    isBase64Encoded: options.isBase64Encoded ?? false,
  } as APIGatewayProxyWebsocketEventV2;
}

/** A Lambda context whose remaining time is read from `remainingMs()` (a manual clock in tests). */
export function lambdaContext(
  remainingMs: () => number = () => 60_000,
  functionName = 'waiting-room-fn',
): Context {
  requests += 1;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:eu-west-1:123456789012:function:${functionName}`,
    memoryLimitInMB: '512',
    awsRequestId: `request-${requests}`,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: '2026/11/25/[$LATEST]abcdef',
    getRemainingTimeInMillis: remainingMs,
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}
