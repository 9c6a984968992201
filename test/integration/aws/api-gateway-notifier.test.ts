import {
  ApiGatewayManagementApiClient,
  ForbiddenException,
  GoneException,
  LimitExceededException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { createApiGatewayNotifier } from '../../../functions/adapters/aws/api-gateway-notifier.ts';
import type { ServerMessage } from '../../../functions/core/protocol.ts';
import '../../helpers/aws-sdk-env.ts';

const api = mockClient(ApiGatewayManagementApiClient);
const PONG: ServerMessage = { type: 'pong' };
const meta = (httpStatusCode: number) => ({ $metadata: { httpStatusCode } });

function createNotifier() {
  const pauses: number[] = [];
  const notifier = createApiGatewayNotifier({
    client: new ApiGatewayManagementApiClient({
      region: 'eu-west-1',
      endpoint: 'https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/live',
    }),
    maxAttempts: 4,
    baseDelayMs: 50,
    maxDelayMs: 1000,
    sleep: async (ms) => {
      pauses.push(ms);
    },
    random: () => 0.5,
  });
  return { notifier, pauses };
}

beforeEach(() => {
  api.reset();
});

describe('API Gateway management API notifier', () => {
  it('posts the message as JSON to the connection', async () => {
    // Prepare
    api.on(PostToConnectionCommand).resolves({});
    const { notifier } = createNotifier();
    const message: ServerMessage = {
      type: 'position',
      position: 3,
      waiting: 9,
      etaSeconds: 3,
      nextUpdateSeconds: 11,
    };

    // Act
    const delivery = await notifier.send('conn-1', message);

    // Assess
    expect(delivery).toBe('sent');
    const input = api.commandCalls(PostToConnectionCommand)[0]?.args[0].input;
    expect(input?.ConnectionId).toBe('conn-1');
    expect(JSON.parse(new TextDecoder().decode(input?.Data as Uint8Array))).toEqual(message);
  });

  it('answers gone for a connection that no longer exists (410)', async () => {
    // Prepare
    api.on(PostToConnectionCommand).rejects(new GoneException({ message: 'gone', ...meta(410) }));
    const { notifier } = createNotifier();

    // Act
    const delivery = await notifier.send('conn-1', PONG);

    // Assess
    expect(delivery).toBe('gone');
    expect(api.commandCalls(PostToConnectionCommand)).toHaveLength(1);
  });

  it('retries a throttled post with growing pauses and delivers it', async () => {
    // Prepare
    api
      .on(PostToConnectionCommand)
      .rejectsOnce(new LimitExceededException({ message: 'slow', ...meta(429) }))
      .rejectsOnce(
        Object.assign(new Error('throttled'), { name: 'ThrottlingException', ...meta(400) }),
      )
      .resolves({});
    const { notifier, pauses } = createNotifier();

    // Act
    const delivery = await notifier.send('conn-1', PONG);

    // Assess
    expect(delivery).toBe('sent');
    expect(api.commandCalls(PostToConnectionCommand)).toHaveLength(3);
    expect(pauses).toEqual([25, 50]);
  });

  it('gives up on a post still throttled after its attempts', async () => {
    // Prepare
    api.on(PostToConnectionCommand).rejects(
      Object.assign(new Error('Too Many Requests'), {
        name: 'TooManyRequestsException',
        ...meta(429),
      }),
    );
    const { notifier, pauses } = createNotifier();

    // Act
    const sending = notifier.send('conn-1', PONG);

    // Assess
    await expect(sending).rejects.toThrow('Too Many Requests');
    expect(api.commandCalls(PostToConnectionCommand)).toHaveLength(4);
    expect(pauses).toHaveLength(3);
  });

  it('rejects at once on any other failure', async () => {
    // Prepare
    api
      .on(PostToConnectionCommand)
      .rejects(new ForbiddenException({ message: 'no', ...meta(403) }));
    const { notifier } = createNotifier();

    // Act
    const sending = notifier.send('conn-1', PONG);

    // Assess
    await expect(sending).rejects.toBeInstanceOf(ForbiddenException);
    expect(api.commandCalls(PostToConnectionCommand)).toHaveLength(1);
  });
});
