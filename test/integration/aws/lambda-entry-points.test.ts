/**
 * The entry points as the Lambda runtime loads them: settings read at cold start, adapters
 * wired with the default clients (no call is made until an event comes).
 */
import { generateKeyPairSync } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import '../../helpers/aws-sdk-env.ts';

const ENV = {
  AWS_REGION: 'eu-west-1',
  WR_TABLE_NAME: 'room-table',
  WR_ARRIVAL_QUEUE_URL:
    'https://sqs.eu-west-1.amazonaws.com/123456789012/WaitingRoom-arrivals.fifo',
  WR_ROOM_ID: 'launch-room',
  WR_MAIN_ORIGIN: 'https://shop.example.com',
  WR_CONFIG_PREFIX: '/waiting-room/config/',
  WR_SIGNING_KEY_PARAMETER: '/waiting-room/signing-key',
  WR_MANAGEMENT_ENDPOINT: 'https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/live',
  WR_TICK_MS: '1000',
  WR_PROCESSOR_FUNCTION_NAME: 'launch-room-processor',
};

afterEach(() => {
  vi.unstubAllEnvs();
  vi.resetModules();
});

function stubEnv(env: Record<string, string>) {
  for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
}

describe('Lambda entry points', () => {
  it.each(['connect', 'disconnect', 'message', 'processor'])(
    '%s exports a handler once its settings are there',
    async (name) => {
      // Prepare
      stubEnv(ENV);

      // Act
      const module = (await import(`../../../functions/lambda/${name}.ts`)) as { handler: unknown };

      // Assess
      expect(module.handler).toBeTypeOf('function');
    },
  );

  it.each([
    ['disconnect', 'WR_TABLE_NAME'],
    ['message', 'WR_MANAGEMENT_ENDPOINT'],
    ['message', 'WR_ARRIVAL_QUEUE_URL'],
    ['processor', 'WR_ARRIVAL_QUEUE_URL'],
    ['processor', 'WR_SIGNING_KEY_PARAMETER'],
  ])('%s fails at cold start naming %s when it is missing', async (name, variable) => {
    // Prepare
    stubEnv({ ...ENV, [variable]: '' });

    // Act
    const loading = import(`../../../functions/lambda/${name}.ts`);

    // Assess
    await expect(loading).rejects.toThrow(`${variable}: must be set`);
  });

  it.each([
    [
      'a public key',
      {
        WR_IDENTITY_PUBLIC_KEY: generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export(
          {
            type: 'spki',
            format: 'pem',
          },
        ) as string,
      },
    ],
    ['a key set URL', { WR_IDENTITY_JWKS_URL: 'https://shop.example.com/.well-known/jwks.json' }],
  ])('message exports a handler that checks identity tokens with %s', async (_, identity) => {
    // Prepare
    stubEnv({ ...ENV, ...identity, WR_IDENTITY_REQUIRED: 'true' });

    // Act
    const module = (await import('../../../functions/lambda/message.ts')) as { handler: unknown };

    // Assess
    expect(module.handler).toBeTypeOf('function');
  });

  it('message fails at cold start when identity tokens are required with nothing to check them', async () => {
    // Prepare
    stubEnv({ ...ENV, WR_IDENTITY_REQUIRED: 'true' });

    // Act
    const loading = import('../../../functions/lambda/message.ts');

    // Assess
    await expect(loading).rejects.toThrow(/^WR_IDENTITY_REQUIRED: true needs/);
  });
});
