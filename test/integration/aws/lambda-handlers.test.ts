import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import type { LambdaClient } from '@aws-sdk/client-lambda';
import type { SSMClient } from '@aws-sdk/client-ssm';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createApiGatewayNotifier } from '../../../functions/adapters/aws/api-gateway-notifier.ts';
import { createDynamoLease } from '../../../functions/adapters/aws/dynamo-lease.ts';
import { createDynamoSourceLimits } from '../../../functions/adapters/aws/dynamo-source-limits.ts';
import { createLambdaWaker } from '../../../functions/adapters/aws/lambda-waker.ts';
import { newKeyRing, serializeKeyRing } from '../../../functions/core/key-ring.ts';
import { sourceLimitsFor } from '../../../functions/core/sources.ts';
import { generateSigningKey } from '../../../functions/core/tokens.ts';
import { createProcessorHandler } from '../../../functions/lambda/processor-handler.ts';
import {
  createConnectHandler,
  createDisconnectHandler,
  createMessageHandler,
} from '../../../functions/lambda/websocket-handlers.ts';
import { identityVerifierFrom, signerAndProofsFrom } from '../../../functions/lambda/wiring.ts';
import { lambdaContext, websocketEvent } from '../../helpers/aws-events.ts';
import { createAwsHarness } from '../../helpers/aws-harness.ts';
import { captureObservability } from '../../helpers/aws-observability.ts';
import { type AwsStandIns, startAwsStandIns } from '../../helpers/aws-stand-ins.ts';
import { solve } from '../../helpers/pow-solver.ts';
import type { HarnessOptions } from '../../helpers/room-harness.ts';

let db: AwsStandIns;
beforeAll(async () => {
  db = await startAwsStandIns();
});
afterAll(async () => {
  await db.close();
});

/** What a fake Lambda client was asked to invoke (no Lambda stand-in runs in this test). */
function lambdaCalls(failures = 0) {
  const invoked: { FunctionName?: string; InvocationType?: string; payload: unknown }[] = [];
  let failuresLeft = failures;
  const client = {
    send: async (command: {
      input: { FunctionName?: string; InvocationType?: string; Payload?: Uint8Array };
    }) => {
      if (failuresLeft-- > 0) throw new Error('TooManyRequestsException');
      const { FunctionName, InvocationType, Payload } = command.input;
      invoked.push({
        FunctionName,
        InvocationType,
        payload: JSON.parse(new TextDecoder().decode(Payload)),
      });
      return { StatusCode: 202 };
    },
  };
  return { invoked, client: client as unknown as LambdaClient };
}

/** The message handler as message.ts wires it, over a room on the AWS adapters. */
async function messageFunction(options: HarnessOptions = {}, invokeFailures = 0) {
  const room = await createAwsHarness(db, options);
  const observability = captureObservability();
  const lambda = lambdaCalls(invokeFailures);
  const waker = createLambdaWaker({
    client: db.documentClient,
    lambda: lambda.client,
    tableName: room.tableName,
    roomId: 'test-room',
    functionName: 'room-processor',
    clock: room.clock,
  });
  const handler = createMessageHandler({
    router: { ...room.router, waker },
    store: room.store,
    replies: createApiGatewayNotifier({
      client: room.api as unknown as ApiGatewayManagementApiClient,
      sleep: async () => {},
    }),
    clock: room.clock,
    observability,
  });
  const frame = (routeKey: string, connectionId: string, body: unknown) =>
    handler(websocketEvent(routeKey, connectionId, body as string | object), lambdaContext());
  return { room, handler, observability, frame, invoked: lambda.invoked };
}

async function processorFunction(
  room: Awaited<ReturnType<typeof createAwsHarness>>,
  confirmSleepAfterMs = 0,
) {
  const observability = captureObservability();
  const lease = (owner: string) =>
    createDynamoLease({
      client: db.documentClient,
      tableName: room.tableName,
      roomId: 'test-room',
      owner,
    });
  const successors: number[] = [];
  const handler = createProcessorHandler({
    processor: room.processor,
    lease,
    clock: room.clock,
    sleep: async (ms) => room.clock.advance(ms),
    observability,
    sleepAfterIdleMs: 60_000,
    confirmSleepAfterMs,
    startSuccessor: async () => {
      successors.push(room.clock.now());
    },
  });
  return { handler, lease, observability, successors };
}

