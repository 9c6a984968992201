/**
 * The infrastructure glue the CDK app deploys: the signing-key custom resource (makes the key
 * ring once, never replaces a key, publishes the JWKS only when it made or changed the ring) and the flag document handler (live from SSM, never cached on
 * failure). SSM is aws-sdk-client-mock.
 */
import { generateKeyPairSync } from 'node:crypto';
import {
  GetParameterCommand,
  GetParametersCommand,
  ParameterAlreadyExists,
  PutParameterCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { createSigningKeyHandler } from '../../cdk/custom-resources/signing-key.ts';
import { createFlagDocumentHandler } from '../../cdk/handlers/flag-document.ts';
import { parseSettings } from '../../cdk/settings.ts';
import { newKeyRing, parseKeyRing, serializeKeyRing } from '../../functions/core/key-ring.ts';
import { importSigningKey } from '../../functions/core/tokens.ts';

const ssm = mockClient(SSMClient);
const KEY = '/waiting-room/signing-key';
const BUCKET = 'room-site-bucket';

function keyEvent(requestType: 'Create' | 'Update' | 'Delete'): CloudFormationCustomResourceEvent {
  const common = {
    ServiceToken: 'arn:aws:lambda:eu-west-1:123456789012:function:provider',
    ResponseURL: 'https://example.invalid/response',
    StackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/WaitingRoom/1',
    RequestId: 'request-1',
    LogicalResourceId: 'SigningKey',
    ResourceType: 'Custom::WaitingRoomSigningKey',
    ResourceProperties: {
      ServiceToken: 'x',
      ParameterName: KEY,
      BucketName: BUCKET,
      KeepRetiredSeconds: '173100',
    },
  };
  if (requestType === 'Create') return { ...common, RequestType: 'Create' };
  return {
    ...common,
    RequestType: requestType,
    PhysicalResourceId: KEY,
    OldResourceProperties: { ServiceToken: 'x', ParameterName: KEY, BucketName: BUCKET },
  } as CloudFormationCustomResourceEvent;
}

function pem(): string {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

beforeEach(() => {
  ssm.reset();
});

describe('signing-key custom resource', () => {
  const published: { bucket: string; jwks: { keys: Array<Record<string, unknown>> } }[] = [];
  const handler = () =>
    createSigningKeyHandler({
      ssm: new SSMClient({}),
      publisher: (bucket) => async (jwks) => {
        published.push({ bucket, jwks: jwks as (typeof published)[number]['jwks'] });
      },
    });
  const notFound = Object.assign(new Error('not found'), { name: 'ParameterNotFound' });

  beforeEach(() => {
    published.length = 0;
  });

  it('makes a ring of a current and a next key as a SecureString, without ever overwriting, and publishes both', async () => {
    ssm.on(GetParameterCommand).rejects(notFound);
    ssm.on(PutParameterCommand).resolves({ Version: 1 });

    const result = await handler()(keyEvent('Create'));

    const put = ssm.commandCalls(PutParameterCommand)[0]?.args[0].input;
    expect(put).toMatchObject({ Name: KEY, Type: 'SecureString', Overwrite: false });
    const ring = parseKeyRing(put?.Value as string);
    const current = await importSigningKey(ring.current.key);
    const next = await importSigningKey(ring.next?.key as string);
    expect(JSON.parse(result.Data?.PublicJwk ?? '')).toEqual(current.publicJwk);
    expect(result.Data?.Kid).toBe(current.kid);
    expect(published).toEqual([
      { bucket: BUCKET, jwks: { keys: [current.publicJwk, next.publicJwk] } },
    ]);
    expect(result.PhysicalResourceId).toBe(KEY);
  });

  it('returns and publishes only public key material', async () => {
    ssm.on(GetParameterCommand).rejects(notFound);
    ssm.on(PutParameterCommand).resolves({ Version: 1 });

    const result = await handler()(keyEvent('Create'));

    const jwks = JSON.parse(result.Data?.Jwks ?? '');
    expect(jwks.keys).toHaveLength(2);
    for (const key of jwks.keys) expect(key).not.toHaveProperty('d');
    expect(JSON.stringify(result)).not.toContain('PRIVATE KEY');
    expect(JSON.stringify(published)).not.toContain('"d"');
  });

  it('keeps the key of a room deployed before rings as the current key, and adds a next key', async () => {
    const existing = pem();
    ssm
      .on(GetParameterCommand, { Name: KEY, WithDecryption: true })
      .resolves({ Parameter: { Name: KEY, Value: existing } });
    ssm.on(PutParameterCommand).resolves({ Version: 2 });

    const result = await handler()(keyEvent('Update'));

    expect(result.Data?.Kid).toBe((await importSigningKey(existing)).kid);
    const put = ssm.commandCalls(PutParameterCommand)[0]?.args[0].input;
    expect(put?.Overwrite).toBe(true);
    const ring = parseKeyRing(put?.Value as string);
    expect(ring.current.key.trim()).toBe(existing.trim());
    expect(ring.next).not.toBeNull();
    expect(published[0]?.jwks.keys).toHaveLength(2);
  });

  it('leaves a ring alone on a later deploy: no write, and no JWKS older than a rotation published', async () => {
    const ring = serializeKeyRing(newKeyRing(pem(), pem(), 1_800_000_000));
    ssm.on(GetParameterCommand).resolves({ Parameter: { Name: KEY, Value: ring } });

    const result = await handler()(keyEvent('Update'));

    expect(ssm.commandCalls(PutParameterCommand)).toHaveLength(0);
    expect(published).toEqual([]);
    expect(JSON.parse(result.Data?.Jwks ?? '').keys).toHaveLength(2);
  });

  it('takes a ring another writer made first when its own create loses the race', async () => {
    const theirs = serializeKeyRing(newKeyRing(pem(), pem(), 1_800_000_000));
    ssm
      .on(GetParameterCommand)
      .rejectsOnce(notFound)
      .resolves({ Parameter: { Name: KEY, Value: theirs } });
    ssm
      .on(PutParameterCommand)
      .rejects(new ParameterAlreadyExists({ message: 'exists', $metadata: {} }));

    const result = await handler()(keyEvent('Create'));

    const current = await importSigningKey(parseKeyRing(theirs).current.key);
    expect(result.Data?.Kid).toBe(current.kid);
    expect(published.at(-1)?.jwks.keys[0]).toEqual(current.publicJwk);
  });

  it('leaves the ring in place when the stack deletes the resource', async () => {
    const result = await handler()(keyEvent('Delete'));

    expect(result).toEqual({ PhysicalResourceId: KEY });
    expect(ssm.calls()).toHaveLength(0);
  });

  it('fails the deploy on any other SSM error', async () => {
    ssm.on(GetParameterCommand).rejects(new Error('AccessDenied'));

    await expect(handler()(keyEvent('Create'))).rejects.toThrow('AccessDenied');
  });
});

describe('flag document', () => {
  const onError = vi.fn();
  const handler = createFlagDocumentHandler({
    ssm: new SSMClient({}),
    configPrefix: '/waiting-room/config/',
    onError,
  });

  beforeEach(() => {
    onError.mockClear();
  });

  it('answers the enabled parameter as {"enabled": boolean}, cacheable for a few seconds', async () => {
    ssm.on(GetParametersCommand).resolves({
      Parameters: [{ Name: '/waiting-room/config/enabled', Value: 'false' }],
    });

    const response = await handler();

    expect(response).toMatchObject({
      statusCode: 200,
      headers: { 'cache-control': 'public, max-age=5', 'content-type': 'application/json' },
    });
    expect(JSON.parse((response as { body: string }).body)).toEqual({ enabled: false });
    expect(ssm.commandCalls(GetParametersCommand)[0]?.args[0].input.Names).toEqual([
      '/waiting-room/config/enabled',
    ]);
  });

  it('answers 503, never cached, when the value is not true or false', async () => {
    ssm.on(GetParametersCommand).resolves({
      Parameters: [{ Name: '/waiting-room/config/enabled', Value: 'yes' }],
    });

    const response = await handler();

    expect(response).toMatchObject({ statusCode: 503, headers: { 'cache-control': 'no-store' } });
    expect(onError).toHaveBeenCalledWith(expect.any(Error), '/waiting-room/config/enabled');
  });

  it('answers 503 when SSM fails, so the gate keeps its last known value', async () => {
    ssm.on(GetParametersCommand).rejects(new Error('ThrottlingException'));

    const response = await handler();

    expect(response).toMatchObject({ statusCode: 503 });
    expect(onError).toHaveBeenCalledOnce();
  });
});

describe('deploy settings', () => {
  it('takes the defaults of a room in eu-west-1 when nothing is set', () => {
    expect(parseSettings({})).toMatchObject({
      region: 'eu-west-1',
      roomId: 'waiting-room',
      configPrefix: '/waiting-room/config/',
      signingKeyParameter: '/waiting-room/signing-key',
    });
  });

  it('reads numbers and booleans given as strings on the command line', () => {
    expect(parseSettings({ passTtlSeconds: '300', webSocketAccessLogs: 'true' })).toMatchObject({
      passTtlSeconds: 300,
      webSocketAccessLogs: true,
    });
  });

  it('names the context key of a bad value', () => {
    expect(() => parseSettings({ githubRepository: 'not-a-repo' })).toThrow(
      'invalid CDK context "githubRepository": must be owner/repo',
    );
  });

  it('keeps the processor awake 60 s with nobody in line by default, at most an hour', () => {
    expect(parseSettings({}).sleepAfterIdleSeconds).toBe(60);
    expect(() => parseSettings({ sleepAfterIdleSeconds: '3601' })).toThrow(
      'invalid CDK context "sleepAfterIdleSeconds": must be at most 3600',
    );
  });

  it('refuses a custom main-site domain without its certificate', () => {
    expect(() => parseSettings({ mainSiteDomain: 'shop.example.com' })).toThrow(
      /set mainSiteCertificateArn/,
    );
  });

  it('no longer reads a signingPublicJwk: the gate reads the keys at run time', () => {
    const settings = parseSettings({ signingPublicJwk: 'left over from an earlier version' });

    expect(settings).not.toHaveProperty('signingPublicJwk');
  });
});
