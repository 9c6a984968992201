import { GetParametersCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { formatStatus, parseRoomCommand, runRoomCli, UsageError } from '../../../tools/room.ts';

describe('npm run room', () => {
  it.each([
    [['status'], { kind: 'status' }],
    [[], { kind: 'status' }],
    [['on'], { kind: 'set', change: { enabled: true } }],
    [['off'], { kind: 'set', change: { enabled: false } }],
    [['rate', '120'], { kind: 'set', change: { admitPerMinute: 120 } }],
    [['rate', '0'], { kind: 'set', change: { admitPerMinute: 0 } }],
    [['backup'], { kind: 'backup' }],
  ])('reads %j', (words, expected) => {
    expect(parseRoomCommand(words)).toEqual(expected);
  });

  it.each([
    [['rate']],
    [['rate', '-1']],
    [['rate', '1.5']],
    [['rate', 'fast']],
    [['jump']],
    [['on', 'now']],
    [['backup', '/etc/passwd']],
  ])('refuses %j with a usage error', (words) => {
    expect(() => parseRoomCommand(words)).toThrow(UsageError);
  });

  it('prints a status an operator can read at a glance', () => {
    // Act
    const text = formatStatus({
      enabled: true,
      admitPerMinute: 0,
      waiting: 1200,
      arriving: 3,
      admittedLastMinute: 0,
      admittedTotal: 50,
      abandonedTotal: 4,
      connections: 1203,
    });

    // Assess
    expect(text).toContain('ON');
    expect(text).toContain('admission paused');
    expect(text).toContain('1200 (+3 arriving)');
  });
});

describe('npm run room -- --aws', () => {
  it('writes the rate parameter and reads the room back from SSM', async () => {
    // Prepare
    const ssm = mockClient(SSMClient);
    ssm.on(PutParameterCommand).resolves({});
    ssm.on(GetParametersCommand).resolves({
      Parameters: [
        { Name: '/wr/config/enabled', Value: 'true' },
        { Name: '/wr/config/admit-per-minute', Value: '240' },
      ],
    });
    let printed = '';

    // Act
    const code = await runRoomCli(['rate', '240', '--aws', '--prefix', '/wr/config/'], {
      ssmClient: ssm as unknown as SSMClient,
      out: (text) => {
        printed += text;
      },
    });

    // Assess
    expect(code).toBe(0);
    expect(ssm.commandCalls(PutParameterCommand)[0]?.args[0].input).toEqual({
      Name: '/wr/config/admit-per-minute',
      Value: '240',
      Type: 'String',
      Overwrite: true,
    });
    expect(printed).toContain('240 per minute');
  });

  it('fails with a clear message when the parameters cannot be read', async () => {
    // Prepare
    const ssm = mockClient(SSMClient);
    ssm.on(GetParametersCommand).rejects(new Error('AccessDenied'));
    let printed = '';

    // Act
    const code = await runRoomCli(['status', '--aws', '--prefix', '/wr/config/'], {
      ssmClient: ssm as unknown as SSMClient,
      err: (text) => {
        printed += text;
      },
    });

    // Assess
    expect(code).toBe(1);
    expect(printed).toContain('AccessDenied');
  });
});

describe('npm run room -- console', () => {
  it('starts the console on the port asked, against the local room or the deployed one', async () => {
    // Prepare
    const runs: unknown[] = [];
    const runConsole = async (options: unknown) => {
      runs.push(options);
      return 0;
    };

    // Act
    await runRoomCli(['console', '--port', '0', '--url', 'http://127.0.0.1:9999'], { runConsole });
    await runRoomCli(
      ['console', '--aws', '--region', 'eu-west-1', '--table', 'room-table', '--room-id', 'r1'],
      { runConsole },
    );

    // Assess
    expect(runs[0]).toMatchObject({ port: 0, local: { url: 'http://127.0.0.1:9999' } });
    expect(runs[1]).toMatchObject({
      port: 8090,
      aws: { region: 'eu-west-1', tableName: 'room-table', roomId: 'r1' },
    });
  });

  it('refuses a bad port, and console-only flags elsewhere', async () => {
    // Act / Assess
    await expect(runRoomCli(['console', '--port', '70000'])).rejects.toThrow(UsageError);
    await expect(runRoomCli(['console', '--table', 't'])).rejects.toThrow(/--aws/);
    await expect(runRoomCli(['status', '--port', '1'])).rejects.toThrow(/console only/);
  });
});