describe('message handler (join, resume, status, ping and $default)', () => {
  it('posts joined to the connection that joined and answers 200', async () => {
    // Prepare
    const { room, frame, observability } = await messageFunction();

    // Act
    const result = await frame('join', 'conn-1', { action: 'join', return: '/tickets' });

    // Assess
    expect(result).toEqual({ statusCode: 200 });
    expect(room.api.messages('conn-1')).toEqual([
      expect.objectContaining({ type: 'joined', sessionId: 's000001' }),
    ]);
    expect(await room.store.sessionOfConnection('conn-1')).toBe('s000001');
    expect(observability.total('joins')).toBe(1);
  });

  it('posts joined before the position of a place taken back on a new connection', async () => {
    // Prepare
    const { room, frame } = await messageFunction({ config: { admitPerMinute: 0 } });
    await frame('join', 'conn-1', { action: 'join' });
    const ticket = room.api.messages('conn-1')[0];
    await room.tick();

    // Act
    await frame('resume', 'conn-2', {
      action: 'resume',
      ticket: ticket?.type === 'joined' ? ticket.ticket : '',
    });
    await room.tick();

    // Assess: the processor heard of the new connection once joined was posted on it.
    expect(room.api.messages('conn-2').map((m) => m.type)).toEqual(['joined', 'position']);
  });

  it("lets the processor push positions once the visitor's joined was posted", async () => {
    // Prepare
    const { room, frame } = await messageFunction({ config: { admitPerMinute: 0 } });
    await frame('join', 'conn-1', { action: 'join' });

    // Act
    await room.tick();

    // Assess
    expect(room.api.messages('conn-1')).toEqual([
      expect.objectContaining({ type: 'joined' }),
      { type: 'position', position: 1, waiting: 1, etaSeconds: null, nextUpdateSeconds: 11 },
    ]);
  });

  it('answers a frame that is not JSON with bad_request and changes nothing', async () => {
    // Prepare
    const { room, frame, observability } = await messageFunction();

    // Act
    const result = await frame('$default', 'conn-1', '{"action":');

    // Assess
    expect(result).toEqual({ statusCode: 200 });
    expect(room.api.messages('conn-1')).toEqual([
      expect.objectContaining({ type: 'error', code: 'bad_request' }),
    ]);
    expect(await room.store.sessionOfConnection('conn-1')).toBeUndefined();
    expect(observability.total('badRequests')).toBe(1);
  });

  it('answers an unknown action on the $default route with bad_request', async () => {
    // Prepare
    const { room, frame } = await messageFunction();

    // Act
    await frame('$default', 'conn-1', { action: 'jump-the-queue' });

    // Assess
    expect(room.api.messages('conn-1')).toEqual([
      expect.objectContaining({
        type: 'error',
        code: 'bad_request',
        message: 'unknown action "jump-the-queue"',
      }),
    ]);
  });

  it('answers a binary frame with bad_request', async () => {
    // Prepare
    const { room, handler } = await messageFunction();
    const event = websocketEvent(
      '$default',
      'conn-1',
      Buffer.from('{"action":"ping"}').toString('base64'),
      {
        isBase64Encoded: true,
      },
    );

    // Act
    await handler(event, lambdaContext());

    // Assess
    expect(room.api.messages('conn-1')).toEqual([
      expect.objectContaining({ type: 'error', code: 'bad_request' }),
    ]);
  });

  it('answers ping with pong', async () => {
    // Prepare
    const { room, frame } = await messageFunction();

    // Act
    await frame('ping', 'conn-1', { action: 'ping' });

    // Assess
    expect(room.api.messages('conn-1')).toEqual([{ type: 'pong' }]);
  });

  it('gives internal, not a crash, when the store fails, and counts the error', async () => {
    // Prepare
    const { room, frame, observability } = await messageFunction();
    room.store.create = async () => {
      throw new Error('table gone');
    };

    // Act
    const result = await frame('join', 'conn-1', { action: 'join' });

    // Assess
    expect(result).toEqual({ statusCode: 200 });
    expect(room.api.messages('conn-1')).toEqual([
      expect.objectContaining({ type: 'error', code: 'internal' }),
    ]);
    expect(observability.total('errors')).toBe(1);
  });

  it('marks the connection gone when it vanished before the reply could be posted', async () => {
    // Prepare
    const { room, frame } = await messageFunction();
    room.api.gone.add('conn-1');

    // Act
    const result = await frame('join', 'conn-1', { action: 'join' });

    // Assess
    expect(result).toEqual({ statusCode: 200 });
    expect((await room.store.get('s000001'))?.disconnectedAt).toBe(room.clock.now());
  });
});

