/**
 * `npm run room -- console --aws`: the deployed room's settings from the SSM stand-in, its line
 * from the room state item in dynalite, and its minute figures from CloudWatch (mocked: there is
 * no stand-in), behind the same console server the local room uses.
 */
import '../../helpers/aws-sdk-env.ts';
import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { GetParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { roomPk, STATE_SK } from '../../../functions/adapters/aws/dynamo-items.ts';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../../../functions/lambda/observability.ts';
import { type SsmStandIn, startSsmStandIn } from '../../../local/aws-local/ssm-stand-in.ts';
import { startConsoleServer } from '../../../tools/console/server.ts';
import { createAwsSource, TABLE_PARAMETER } from '../../../tools/console/sources.ts';
import { type Dynalite, startDynalite } from '../../helpers/aws-dynalite.ts';

const PREFIX = '/waiting-room/config/';
const ROOM = 'waiting-room';
const NOW = Date.UTC(2026, 10, 28, 12, 30, 20);
const MINUTE = 60_000;
const cloudWatch = mockClient(CloudWatchClient);

let standIn: SsmStandIn;
let ssm: SSMClient;
let dynamo: Dynalite;
let table: string;

beforeAll(async () => {
  dynamo = await startDynalite();
});

afterAll(async () => {
  await dynamo.close();
});

beforeEach(async () => {
  standIn = await startSsmStandIn();
  ssm = new SSMClient({
    region: 'us-east-1',
    endpoint: standIn.url,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
  for (const [name, value] of [
    ['enabled', 'true'],
    ['admit-per-minute', '120'],
  ]) {
    await ssm.send(
      new PutParameterCommand({ Name: `${PREFIX}${name}`, Value: value, Type: 'String' }),
    );
  }
  table = await dynamo.createTable();
  cloudWatch.reset();
  // Three minutes of a launch, as the room's EMF metrics show them.
  const minutes = [NOW - 3 * MINUTE, NOW - 2 * MINUTE, NOW - MINUTE].map(
    (t) => new Date(Math.floor(t / MINUTE) * MINUTE),
  );
  cloudWatch.on(GetMetricDataCommand).resolves({
    MetricDataResults: [
      { Id: 'waiting', Timestamps: minutes, Values: [300, 420, 510] },
      { Id: 'admitted', Timestamps: minutes, Values: [120, 120, 118] },
      { Id: 'joins', Timestamps: minutes, Values: [240, 225, 210] },
      { Id: 'abandoned', Timestamps: minutes, Values: [2, 4, 3] },
    ],
  });
});

afterEach(async () => {
  ssm.destroy();
  await standIn.close();
});

async function putRoomState(item: Record<string, unknown>) {
  await dynamo.documentClient.send(
    new PutCommand({ TableName: table, Item: { pk: roomPk(ROOM), sk: STATE_SK, ...item } }),
  );
}

/** The console's AWS source as `--aws` makes it, on the stand-ins; `extra` adds or overrides. */
function awsSource(extra: Partial<Parameters<typeof createAwsSource>[0]> = {}) {
  return createAwsSource({
    ssm,
    cloudWatch: new CloudWatchClient({}),
    region: 'us-east-1',
    prefix: PREFIX,
    roomId: ROOM,
    now: () => NOW,
    ...extra,
  });
}

describe('the --aws source', () => {
  it('reads the settings from SSM and the line from the room state item the processor writes', async () => {
    // Prepare
    await putRoomState({
      waiting: 512,
      admittedTotal: 2400,
      abandonedTotal: 31,
      recentAdmissions: [
        { at: NOW - 90_000, count: 50 },
        { at: NOW - 30_000, count: 60 },
        { at: NOW - 1_000, count: 2 },
      ],
    });
    const source = await awsSource({
      dynamo: dynamo.documentClient,
      tableName: table,
    });

    // Act
    const reading = await source.read();

    // Assess
    expect(reading).toMatchObject({
      enabled: true,
      admitPerMinute: 120,
      waiting: 512,
      admittedTotal: 2400,
      abandonedTotal: 31,
      admittedLastMinute: 62,
      connections: null,
      error: null,
    });
    expect(source.target.notes.join(' ')).toMatch(/connections are not counted/i);
  });

  it('reads the schedule, the pow cost, the message and the closing words from SSM', async () => {
    // Prepare
    for (const [name, value] of [
      ['opens-at', '2026-11-28T13:00:00Z'],
      ['pow-cost', '5000'],
      ['message', 'Doors open at one'],
      ['closed', 'none'],
    ]) {
      await ssm.send(
        new PutParameterCommand({ Name: `${PREFIX}${name}`, Value: value, Type: 'String' }),
      );
    }
    const source = await awsSource({ dynamo: dynamo.documentClient, tableName: table });
    await putRoomState({ waiting: 0 });

    // Act
    const reading = await source.read();

    // Assess
    expect(reading).toMatchObject({
      schedule: { opensAt: Date.UTC(2026, 10, 28, 13), prequeue: null },
      powCost: 5000,
      message: 'Doors open at one',
      closed: null,
      error: null,
    });
  });

  it('shows no schedule, pow off, no message and open for sale on a stack without those parameters', async () => {
    // Prepare
    const source = await awsSource({ dynamo: dynamo.documentClient, tableName: table });
    await putRoomState({ waiting: 0 });

    // Act
    const reading = await source.read();

    // Assess
    expect(reading).toMatchObject({
      schedule: null,
      powCost: 0,
      message: null,
      closed: null,
      error: null,
    });
  });

  it('finds the table through <prefix>table-name in SSM when no --table is given', async () => {
    // Prepare
    await ssm.send(
      new PutParameterCommand({
        Name: `${PREFIX}${TABLE_PARAMETER}`,
        Value: table,
        Type: 'String',
      }),
    );
    await putRoomState({ waiting: 7 });

    // Act
    const source = await awsSource({
      dynamo: dynamo.documentClient,
    });

    // Assess
    expect((await source.read()).waiting).toBe(7);
  });

  it('without the table, shows the latest CloudWatch minute and says so', async () => {
    // Prepare
    const source = await awsSource();

    // Act
    const reading = await source.read();

    // Assess
    expect(reading).toMatchObject({
      waiting: 510,
      admittedLastMinute: 118,
      joinsLastMinute: 210,
      abandonedLastMinute: 3,
    });
    expect(source.target.notes.join(' ')).toMatch(/CloudWatch minutes/);
    const query = cloudWatch.commandCalls(GetMetricDataCommand)[0]?.args[0].input;
    expect(query?.MetricDataQueries?.map((q) => q.MetricStat?.Metric?.MetricName)).toEqual([
      'waiting',
      'admitted',
      'joins',
      'abandoned',
    ]);
    expect(query?.MetricDataQueries?.[0]?.MetricStat?.Metric).toMatchObject({
      Namespace: METRICS_NAMESPACE,
      Dimensions: [{ Name: 'service', Value: SERVICE_NAME }],
    });
  });

  it('reports a missing room state item by its key, with the figures unknown rather than zero', async () => {
    // Prepare: the table holds no state item for this room id (a wrong --room-id).
    const source = await awsSource({
      dynamo: dynamo.documentClient,
      tableName: table,
      roomId: 'no-such-room',
    });

    // Act
    const reading = await source.read();

    // Assess
    expect(reading).toMatchObject({
      enabled: true,
      admitPerMinute: 120,
      waiting: null,
      admittedTotal: null,
      abandonedTotal: null,
      admittedLastMinute: null,
    });
    expect(reading.error).toContain('R#no-such-room / STATE');
    expect(reading.error).toContain('--room-id');
  });

  it('fills the console history of the last hour from CloudWatch, one sample per whole minute', async () => {
    // Prepare
    const source = await awsSource({
      dynamo: dynamo.documentClient,
      tableName: table,
    });

    // Act
    const history = await source.history?.(NOW - 3_600_000, NOW);

    // Assess: only the minutes CloudWatch holds; the hour before them is not a run of zeros.
    expect(history?.every((s) => s.origin === 'cloudwatch' && s.at <= NOW)).toBe(true);
    expect(history?.map((s) => [s.waiting, s.joinsLastMinute])).toEqual([
      [300, 240],
      [420, 225],
      [510, 210],
    ]);
  });

  it('leaves out the minutes CloudWatch has not published yet, and a figure it lacks is unknown', async () => {
    // Prepare: the last whole minute is not published yet; the one before lacks "admitted".
    const minute = (ago: number) => new Date(Math.floor((NOW - ago * MINUTE) / MINUTE) * MINUTE);
    cloudWatch.on(GetMetricDataCommand).resolves({
      MetricDataResults: [
        { Id: 'waiting', Timestamps: [minute(3), minute(2)], Values: [300, 420] },
        { Id: 'admitted', Timestamps: [minute(3)], Values: [120] },
        { Id: 'joins', Timestamps: [minute(3)], Values: [240] },
        { Id: 'abandoned', Timestamps: [minute(3), minute(2)], Values: [2, 4] },
      ],
    });
    const source = await awsSource();

    // Act
    const history = await source.history?.(NOW - 3_600_000, NOW);
    const reading = await source.read();

    // Assess
    expect(history?.map((s) => [s.at, s.waiting, s.admittedLastMinute, s.joinsLastMinute])).toEqual(
      [
        [minute(3).getTime() + MINUTE, 300, 120, 240],
        // No join is published as none, but a missing processor figure is not a zero.
        [minute(2).getTime() + MINUTE, 420, null, 0],
      ],
    );
    expect(reading).toMatchObject({ waiting: 420, admittedLastMinute: null });
  });

  it('shows the figures as unknown when CloudWatch holds none of the last minutes', async () => {
    // Prepare
    cloudWatch.on(GetMetricDataCommand).resolves({ MetricDataResults: [] });
    const source = await awsSource();

    // Act
    const reading = await source.read();

    // Assess
    expect(reading).toMatchObject({
      waiting: null,
      admittedLastMinute: null,
      joinsLastMinute: null,
    });
  });

  it('writes on/off and rate where the room reads them, through the console server', async () => {
    // Prepare
    const source = await awsSource({
      dynamo: dynamo.documentClient,
      tableName: table,
      now: undefined,
    });
    const server = await startConsoleServer({
      source,
      distDir: '/nonexistent',
      port: 0,
      intervalMs: 60_000,
    });
    const post = (body: unknown) =>
      fetch(`${server.origin}/api/config`, {
        method: 'POST',
        headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });

    try {
      // Act
      const rate = await post({ admitPerMinute: 250 });
      const off = await post({ enabled: false, confirm: true });

      // Assess
      expect([rate.status, off.status]).toEqual([200, 200]);
      const value = async (name: string) =>
        (await ssm.send(new GetParameterCommand({ Name: `${PREFIX}${name}` }))).Parameter?.Value;
      expect(await value('admit-per-minute')).toBe('250');
      expect(await value('enabled')).toBe('false');
      expect(((await off.json()) as { sample: { enabled: boolean } }).sample.enabled).toBe(false);
      const close = await post({ closed: 'Sold out', confirm: true });
      expect(close.status).toBe(200);
      expect(await value('closed')).toBe('Sold out');
      expect(((await close.json()) as { sample: { closed: string } }).sample.closed).toBe(
        'Sold out',
      );
    } finally {
      await server.close();
    }
  });

  it('reports an SSM failure in the sample instead of showing made-up settings', async () => {
    // Prepare
    const source = await awsSource({
      dynamo: dynamo.documentClient,
      prefix: '/nothing-here/',
      tableName: table,
      now: undefined,
    });

    // Act
    const reading = await source.read();

    // Assess
    expect(reading.enabled).toBeNull();
    expect(reading.admitPerMinute).toBeNull();
    expect(reading.powCost).toBeNull();
    expect(reading.error).toMatch(/SSM \/nothing-here\//);
  });
});
