/**
 * Key rotation on AWS, against the SSM stand-in (S3 is aws-sdk-client-mock: no stand-in): the
 * deploy's custom resource makes the ring, the key rotation function rotates it and publishes
 * the JWKS before it writes the ring, a container's signer picks the rotation up within its
 * reload time, and `npm run room -- rotate-key --aws` invokes the function it finds in SSM.
 */
import '../../helpers/aws-sdk-env.ts';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { decodeProtectedHeader, type JSONWebKeySet } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSigningKeyHandler } from '../../../cdk/custom-resources/signing-key.ts';
import { createS3JwksPublisher } from '../../../functions/adapters/aws/s3-jwks.ts';
import { loadSignerKeysFromSsm } from '../../../functions/adapters/aws/ssm-signing-key.ts';
import {
  MIN_NEXT_AGE_SECONDS,
  parseKeyRing,
  serializeKeyRing,
} from '../../../functions/core/key-ring.ts';
import { generateSigningKey, verifierFor, verifyPass } from '../../../functions/core/tokens.ts';
import { createKeyRotationHandler } from '../../../functions/lambda/key-rotation.ts';
import { createLazySigner, KEY_RELOAD_MS } from '../../../functions/lambda/lazy-signer.ts';
import { type SsmStandIn, startSsmStandIn } from '../../../local/aws-local/ssm-stand-in.ts';
import { runRoomCli } from '../../../tools/room.ts';
import { ManualClock } from '../../helpers/room-harness.ts';

const KEY = '/waiting-room/signing-key';
const BUCKET = 'room-site';
const KEEP = 48 * 3600 + 300;
const ROOM = 'waiting-room';
const ORIGIN = 'https://shop.example.com';
const s3 = mockClient(S3Client);

let standIn: SsmStandIn;
let ssm: SSMClient;
let clock: ManualClock;