describe('message handler: one place per person (identity tokens)', () => {
  const site = generateKeyPairSync('ec', { namedCurve: 'P-256' });

  /** The message handler as message.ts wires it with the site's public key. */
  async function withIdentities(required: boolean) {
    const { room } = await messageFunction({ config: { admitPerMinute: 0 } });
    const observability = captureObservability();
    const identities = identityVerifierFrom(
      {
        roomId: 'test-room',
        identityPublicKey: site.publicKey,
        identityJwksUrl: null,
        identityRequired: required,
      },
      observability,
    );
    const replies = createApiGatewayNotifier({
      client: room.api as unknown as ApiGatewayManagementApiClient,
      sleep: async () => {},
    });
    const handler = createMessageHandler({
      router: { ...room.router, connections: replies, ...(identities ? { identities } : {}) },
      store: room.store,
      replies,
      clock: room.clock,
      observability,
    });
    const token = (sub: string) =>
      new SignJWT({})
        .setProtectedHeader({ alg: 'ES256' })
        .setSubject(sub)
        .setAudience('test-room')
        .setExpirationTime(Math.floor(room.clock.now() / 1000) + 300)
        .sign(site.privateKey);
    const join = (connectionId: string, identity?: string) =>
      handler(
        websocketEvent('join', connectionId, { action: 'join', ...(identity ? { identity } : {}) }),
        lambdaContext(),
      );
    return { room, join, token };
  }

  it("continues a person's place on the connection they join again from, and supersedes the first", async () => {
    // Prepare
    const { room, join, token } = await withIdentities(false);
    await join('conn-1', await token('user-42'));
    const first = room.api.messages('conn-1')[0] as { sessionId: string };

    // Act
    await join('conn-2', await token('user-42'));
    await join('conn-3', await token('user-7'));

    // Assess
    expect(room.api.messages('conn-1').map((m) => m.type)).toEqual(['joined', 'superseded']);
    expect(room.api.messages('conn-2')[0]).toMatchObject({ sessionId: first.sessionId });
    expect(room.api.messages('conn-3')[0]).not.toMatchObject({ sessionId: first.sessionId });
    expect(await room.store.sessionOfConnection('conn-2')).toBe(first.sessionId);
    const session = await room.store.get(first.sessionId);
    expect(session?.identity).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(await room.store.sessionOfIdentity(session?.identity as string)).toBe(first.sessionId);
  });

  it('refuses a join without a token when tokens are required', async () => {
    // Prepare
    const { room, join } = await withIdentities(true);

    // Act
    await join('conn-1');

    // Assess
    expect(room.api.messages('conn-1')).toEqual([
      expect.objectContaining({ type: 'error', code: 'invalid_identity' }),
    ]);
    expect(await room.store.sessionOfConnection('conn-1')).toBeUndefined();
  });

  it("logs a site's key set that cannot be read, and refuses the token", async () => {
    // Prepare: the site's JWKS URL answers with something that is no key set.
    const server = createServer((_, response) => response.end('{"keys":"none today"}'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const observability = captureObservability();
    const logged = vi.spyOn(observability.logger, 'error');
    const identities = identityVerifierFrom(
      {
        roomId: 'test-room',
        identityPublicKey: null,
        identityJwksUrl: `http://127.0.0.1:${port}/.well-known/jwks.json`,
        identityRequired: true,
      },
      observability,
    );
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: 'site-1' })
      .setSubject('user-42')
      .setAudience('test-room')
      .setExpirationTime('5m')
      .sign(site.privateKey);

    // Act
    const verified = await identities?.verify(token, Date.now());
    server.close();

    // Assess
    expect(identities?.required).toBe(true);
    expect(verified).toBeNull();
    expect(logged).toHaveBeenCalledWith(
      expect.stringContaining('identity key set could not be read'),
      expect.objectContaining({ url: `http://127.0.0.1:${port}/.well-known/jwks.json` }),
    );
  });

  it('gives no verifier when neither a key nor a key set is set', () => {
    // Act
    const identities = identityVerifierFrom(
      {
        roomId: 'test-room',
        identityPublicKey: null,
        identityJwksUrl: null,
        identityRequired: false,
      },
      captureObservability(),
    );

    // Assess
    expect(identities).toBeUndefined();
  });
});

