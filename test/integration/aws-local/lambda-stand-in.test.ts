import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type LambdaStandIn,
  startLambdaStandIn,
} from '../../../local/aws-local/lambda-stand-in.ts';

let standIn: LambdaStandIn | undefined;
let client: LambdaClient | undefined;

afterEach(async () => {
  client?.destroy();
  await standIn?.close();
  standIn = undefined;
});

async function start(received: unknown[]) {
  standIn = await startLambdaStandIn((name) =>
    name === 'room-processor' ? (event) => received.push(event) : undefined,
  );
  client = new LambdaClient({
    endpoint: standIn.url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
  return client;
}

const invoke = (FunctionName: string, InvocationType: 'Event' | 'RequestResponse' = 'Event') =>
  new InvokeCommand({
    FunctionName,
    InvocationType,
    Payload: new TextEncoder().encode('{"waitingRoom":"wake"}'),
  });

describe('Lambda Invoke stand-in', () => {
  it('accepts an asynchronous invocation with 202 and hands the function its event', async () => {
    // Prepare
    const received: unknown[] = [];
    const lambda = await start(received);

    // Act
    const result = await lambda.send(invoke('room-processor'));

    // Assess
    expect(result.StatusCode).toBe(202);
    expect(received).toEqual([{ waitingRoom: 'wake' }]);
    expect(standIn?.invocations.get('room-processor')).toBe(1);
  });

  it('answers ResourceNotFoundException for a function it does not run', async () => {
    // Prepare
    const received: unknown[] = [];
    const lambda = await start(received);

    // Act
    const sending = lambda.send(invoke('someone-else'));

    // Assess
    await expect(sending).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    expect(received).toEqual([]);
  });

  it('refuses a synchronous invocation, which the room never makes', async () => {
    // Prepare
    const received: unknown[] = [];
    const lambda = await start(received);

    // Act
    const sending = lambda.send(invoke('room-processor', 'RequestResponse'));

    // Assess
    await expect(sending).rejects.toMatchObject({ name: 'InvalidParameterValueException' });
    expect(received).toEqual([]);
  });
});
