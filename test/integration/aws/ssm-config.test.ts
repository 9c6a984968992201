import {
  GetParameterCommand,
  GetParametersCommand,
  PutParameterCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  createSsmConfigSource,
  createSsmConfigWriter,
  RoomConfigError,
} from '../../../functions/adapters/aws/ssm-config.ts';
import { loadSignerKeysFromSsm } from '../../../functions/adapters/aws/ssm-signing-key.ts';
import { newKeyRing, serializeKeyRing } from '../../../functions/core/key-ring.ts';
import { generateSigningKey } from '../../../functions/core/tokens.ts';
import '../../helpers/aws-sdk-env.ts';
import { ManualClock } from '../../helpers/room-harness.ts';

const ssm = mockClient(SSMClient);
const PREFIX = '/waiting-room/config/';

function parameters(enabled: string | null, rate: string | null) {
  return {
    Parameters: [
      ...(enabled === null ? [] : [{ Name: `${PREFIX}enabled`, Value: enabled }]),
      ...(rate === null ? [] : [{ Name: `${PREFIX}admit-per-minute`, Value: rate }]),
    ],
    InvalidParameters: [
      ...(enabled === null ? [`${PREFIX}enabled`] : []),
      ...(rate === null ? [`${PREFIX}admit-per-minute`] : []),
    ],
  };
}

function createSource() {
  const clock = new ManualClock();
  const errors: unknown[] = [];
  const source = createSsmConfigSource({
    client: new SSMClient({ region: 'eu-west-1' }),
    prefix: PREFIX,
    ttlMs: 5000,
    clock,
    onError: (error) => errors.push(error),
  });
  return { source, clock, errors };
}

beforeEach(() => {
  ssm.reset();
});

describe('room config from SSM', () => {
  it('reads both settings with one GetParameters call', async () => {
    // Prepare
    ssm.on(GetParametersCommand).resolves(parameters('false', '120'));
    const { source } = createSource();

    // Act
    const config = await source.get();

    // Assess
    expect(config).toEqual({ enabled: false, admitPerMinute: 120 });
    expect(ssm.commandCalls(GetParametersCommand)[0]?.args[0].input).toEqual({
      Names: [`${PREFIX}enabled`, `${PREFIX}admit-per-minute`],
    });
  });

  it('asks SSM again only once the cached answer is older than its TTL', async () => {
    // Prepare
    ssm
      .on(GetParametersCommand)
      .resolvesOnce(parameters('true', '60'))
      .resolves(parameters('true', '90'));
    const { source, clock } = createSource();
    await source.get();

    // Act
    clock.advance(4999);
    const cached = await source.get();
    clock.advance(1);
    const fresh = await source.get();

    // Assess
    expect(cached.admitPerMinute).toBe(60);
    expect(fresh.admitPerMinute).toBe(90);
    expect(ssm.commandCalls(GetParametersCommand)).toHaveLength(2);
  });

  it('shares one read between callers asking at the same time', async () => {
    // Prepare
    ssm.on(GetParametersCommand).resolves(parameters('true', '60'));
    const { source } = createSource();

    // Act
    await Promise.all([source.get(), source.get(), source.get()]);

    // Assess
    expect(ssm.commandCalls(GetParametersCommand)).toHaveLength(1);
  });

  it('keeps the last good config when SSM fails, and reports the failure', async () => {
    // Prepare
    ssm
      .on(GetParametersCommand)
      .resolvesOnce(parameters('false', '30'))
      .rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    const { source, clock, errors } = createSource();
    await source.get();
    clock.advance(5000);

    // Act
    const config = await source.get();

    // Assess
    expect(config).toEqual({ enabled: false, admitPerMinute: 30 });
    expect(errors).toEqual([expect.objectContaining({ name: 'ThrottlingException' })]);
  });

  it('keeps the last good value of a setting whose parameter goes missing or bad', async () => {
    // Prepare
    ssm
      .on(GetParametersCommand)
      .resolvesOnce(parameters('false', '30'))
      .resolves(parameters(null, '-5'));
    const { source, clock, errors } = createSource();
    await source.get();
    clock.advance(5000);

    // Act
    const config = await source.get();

    // Assess
    expect(config).toEqual({ enabled: false, admitPerMinute: 30 });
    expect(errors[0]).toBeInstanceOf(RoomConfigError);
    expect(String(errors[0])).toContain(`${PREFIX}enabled (missing)`);
    expect(String(errors[0])).toContain(`${PREFIX}admit-per-minute (bad value "-5")`);
  });

  it('runs with the room on and admission paused while nothing was ever read', async () => {
    // Prepare
    ssm.on(GetParametersCommand).rejects(new Error('network down'));
    const { source } = createSource();

    // Act
    const config = await source.get();

    // Assess
    expect(config).toEqual({ enabled: true, admitPerMinute: 0 });
  });

  it('does not ask a failing SSM again before the TTL', async () => {
    // Prepare
    ssm.on(GetParametersCommand).rejects(new Error('network down'));
    const { source, clock } = createSource();
    await source.get();

    // Act
    clock.advance(1000);
    await source.get();

    // Assess
    expect(ssm.commandCalls(GetParametersCommand)).toHaveLength(1);
  });
});