beforeEach(async () => {
  s3.reset();
  s3.on(PutObjectCommand).resolves({});
  standIn = await startSsmStandIn();
  ssm = new SSMClient({
    region: 'us-east-1',
    endpoint: standIn.url,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
  clock = new ManualClock(Date.UTC(2026, 10, 28, 12));
});

afterEach(async () => {
  ssm.destroy();
  await standIn.close();
});

const publisher = (bucket: string) => createS3JwksPublisher({ bucket, client: new S3Client({}) });

function deployEvent(): CloudFormationCustomResourceEvent {
  return {
    RequestType: 'Create',
    ServiceToken: 'x',
    ResponseURL: 'https://example.invalid/',
    StackId: 'stack',
    RequestId: 'r',
    LogicalResourceId: 'SigningKey',
    ResourceType: 'Custom::WaitingRoomSigningKey',
    ResourceProperties: {
      ServiceToken: 'x',
      ParameterName: KEY,
      BucketName: BUCKET,
      KeepRetiredSeconds: String(KEEP),
    },
  };
}

async function deploy() {
  await createSigningKeyHandler({ ssm, publisher, now: () => clock.now() })(deployEvent());
}

const rotation = () =>
  createKeyRotationHandler({
    parameterName: KEY,
    keepSeconds: KEEP,
    publish: publisher(BUCKET),
    ssm,
    now: () => clock.now(),
  });

/** The JWKS documents written to the bucket, oldest first. */
function publishedJwks(): JSONWebKeySet[] {
  return s3.commandCalls(PutObjectCommand).map((call) => {
    expect(call.args[0].input).toMatchObject({
      Bucket: BUCKET,
      Key: '.well-known/jwks.json',
      ContentType: 'application/json',
      CacheControl: 'public, max-age=300',
    });
    return JSON.parse(call.args[0].input.Body as string) as JSONWebKeySet;
  });
}

const kidsOf = (jwks: JSONWebKeySet | undefined) => jwks?.keys.map((k) => k.kid) ?? [];

describe('the key rotation function', () => {
  it('refuses until the deployed next key has been published 15 minutes, then rotates and publishes current, next and retired', async () => {
    // Prepare
    await deploy();
    const [deployed] = publishedJwks();

    // Act
    const early = await rotation()({});
    clock.advance(MIN_NEXT_AGE_SECONDS * 1000);
    const rotated = await rotation()({});

    // Assess
    expect(early).toMatchObject({ outcome: 'refused' });
    expect(rotated).toMatchObject({ outcome: 'rotated' });
    const [, afterRotation] = publishedJwks();
    const [oldCurrent, oldNext] = kidsOf(deployed);
    expect(kidsOf(afterRotation)).toEqual([oldNext, expect.any(String), oldCurrent]);
    const ring = parseKeyRing(
      (await ssm.send(new GetParameterCommand({ Name: KEY, WithDecryption: true }))).Parameter
        ?.Value as string,
    );
    expect(ring.retired).toHaveLength(1);
    expect(ring.current.since).toBe(clock.now() / 1000);
  });

  it('publishes the JWKS before it writes the ring: a failed publication changes nothing', async () => {
    // Prepare
    await deploy();
    clock.advance(MIN_NEXT_AGE_SECONDS * 1000);
    const before = (await ssm.send(new GetParameterCommand({ Name: KEY, WithDecryption: true })))
      .Parameter?.Value;
    s3.on(PutObjectCommand).rejects(new Error('AccessDenied'));

    // Act
    const failed = rotation()({});

    // Assess
    await expect(failed).rejects.toThrow('AccessDenied');
    const after = (await ssm.send(new GetParameterCommand({ Name: KEY, WithDecryption: true })))
      .Parameter?.Value;
    expect(after).toBe(before);
  });

  it('writes nothing when another rotation changed the ring meanwhile, and publishes the ring that is stored', async () => {
    // Prepare: while this rotation publishes, another one stores a ring with another next key.
    await deploy();
    clock.advance(MIN_NEXT_AGE_SECONDS * 1000);
    const theirNext = await generateSigningKey();
    let calls = 0;
    s3.on(PutObjectCommand).callsFake(async () => {
      calls += 1;
      if (calls === 1) {
        const stored = (
          await ssm.send(new GetParameterCommand({ Name: KEY, WithDecryption: true }))
        ).Parameter?.Value as string;
        const ring = parseKeyRing(stored);
        const theirs = { ...ring, next: { key: theirNext.pkcs8, since: clock.now() / 1000 } };
        await ssm.send(
          new PutParameterCommand({
            Name: KEY,
            Value: serializeKeyRing(theirs),
            Type: 'SecureString',
            Overwrite: true,
          }),
        );
      }
      return {};
    });

    // Act
    const failed = rotation()({});

    // Assess
    await expect(failed).rejects.toThrow(/another rotation changed/);
    const stored = parseKeyRing(
      (await ssm.send(new GetParameterCommand({ Name: KEY, WithDecryption: true }))).Parameter
        ?.Value as string,
    );
    expect(stored.next?.key).toBe(theirNext.pkcs8);
    const last = publishedJwks().at(-1);
    expect(kidsOf(last)).toContain(theirNext.kid);
  });

  it('lets a container sign with the new key within a minute, and keeps checking tickets of the old one', async () => {
    // Prepare
    await deploy();
    clock.advance(MIN_NEXT_AGE_SECONDS * 1000);
    const signer = createLazySigner(
      () =>
        loadSignerKeysFromSsm({
          client: ssm,
          name: KEY,
          keepSeconds: KEEP,
          now: () => clock.now(),
        }),
      { roomId: ROOM, mainOrigin: ORIGIN, passTtlSeconds: 1200, clock },
    );
    const oldTicket = await signer.issueTicket('s-1', clock.now());
    const oldPass = await signer.issuePass('s-1', clock.now());

    // Act
    await rotation()({});
    const stalePass = await signer.issuePass('s-2', clock.now());
    clock.advance(KEY_RELOAD_MS);
    const freshPass = await signer.issuePass('s-3', clock.now());

    // Assess
    const jwks = publishedJwks().at(-1) as JSONWebKeySet;
    const [newCurrent, , retired] = kidsOf(jwks);
    expect(decodeProtectedHeader(stalePass.token).kid).toBe(retired);
    expect(decodeProtectedHeader(freshPass.token).kid).toBe(newCurrent);
    const now = Math.floor(clock.now() / 1000);
    for (const pass of [oldPass, stalePass, freshPass]) {
      const verified = await verifyPass(verifierFor(jwks), pass.token, {
        roomId: ROOM,
        mainOrigin: ORIGIN,
        now,
      });
      expect(verified).not.toBeNull();
    }
    expect(await signer.readTicket(oldTicket, clock.now())).toBe('s-1');
  });

  it('lets a container that has not read the rotation yet take tickets signed by the new key, reading the ring early', async () => {
    // Prepare
    await deploy();
    const keys = () =>
      loadSignerKeysFromSsm({ client: ssm, name: KEY, keepSeconds: KEEP, now: () => clock.now() });
    const settings = { roomId: ROOM, mainOrigin: ORIGIN, passTtlSeconds: 1200, clock };
    const stale = createLazySigner(keys, settings);
    await stale.issuePass('warm-up', clock.now());
    clock.advance(MIN_NEXT_AGE_SECONDS * 1000);
    await rotation()({});
    await rotation()({ force: true });
    const fresh = createLazySigner(keys, settings);

    // Act
    const ticket = await fresh.issueTicket('s-9', clock.now());
    const read = await stale.readTicket(ticket, clock.now());

    // Assess
    expect(read).toBe('s-9');
  });

  it('turns a room deployed before rings into a ring on its first rotation, rotating nothing yet', async () => {
    // Prepare
    const legacy = await generateSigningKey();
    await ssm.send(
      new PutParameterCommand({ Name: KEY, Value: legacy.pkcs8, Type: 'SecureString' }),
    );

    // Act
    const first = await rotation()({});

    // Assess
    expect(first).toMatchObject({
      outcome: 'next-published',
      ring: { current: { kid: legacy.kid } },
    });
    expect(kidsOf(publishedJwks()[0])).toEqual([legacy.kid, expect.any(String)]);
  });
});

describe('npm run room -- rotate-key --aws', () => {
  const lambda = mockClient(LambdaClient);

  it('invokes the function named in <prefix>key-rotation-function with --force, and prints the ring', async () => {
    // Prepare
    lambda.reset();
    const ssmMock = mockClient(SSMClient);
    ssmMock
      .on(GetParameterCommand, { Name: '/room/config/key-rotation-function' })
      .resolves({ Parameter: { Value: 'WaitingRoom-rotate' } });
    const result = {
      outcome: 'rotated',
      warning: 'the new current key was published only 1 min ago',
      ring: {
        current: { kid: 'new', since: 1 },
        next: { kid: 'next', since: 1 },
        retired: [{ kid: 'old', retiredAt: 1, dropAfter: 2 }],
        published: ['new', 'next', 'old'],
        rotateAfter: 901,
      },
    };
    lambda.on(InvokeCommand).resolves({
      StatusCode: 200,
      Payload: new TextEncoder().encode(JSON.stringify(result)) as never,
    });
    const out: string[] = [];

    // Act
    const code = await runRoomCli(
      ['rotate-key', '--aws', '--force', '--region', 'eu-west-1', '--prefix', '/room/config/'],
      { ssmClient: new SSMClient({}), lambdaClient: new LambdaClient({}), out: (t) => out.push(t) },
    );
    ssmMock.restore();

    // Assess
    expect(code).toBe(0);
    const invoke = lambda.commandCalls(InvokeCommand)[0]?.args[0].input;
    expect(invoke?.FunctionName).toBe('WaitingRoom-rotate');
    expect(JSON.parse(new TextDecoder().decode(invoke?.Payload as Uint8Array))).toEqual({
      force: true,
    });
    expect(out.join('')).toContain('Rotated');
    expect(out.join('')).toContain('retired    old');
    expect(out.join('')).toContain('Warning: the new current key');
  });
});