describe('message handler: proof of work', () => {
  /**
   * The message handler as message.ts wires it: signer and challenges over the key ring read
   * from SSM (a stand-in client), spent proofs in DynamoDB, the room asking for `cost`.
   */
  async function withProofOfWork(cost: number) {
    const { room } = await messageFunction({ config: { admitPerMinute: 0 } });
    // altcha-lib checks a challenge's expiry against the system clock too.
    room.clock.time = Date.now();
    const [current, next] = await Promise.all([generateSigningKey(), generateSigningKey()]);
    const stored = serializeKeyRing(
      newKeyRing(current.pkcs8, next.pkcs8, Math.floor(Date.now() / 1000)),
    );
    const ssm = { send: async () => ({ Parameter: { Value: stored, Version: 1 } }) };
    const { signer, proofs } = signerAndProofsFrom(
      {
        signingKeyParameter: '/waiting-room/signing-key',
        roomId: 'test-room',
        mainOrigin: 'https://shop.example.com',
        passTtlSeconds: 1200,
      },
      undefined,
      { ssm: ssm as unknown as SSMClient },
    );
    const replies = createApiGatewayNotifier({
      client: room.api as unknown as ApiGatewayManagementApiClient,
      sleep: async () => {},
    });
    const config = {
      get: async () => ({ ...(await room.router.config.get()), powCost: cost }),
    };
    const handler = createMessageHandler({
      router: { ...room.router, config, signer, proofs, connections: replies },
      store: room.store,
      replies,
      clock: room.clock,
      observability: captureObservability(),
    });
    const send = (connectionId: string, body: object) =>
      handler(websocketEvent('join', connectionId, { action: 'join', ...body }), lambdaContext());
    return { room, send };
  }

  it('answers a challenge, takes a place for its proof once, and refuses the proof again', async () => {
    // Prepare
    const { room, send } = await withProofOfWork(16);
    await send('conn-1', {});
    const [challenge] = room.api.messages('conn-1');
    if (challenge?.type !== 'challenge')
      throw new Error(`no challenge: ${JSON.stringify(challenge)}`);
    const proof = await solve(challenge.challenge);

    // Act
    await send('conn-1', { proof });
    await send('conn-2', { proof });

    // Assess
    expect(room.api.messages('conn-1').map((m) => m.type)).toEqual(['challenge', 'joined']);
    expect(room.api.messages('conn-2')).toEqual([
      expect.objectContaining({ type: 'error', code: 'invalid_proof' }),
    ]);
    expect(await room.store.sessionOfConnection('conn-2')).toBeUndefined();
    const nonce = (challenge.challenge.parameters as { nonce: string }).nonce;
    const spent = await db.documentClient.send(
      new GetCommand({
        TableName: room.tableName,
        Key: { pk: `R#test-room#POW#${nonce}`, sk: 'POW' },
      }),
    );
    expect(spent.Item?.ttl).toBeGreaterThan(Math.floor(Date.now() / 1000));
  });
});

