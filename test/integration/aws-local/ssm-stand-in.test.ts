import '../../helpers/aws-sdk-env.ts';
import {
  GetParameterCommand,
  GetParametersCommand,
  PutParameterCommand,
  type PutParameterCommandInput,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createSsmConfigSource,
  createSsmConfigWriter,
  RoomConfigError,
} from '../../../functions/adapters/aws/ssm-config.ts';
import { loadSignerKeysFromSsm } from '../../../functions/adapters/aws/ssm-signing-key.ts';
import { FAIR_LAUNCH_DEFAULTS } from '../../../functions/core/room-settings.ts';
import { generateSigningKey } from '../../../functions/core/tokens.ts';
import { type SsmStandIn, startSsmStandIn } from '../../../local/aws-local/ssm-stand-in.ts';
import { ManualClock } from '../../helpers/room-harness.ts';

const PREFIX = '/waiting-room/config/';
const TTL_MS = 5000;

let standIn: SsmStandIn;
let client: SSMClient;

beforeEach(async () => {
  standIn = await startSsmStandIn();
  client = new SSMClient({
    region: 'us-east-1',
    endpoint: standIn.url,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
});

afterEach(async () => {
  client.destroy();
  await standIn.close();
});

const put = (input: PutParameterCommandInput) =>
  client.send(new PutParameterCommand({ Type: 'String', ...input }));

async function configuredRoom(rate: number) {
  const writer = createSsmConfigWriter({ client, prefix: PREFIX });
  await writer.setEnabled(true);
  await writer.setRate(rate);
  const clock = new ManualClock();
  const errors: unknown[] = [];
  const source = createSsmConfigSource({
    client,
    prefix: PREFIX,
    ttlMs: TTL_MS,
    clock,
    onError: (error) => errors.push(error),
  });
  await source.get();
  return { writer, source, clock, errors };
}

describe('SSM stand-in through the SDK', () => {
  it('returns a parameter it was given', async () => {
    // Prepare
    await put({ Name: '/room/greeting', Value: 'hello' });

    // Act
    const { Parameter } = await client.send(new GetParameterCommand({ Name: '/room/greeting' }));

    // Assess
    expect(Parameter).toMatchObject({ Name: '/room/greeting', Value: 'hello', Version: 1 });
  });

  it('lists unknown names of a GetParameters call as invalid parameters', async () => {
    // Prepare
    await put({ Name: '/room/a', Value: '1' });

    // Act
    const answer = await client.send(
      new GetParametersCommand({ Names: ['/room/a', '/room/missing'] }),
    );

    // Assess
    expect(answer.Parameters?.map((p) => [p.Name, p.Value])).toEqual([['/room/a', '1']]);
    expect(answer.InvalidParameters).toEqual(['/room/missing']);
  });

  it('refuses to replace an existing parameter without Overwrite', async () => {
    // Prepare
    await put({ Name: '/room/a', Value: 'first' });

    // Act
    const putting = put({ Name: '/room/a', Value: 'second', Overwrite: false });

    // Assess
    await expect(putting).rejects.toMatchObject({ name: 'ParameterAlreadyExists' });
    const { Parameter } = await client.send(new GetParameterCommand({ Name: '/room/a' }));
    expect(Parameter?.Value).toBe('first');
  });

  it('keeps a SecureString out of sight unless read WithDecryption', async () => {
    // Prepare
    await put({ Name: '/room/secret', Value: 's3cret', Type: 'SecureString' });

    // Act
    const read = (WithDecryption: boolean) =>
      client.send(new GetParameterCommand({ Name: '/room/secret', WithDecryption }));
    const [hidden, clear] = await Promise.all([read(false), read(true)]);

    // Assess
    expect(hidden.Parameter?.Value).not.toBe('s3cret');
    expect(clear.Parameter?.Value).toBe('s3cret');
  });
});

describe('SSM stand-in behind the room config adapters', () => {
  it('keeps serving the cached rate until the TTL passes', async () => {
    // Prepare
    const { writer, source, clock } = await configuredRoom(60);
    await writer.setRate(120);

    // Act
    clock.advance(TTL_MS - 1);
    const config = await source.get();

    // Assess
    expect(config.admitPerMinute).toBe(60);
  });

  it('shows a rate changed by the writer once the TTL has passed', async () => {
    // Prepare
    const { writer, source, clock } = await configuredRoom(60);
    await writer.setRate(120);

    // Act
    clock.advance(TTL_MS);
    const config = await source.get();

    // Assess
    expect(config).toEqual({ enabled: true, admitPerMinute: 120, ...FAIR_LAUNCH_DEFAULTS });
  });

  it('keeps the last good config and reports the error when SSM is gone', async () => {
    // Prepare
    const { source, clock, errors } = await configuredRoom(60);
    await standIn.close();

    // Act
    clock.advance(TTL_MS);
    const config = await source.get();

    // Assess
    expect(config).toEqual({ enabled: true, admitPerMinute: 60, ...FAIR_LAUNCH_DEFAULTS });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(Error);
  });

  it('keeps the last good rate when the parameter holds a value that is not a rate', async () => {
    // Prepare
    const { source, clock, errors } = await configuredRoom(60);
    await put({ Name: `${PREFIX}admit-per-minute`, Value: 'fast', Overwrite: true });

    // Act
    clock.advance(TTL_MS);
    const config = await source.get();

    // Assess
    expect(config.admitPerMinute).toBe(60);
    expect(errors).toEqual([expect.any(RoomConfigError)]);
  });

  it('loads a signing key stored as a bare PEM SecureString as a ring of one current key', async () => {
    // Prepare
    const key = await generateSigningKey();
    await put({ Name: '/room/signing-key', Value: key.pkcs8, Type: 'SecureString' });

    // Act
    const loaded = await loadSignerKeysFromSsm({
      client,
      name: '/room/signing-key',
      keepSeconds: 3600,
    });

    // Assess
    expect(loaded.current.kid).toBe(key.kid);
    expect(loaded.current.publicJwk).toEqual(key.publicJwk);
    expect([...loaded.kids]).toEqual([key.kid]);
  });
});
