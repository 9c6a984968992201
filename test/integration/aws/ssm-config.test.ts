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

/** The room with no fair-launch setting made yet: their defaults. */
const DEFAULTS = { opensAt: null, powCost: 0, message: null, closed: null };
const ALL_NAMES = ['enabled', 'admit-per-minute', 'opens-at', 'pow-cost', 'message', 'closed'].map(
  (name) => `${PREFIX}${name}`,
);

/** Every parameter, by its name under the prefix (absent: missing). */
function allParameters(values: Record<string, string>) {
  return {
    Parameters: Object.entries(values).map(([name, Value]) => ({
      Name: `${PREFIX}${name}`,
      Value,
    })),
    InvalidParameters: ALL_NAMES.filter((name) => !(name.slice(PREFIX.length) in values)),
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
  it('reads every setting with one GetParameters call', async () => {
    // Prepare
    ssm.on(GetParametersCommand).resolves(
      allParameters({
        enabled: 'false',
        'admit-per-minute': '120',
        'opens-at': '2030-06-01T11:00:00+02:00',
        'pow-cost': '50000',
        message: '  Doors open at nine.  ',
        closed: 'Sold out',
      }),
    );
    const { source, errors } = createSource();

    // Act
    const config = await source.get();

    // Assess
    expect(config).toEqual({
      enabled: false,
      admitPerMinute: 120,
      opensAt: Date.parse('2030-06-01T09:00:00Z'),
      powCost: 50_000,
      message: 'Doors open at nine.',
      closed: 'Sold out',
    });
    expect(errors).toEqual([]);
    expect(ssm.commandCalls(GetParametersCommand)).toHaveLength(1);
    expect(ssm.commandCalls(GetParametersCommand)[0]?.args[0].input).toEqual({ Names: ALL_NAMES });
  });

  it('reads none as no schedule, no message and open for sale', async () => {
    // Prepare
    ssm.on(GetParametersCommand).resolves(
      allParameters({
        enabled: 'true',
        'admit-per-minute': '60',
        'opens-at': 'none',
        'pow-cost': '0',
        message: 'none',
        closed: 'none',
      }),
    );
    const { source, errors } = createSource();

    // Act
    const config = await source.get();

    // Assess
    expect(config).toEqual({ enabled: true, admitPerMinute: 60, ...DEFAULTS });
    expect(errors).toEqual([]);
  });

  it('reads the fair-launch settings of a stack deployed before they existed as their defaults, reporting nothing', async () => {
    // Prepare
    ssm.on(GetParametersCommand).resolves(parameters('true', '90'));
    const { source, errors } = createSource();

    // Act
    const config = await source.get();

    // Assess
    expect(config).toEqual({ enabled: true, admitPerMinute: 90, ...DEFAULTS });
    expect(errors).toEqual([]);
  });

  it('reads a malformed fair-launch value as its default, reports it, and keeps the rest', async () => {
    // Prepare
    ssm.on(GetParametersCommand).resolves(
      allParameters({
        enabled: 'true',
        'admit-per-minute': '60',
        'opens-at': '2030-06-01T09:00',
        'pow-cost': '99999999999',
        message: 'two\nlines',
        closed: 'Sold out',
      }),
    );
    const { source, errors } = createSource();

    // Act
    const config = await source.get();

    // Assess
    expect(config).toEqual({
      enabled: true,
      admitPerMinute: 60,
      ...DEFAULTS,
      closed: 'Sold out',
    });
    expect(errors[0]).toBeInstanceOf(RoomConfigError);
    expect(String(errors[0])).toContain(`${PREFIX}opens-at (bad value "2030-06-01T09:00")`);
    expect(String(errors[0])).toContain(`${PREFIX}pow-cost (bad value`);
    expect(String(errors[0])).toContain(`${PREFIX}message (bad value`);
  });

  it('keeps the last good value of a fair-launch setting that turns bad', async () => {
    // Prepare
    ssm
      .on(GetParametersCommand)
      .resolvesOnce(allParameters({ enabled: 'true', 'admit-per-minute': '60', 'pow-cost': '500' }))
      .resolves(allParameters({ enabled: 'true', 'admit-per-minute': '60', 'pow-cost': 'lots' }));
    const { source, clock, errors } = createSource();
    await source.get();
    clock.advance(5000);

    // Act
    const config = await source.get();

    // Assess
    expect(config.powCost).toBe(500);
    expect(String(errors[0])).toContain(`${PREFIX}pow-cost (bad value "lots")`);
  });

  it('still reads on/off and the rate when SSM denies the fair-launch parameters', async () => {
    // Prepare
    const denied = Object.assign(new Error('not authorized to perform ssm:GetParameters'), {
      name: 'AccessDeniedException',
    });
    ssm
      .on(GetParametersCommand, { Names: ALL_NAMES })
      .rejects(denied)
      .on(GetParametersCommand, { Names: [`${PREFIX}enabled`, `${PREFIX}admit-per-minute`] })
      .resolves(parameters('false', '30'));
    const { source, errors } = createSource();

    // Act
    const config = await source.get();

    // Assess
    expect(config).toEqual({ enabled: false, admitPerMinute: 30, ...DEFAULTS });
    expect(errors).toEqual([denied]);
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
    expect(config).toEqual({ enabled: false, admitPerMinute: 30, ...DEFAULTS });
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
    expect(config).toEqual({ enabled: false, admitPerMinute: 30, ...DEFAULTS });
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
    expect(config).toEqual({ enabled: true, admitPerMinute: 0, ...DEFAULTS });
  });

  it('goes on with the settings it was seeded with while SSM has never answered, then with SSM', async () => {
    // Prepare: the settings the last processor mirrored (a schedule, proof of work, a closed sale).
    const opensAt = Date.UTC(2030, 5, 1, 9, 0, 0);
    const mirrored = {
      enabled: true,
      admitPerMinute: 300,
      opensAt,
      powCost: 20_000,
      message: 'Doors at nine',
      closed: null,
    };
    ssm.on(GetParametersCommand).rejectsOnce(new Error('ThrottlingException'));
    const clock = new ManualClock();
    const source = createSsmConfigSource({
      client: new SSMClient({ region: 'eu-west-1' }),
      prefix: PREFIX,
      ttlMs: 1000,
      clock,
      seed: async () => mirrored,
    });

    // Act
    const cold = await source.get();
    ssm
      .on(GetParametersCommand)
      .resolves(allParameters({ enabled: 'true', 'admit-per-minute': '300', 'opens-at': 'none' }));
    clock.advance(1000);
    const read = await source.get();

    // Assess
    expect(cold).toEqual(mirrored);
    expect(read).toEqual({ enabled: true, admitPerMinute: 300, ...DEFAULTS });
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

  it('writes the fair-launch settings: the opening time in ISO-8601 UTC, none for a cleared one', async () => {
    // Prepare
    ssm.on(PutParameterCommand).resolves({ Version: 2 });
    const writer = createSsmConfigWriter({
      client: new SSMClient({ region: 'eu-west-1' }),
      prefix: PREFIX,
    });

    // Act
    await writer.write({
      opensAt: Date.parse('2030-06-01T09:00:00Z'),
      powCost: 2000,
      message: '  Hold on  ',
      closed: null,
    });
    await writer.write({ opensAt: null, message: null, closed: 'Sold out' });

    // Assess
    expect(
      ssm
        .commandCalls(PutParameterCommand)
        .map((c) => [c.args[0].input.Name, c.args[0].input.Value]),
    ).toEqual([
      [`${PREFIX}opens-at`, '2030-06-01T09:00:00.000Z'],
      [`${PREFIX}pow-cost`, '2000'],
      [`${PREFIX}message`, 'Hold on'],
      [`${PREFIX}closed`, 'none'],
      [`${PREFIX}opens-at`, 'none'],
      [`${PREFIX}message`, 'none'],
      [`${PREFIX}closed`, 'Sold out'],
    ]);
  });

  it('refuses a fair-launch value SSM could not give back as it was set, writing nothing', async () => {
    // Prepare
    const writer = createSsmConfigWriter({
      client: new SSMClient({ region: 'eu-west-1' }),
      prefix: PREFIX,
    });

    // Act
    const writes = [
      writer.setPowCost(-1),
      writer.setPowCost(10_000_001),
      writer.setOpensAt(1.5),
      writer.setMessage('none'),
      writer.setMessage('a\nb'),
      writer.setClosed(''),
    ];

    // Assess
    for (const write of writes) await expect(write).rejects.toBeInstanceOf(RangeError);
    expect(ssm.commandCalls(PutParameterCommand)).toHaveLength(0);
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