describe('$connect and $disconnect handlers', () => {
  const allowedOrigins = ['https://shop.example.com', 'https://partner.example'];
  const connectFrom = (origin: string | undefined, headerName = 'Origin') => ({
    ...websocketEvent('$connect', 'conn-1'),
    headers:
      origin === undefined ? { Host: 'ws.example' } : { Host: 'ws.example', [headerName]: origin },
  });

  it.each([
    ['no Origin (not a browser page)', undefined],
    ["the main site's page", 'https://shop.example.com'],
    ['an allowed origin, however its header is spelled', 'HTTPS://PARTNER.example:443'],
  ])('accepts a connection from %s', async (_, origin) => {
    // Prepare
    const handler = createConnectHandler({ observability: captureObservability(), allowedOrigins });

    // Act
    const result = await handler(connectFrom(origin, 'origin'), lambdaContext());

    // Assess
    expect(result).toEqual({ statusCode: 200 });
  });

  it.each([
    ['a page on another site', 'https://evil.example'],
    ['a look-alike host', 'https://shop.example.com.evil.example'],
    ['another scheme of the main site', 'http://shop.example.com'],
    ['a sandboxed or file page', 'null'],
  ])('refuses a connection from %s (403: no handshake)', async (_, origin) => {
    // Prepare
    const handler = createConnectHandler({ observability: captureObservability(), allowedOrigins });

    // Act
    const result = await handler(connectFrom(origin), lambdaContext());

    // Assess
    expect(result).toEqual({ statusCode: 403 });
  });

  it('refuses an address that opens sockets faster than its limit (429), counted in the table, and lets others in', async () => {
    // Prepare: 5 places a source: 50 new sockets in a 5-second window.
    const tableName = await db.createTable();
    const limits = createDynamoSourceLimits({
      tableName,
      roomId: 'test-room',
      limits: sourceLimitsFor(5),
      client: db.documentClient,
    });
    const handler = createConnectHandler({
      observability: captureObservability(),
      allowedOrigins,
      takeSocket: limits.takeSocket,
    });
    const from = (sourceIp: string, i: number) =>
      handler(websocketEvent('$connect', `conn-${i}`, undefined, { sourceIp }), lambdaContext());

    // Act
    const flood = [];
    for (let i = 0; i < 60; i++) flood.push((await from('203.0.113.9', i)).statusCode);
    const other = await from('2001:db8:5:6::1', 99);

    // Assess: 50 in, unless the flood spans two windows (then up to 100).
    const accepted = flood.filter((code) => code === 200).length;
    expect(accepted).toBeGreaterThanOrEqual(50);
    expect(flood.filter((code) => code === 429)).toHaveLength(60 - accepted);
    expect(flood.slice(0, 50)).toEqual(Array(50).fill(200));
    expect(other.statusCode).toBe(200);
  });

  it('counts the places a join takes under the address API Gateway names, and refuses the one over the most', async () => {
    // Prepare
    const { room } = await messageFunction();
    const limits = createDynamoSourceLimits({
      tableName: room.tableName,
      roomId: 'test-room',
      limits: sourceLimitsFor(2),
      client: db.documentClient,
    });
    const limited = createMessageHandler({
      router: { ...room.router, sources: limits.places },
      store: room.store,
      replies: createApiGatewayNotifier({
        client: room.api as unknown as ApiGatewayManagementApiClient,
        sleep: async () => {},
      }),
      clock: room.clock,
      observability: captureObservability(),
    });
    const join = (connectionId: string, sourceIp: string) =>
      limited(
        websocketEvent('join', connectionId, { action: 'join' }, { sourceIp }),
        lambdaContext(),
      );

    // Act
    for (const id of ['c1', 'c2', 'c3']) await join(id, '::ffff:203.0.113.20');
    await join('c4', '203.0.113.21');

    // Assess
    const first = (id: string) => room.api.messages(id)[0];
    expect(['c1', 'c2', 'c3', 'c4'].map((id) => first(id)?.type)).toEqual([
      'joined',
      'joined',
      'error',
      'joined',
    ]);
    expect(first('c3')).toMatchObject({ code: 'rate_limited' });
    const session = await room.store.get((first('c1') as { sessionId: string }).sessionId);
    expect(session?.source).toBe('203.0.113.20');
  });

  it('starts the abandon grace of the session whose connection closed', async () => {
    // Prepare
    const { room, frame } = await messageFunction();
    await frame('join', 'conn-1', { action: 'join' });
    const handler = createDisconnectHandler({
      router: { store: room.store, clock: room.clock },
      observability: captureObservability(),
    });

    // Act
    const result = await handler(websocketEvent('$disconnect', 'conn-1'), lambdaContext());

    // Assess
    expect(result).toEqual({ statusCode: 200 });
    expect((await room.store.get('s000001'))?.disconnectedAt).toBe(room.clock.now());
    expect(await room.store.sessionOfConnection('conn-1')).toBeUndefined();
  });

  it('answers 500 and counts the error when the store fails', async () => {
    // Prepare
    const observability = captureObservability();
    const handler = createDisconnectHandler({
      router: {
        store: { detachConnection: async () => Promise.reject(new Error('down')) } as never,
        clock: { now: () => 0 },
      },
      observability,
    });

    // Act
    const result = await handler(websocketEvent('$disconnect', 'conn-1'), lambdaContext());

    // Assess
    expect(result).toEqual({ statusCode: 500 });
    expect(observability.total('errors')).toBe(1);
  });
});