describe('room config writer', () => {
  it('writes the operator changes as String parameters over the previous values', async () => {
    // Prepare
    ssm.on(PutParameterCommand).resolves({ Version: 2 });
    const writer = createSsmConfigWriter({
      client: new SSMClient({ region: 'eu-west-1' }),
      prefix: PREFIX,
    });

    // Act
    await writer.setEnabled(false);
    await writer.setRate(0);

    // Assess
    expect(ssm.commandCalls(PutParameterCommand).map((c) => c.args[0].input)).toEqual([
      { Name: `${PREFIX}enabled`, Value: 'false', Type: 'String', Overwrite: true },
      { Name: `${PREFIX}admit-per-minute`, Value: '0', Type: 'String', Overwrite: true },
    ]);
  });

  it('refuses a rate that is not a whole number of at least 0', async () => {
    // Prepare
    const writer = createSsmConfigWriter({
      client: new SSMClient({ region: 'eu-west-1' }),
      prefix: PREFIX,
    });

    // Act
    const writes = [writer.setRate(-1), writer.setRate(1.5), writer.setRate(Number.NaN)];

    // Assess
    for (const write of writes) await expect(write).rejects.toBeInstanceOf(RangeError);
    expect(ssm.commandCalls(PutParameterCommand)).toHaveLength(0);
  });
});

describe('key ring from SSM', () => {
  const load = (client: SSMClient) =>
    loadSignerKeysFromSsm({ client, name: '/room/key', keepSeconds: 3600 });

  it('reads the SecureString with decryption at each load (the signer decides how often)', async () => {
    // Prepare
    const current = await generateSigningKey();
    const next = await generateSigningKey();
    const ring = serializeKeyRing(newKeyRing(current.pkcs8, next.pkcs8, 1_000));
    ssm.on(GetParameterCommand).resolves({ Parameter: { Name: '/room/key', Value: ring } });
    const client = new SSMClient({ region: 'eu-west-1' });

    // Act
    const first = await load(client);
    await load(client);

    // Assess
    expect(first.current.kid).toBe(current.kid);
    expect([...first.kids].sort()).toEqual([current.kid, next.kid].sort());
    expect(ssm.commandCalls(GetParameterCommand).map((c) => c.args[0].input)).toEqual([
      { Name: '/room/key', WithDecryption: true },
      { Name: '/room/key', WithDecryption: true },
    ]);
  });

  it('tries again after a failed read', async () => {
    // Prepare
    const { pkcs8 } = await generateSigningKey();
    ssm
      .on(GetParameterCommand)
      .rejectsOnce(new Error('throttled'))
      .resolves({ Parameter: { Name: '/room/key', Value: pkcs8 } });
    const client = new SSMClient({ region: 'eu-west-1' });
    await expect(load(client)).rejects.toThrow();

    // Act
    const keys = await load(client);

    // Assess
    expect(keys.current.kid).toBeTruthy();
  });

  it('names the parameter but never shows its value when it is not a key', async () => {
    // Prepare
    ssm
      .on(GetParameterCommand)
      .resolves({ Parameter: { Name: '/room/key', Value: 'secret-junk' } });

    // Act
    const loading = load(new SSMClient({ region: 'eu-west-1' }));

    // Assess
    await expect(loading).rejects.toThrow(
      '/room/key is not a PKCS#8 PEM P-256 private key or key ring',
    );
    await expect(loading).rejects.not.toThrow('secret-junk');
  });
});