describe('processor handler', () => {
  it('ticks until ten seconds before the timeout, starts its successor before, then releases the lease', async () => {
    // Prepare: 20 s left in the invocation.
    const { room, frame } = await messageFunction({ config: { admitPerMinute: 60 } });
    await frame('join', 'conn-1', { action: 'join' });
    const { handler, lease, observability, successors } = await processorFunction(room);
    const startedAt = room.clock.now();
    const timeoutAt = startedAt + 20_000;

    // Act
    const outcome = await handler(
      {},
      lambdaContext(() => timeoutAt - room.clock.now()),
    );
    const nextRunTakesOver = await lease('next-run').acquire(room.clock.now(), 15_000);

    // Assess: the successor started 5 s before the deadline (10 s before the timeout), once.
    expect(outcome).toEqual({
      ticks: 10,
      failedTicks: 0,
      held: true,
      ended: 'deadline',
      handedOff: true,
    });
    expect(successors).toEqual([startedAt + 5000]);
    expect(room.clock.now()).toBeLessThanOrEqual(timeoutAt - 10_000);
    expect(nextRunTakesOver).toBe('taken');
    expect(observability.total('ticks')).toBe(10);
    expect(observability.total('admitted')).toBe(1);
    expect(room.api.messages('conn-1').map((m) => m.type)).toEqual(['joined', 'admitted']);
  });

  it("ends at once, as the schedule's watchdog run, while another processor holds the lease", async () => {
    // Prepare
    const room = await createAwsHarness(db, { config: { admitPerMinute: 60 } });
    const { handler, lease } = await processorFunction(room);
    await lease('still-running').acquire(room.clock.now(), 60_000);
    await room.send('conn-1', { action: 'join' });
    const timeoutAt = room.clock.now() + 15_000;

    // Act
    const outcome = await handler(
      {},
      lambdaContext(() => timeoutAt - room.clock.now()),
    );

    // Assess
    expect(outcome).toEqual({
      ticks: 0,
      failedTicks: 0,
      held: false,
      ended: 'lease-held',
      handedOff: false,
    });
    expect(room.clock.now() - timeoutAt).toBe(-15_000);
    expect((await room.store.get('s000001'))?.state).toBe('arriving');
  });

  it('waits for the lease when started by its predecessor, and takes it when let go', async () => {
    // Prepare: the predecessor holds the lease for 5 s more.
    const room = await createAwsHarness(db, { config: { admitPerMinute: 60 } });
    const { handler, lease } = await processorFunction(room);
    await lease('predecessor').acquire(room.clock.now(), 5000);
    const timeoutAt = room.clock.now() + 20_000;

    // Act
    const outcome = await handler(
      { waitingRoom: 'handoff' },
      lambdaContext(() => timeoutAt - room.clock.now()),
    );

    // Assess: it took the lease once the predecessor's lapsed (and, the room empty, slept).
    expect(outcome).toMatchObject({ held: true, ticks: 2, ended: 'asleep' });
    expect(timeoutAt - room.clock.now()).toBeLessThanOrEqual(15_000);
  });

  it('goes to sleep with nobody in line, and the first join wakes it; later joins do not', async () => {
    // Prepare: an empty room, the processor run by the schedule.
    const { room, frame, invoked } = await messageFunction({ config: { admitPerMinute: 60 } });
    const { handler, observability } = await processorFunction(room);
    const timeoutAt = room.clock.now() + 900_000;
    const outcome = await handler(
      {},
      lambdaContext(() => timeoutAt - room.clock.now()),
    );

    // Act
    await frame('join', 'conn-1', { action: 'join' });
    await frame('join', 'conn-2', { action: 'join' });
    room.clock.advance(2000);
    await frame('join', 'conn-3', { action: 'join' });

    // Assess: asleep after one confirming tick; one wake for the three joins. An idle room
    // publishes its ticks and nothing else (CloudWatch bills each metric per hour published).
    expect(outcome).toMatchObject({ ticks: 2, held: true, ended: 'asleep' });
    expect(observability.total('ticks')).toBe(2);
    expect(observability.names()).toEqual(['ticks']);
    expect(invoked).toEqual([
      { FunctionName: 'room-processor', InvocationType: 'Event', payload: { waitingRoom: 'wake' } },
    ]);
  });

  it('lets the watchdog leave a room asleep after one tick, and confirms again after a wake', async () => {
    // Prepare: the room went to sleep (two ticks, the second 2 s after the mark).
    const { room, frame } = await messageFunction({ config: { admitPerMinute: 60 } });
    const { handler } = await processorFunction(room, 2000);
    const run = (event: unknown) => {
      const timeoutAt = room.clock.now() + 900_000;
      return handler(
        event,
        lambdaContext(() => timeoutAt - room.clock.now()),
      );
    };
    const first = await run({});

    // Act: the schedule's next run; then a visitor comes and goes; then the schedule again.
    room.clock.advance(60_000);
    const watchdog = await run({});
    await frame('join', 'conn-1', { action: 'join' });
    const { Item: markAfterJoin } = await db.documentClient.send(
      new GetCommand({
        TableName: room.tableName,
        Key: { pk: 'R#test-room', sk: 'LEASE' },
        ConsistentRead: true,
      }),
    );
    const woken = await run({ waitingRoom: 'wake' });
    room.clock.advance(60_000);
    const afterWake = await run({});

    // Assess
    expect(first).toMatchObject({ ticks: 2, ended: 'asleep' });
    expect(watchdog).toMatchObject({ ticks: 1, ended: 'asleep' });
    expect(markAfterJoin).toMatchObject({ asleep: false });
    expect(markAfterJoin?.asleepAt).toBeUndefined();
    expect(woken).toMatchObject({ ended: 'asleep' });
    expect(room.api.messages('conn-1').map((m) => m.type)).toEqual(['joined', 'admitted']);
    expect(afterWake).toMatchObject({ ticks: 1, ended: 'asleep' });
  });

  it('puts the asleep mark back when the wake cannot be invoked, so that the next join wakes it', async () => {
    // Prepare: the room asleep; Lambda refuses the first invocation.
    const { room, frame, invoked } = await messageFunction({ config: { admitPerMinute: 60 } }, 1);
    const { handler } = await processorFunction(room);
    const timeoutAt = room.clock.now() + 900_000;
    await handler(
      {},
      lambdaContext(() => timeoutAt - room.clock.now()),
    );

    // Act
    await frame('join', 'conn-1', { action: 'join' });
    room.clock.advance(1000);
    await frame('join', 'conn-2', { action: 'join' });

    // Assess
    expect(invoked).toEqual([
      { FunctionName: 'room-processor', InvocationType: 'Event', payload: { waitingRoom: 'wake' } },
    ]);
  });

  it('stays awake while anyone waits, and sleeps a minute after the line empties', async () => {
    // Prepare: one visitor, admitted at once.
    const { room, frame } = await messageFunction({ config: { admitPerMinute: 60 } });
    await frame('join', 'conn-1', { action: 'join' });
    const { handler } = await processorFunction(room);
    const startedAt = room.clock.now();
    const timeoutAt = startedAt + 900_000;

    // Act
    const outcome = await handler(
      { waitingRoom: 'wake' },
      lambdaContext(() => timeoutAt - room.clock.now()),
    );

    // Assess
    expect(outcome).toMatchObject({ ended: 'asleep' });
    expect(room.api.messages('conn-1').map((m) => m.type)).toEqual(['joined', 'admitted']);
    expect(room.clock.now() - startedAt).toBeGreaterThanOrEqual(60_000);
    expect(room.clock.now() - startedAt).toBeLessThan(63_000);
  });
});
