import { GetParametersCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { formatStatus, parseRoomCommand, runRoomCli, UsageError } from '../../../tools/room.ts';

const NOW = Date.parse('2030-05-30T09:00:00Z');
const OPENS_AT = Date.parse('2030-06-01T09:00:00Z');
const STATUS = {
  enabled: true,
  admitPerMinute: 0,
  opensAt: null,
  powCost: 0,
  message: null,
  closed: null,
  draw: null,
  waiting: 1200,
  arriving: 3,
  admittedLastMinute: 0,
  admittedTotal: 50,
  abandonedTotal: 4,
  connections: 1203,
};

describe('npm run room', () => {
  it.each([
    [['status'], { kind: 'status' }],
    [[], { kind: 'status' }],
    [['on'], { kind: 'set', change: { enabled: true } }],
    [['off'], { kind: 'set', change: { enabled: false } }],
    [['rate', '120'], { kind: 'set', change: { admitPerMinute: 120 } }],
    [['rate', '0'], { kind: 'set', change: { admitPerMinute: 0 } }],
    [['backup'], { kind: 'backup' }],
    [['schedule', '2030-06-01T09:00:00Z'], { kind: 'set', change: { opensAt: OPENS_AT } }],
    [['schedule', '2030-06-01T11:00+02:00'], { kind: 'set', change: { opensAt: OPENS_AT } }],
    [['schedule', 'none'], { kind: 'set', change: { opensAt: null } }],
    [['pow', '50000'], { kind: 'set', change: { powCost: 50_000 } }],
    [['pow', '0'], { kind: 'set', change: { powCost: 0 } }],
    [
      ['message', '  Doors open at nine.  '],
      { kind: 'set', change: { message: 'Doors open at nine.' } },
    ],
    [['message', 'none'], { kind: 'set', change: { message: null } }],
    [
      ['close', 'Sold out, thank you!'],
      { kind: 'set', change: { closed: 'Sold out, thank you!' } },
    ],
    [['reopen'], { kind: 'set', change: { closed: null } }],
  ])('reads %j', (words, expected) => {
    expect(parseRoomCommand(words, NOW)).toEqual(expected);
  });

  it('takes a schedule in the past, with a warning that the room opens at once', () => {
    // Act
    const command = parseRoomCommand(['schedule', '2020-01-01T00:00:00Z'], NOW);

    // Assess
    expect(command).toMatchObject({ kind: 'set', change: { opensAt: Date.parse('2020-01-01') } });
    expect(command.kind === 'set' && command.warning).toContain('opens at once');
  });

  it.each([
    [['schedule']],
    [['schedule', '2030-06-01T09:00:00']],
    [['schedule', '2030-02-30T09:00:00Z']],
    [['schedule', 'tomorrow']],
    [['pow', '-1']],
    [['pow', '10000001']],
    [['pow', 'hard']],
    [['message']],
    [['message', 'two\nlines']],
    [['message', 'x'.repeat(501)]],
    [['message', 'Doors', 'open']],
    [['close']],
    [['close', 'none']],
    [['close', 'NONE']],
    [['close', '   ']],
    [['reopen', 'now']],
  ])('refuses the fair-launch command %j with a usage error', (words) => {
    expect(() => parseRoomCommand(words, NOW)).toThrow(UsageError);
  });

  it('says why a schedule cannot be read, and what it needs', () => {
    expect(() => parseRoomCommand(['schedule', '2030-06-01 09:00'], NOW)).toThrow(
      /ISO-8601 time with its zone.*cannot read "2030-06-01 09:00"/,
    );
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
    const text = formatStatus(STATUS, NOW);

    // Assess
    expect(text).toContain('ON');
    expect(text).toContain('admission paused');
    expect(text).toContain('1200 (+3 arriving)');
    expect(text).toMatch(/opens\s+not scheduled/);
    expect(text).toMatch(/pow\s+off/);
    expect(text).toMatch(/message\s+none/);
    expect(text).toMatch(/sale\s+open/);
  });

  it('prints the opening time with how long until it, the pow cost, the message and the closing words', () => {
    // Act
    const text = formatStatus(
      { ...STATUS, opensAt: OPENS_AT, powCost: 50_000, message: 'Hold on', closed: 'Sold out' },
      NOW,
    );

    // Assess
    expect(text).toMatch(/opens\s+2030-06-01T09:00:00.000Z \(in 2 d 0 h/);
    expect(text).toMatch(/pow\s+cost 50000/);
    expect(text).toMatch(/message\s+"Hold on"/);
    expect(text).toMatch(/sale\s+CLOSED.*"Sold out"/);
  });

  it('prints the draw: the commitment before the opening, the seed and the number drawn after', () => {
    // Prepare
    const commitment = 'c'.repeat(64);
    const pending = { opensAt: OPENS_AT, commitment, seed: null, drawnAt: null, members: null };

    // Act
    const before = formatStatus({ ...STATUS, opensAt: OPENS_AT, draw: pending }, NOW);
    const after = formatStatus(
      {
        ...STATUS,
        opensAt: OPENS_AT,
        draw: { ...pending, seed: 'a'.repeat(64), drawnAt: OPENS_AT + 2000, members: 1721 },
      },
      OPENS_AT + 5000,
    );

    // Assess
    expect(before).toMatch(/draw\s+commitment c{64} \(the seed follows at the opening\)/);
    expect(before).not.toContain('seed  ');
    expect(after).toMatch(/draw\s+1721 drawn at 2030-06-01T09:00:02.000Z/);
    expect(after).toMatch(/seed\s+a{64}/);
  });

  it('says an opening time that has passed is open', () => {
    // Act
    const text = formatStatus({ ...STATUS, opensAt: NOW - 1000 }, NOW);

    // Assess
    expect(text).toMatch(/opens\s+2030-05-30T08:59:59.000Z \(passed: admission is open\)/);
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

  it('writes the fair-launch parameters as SSM keeps them: an ISO time, a number, text or none', async () => {
    // Prepare
    const ssm = mockClient(SSMClient);
    ssm.on(PutParameterCommand).resolves({});
    ssm.on(GetParametersCommand).resolves({
      Parameters: [
        { Name: '/wr/config/enabled', Value: 'true' },
        { Name: '/wr/config/admit-per-minute', Value: '240' },
        { Name: '/wr/config/opens-at', Value: '2030-06-01T09:00:00.000Z' },
        { Name: '/wr/config/closed', Value: 'Sold out' },
      ],
    });
    const aws = ['--aws', '--prefix', '/wr/config/'];
    let printed = '';
    const deps = {
      ssmClient: ssm as unknown as SSMClient,
      out: (text: string) => {
        printed += text;
      },
    };

    // Act
    const codes = [
      await runRoomCli(['schedule', '2030-06-01T11:00:00+02:00', ...aws], deps),
      await runRoomCli(['schedule', 'none', ...aws], deps),
      await runRoomCli(['pow', '300', ...aws], deps),
      await runRoomCli(['message', 'Hold on', ...aws], deps),
      await runRoomCli(['message', 'none', ...aws], deps),
      await runRoomCli(['close', 'Sold out', ...aws], deps),
      await runRoomCli(['reopen', ...aws], deps),
    ];

    // Assess
    expect(codes).toEqual([0, 0, 0, 0, 0, 0, 0]);
    expect(
      ssm
        .commandCalls(PutParameterCommand)
        .map((c) => [c.args[0].input.Name, c.args[0].input.Value]),
    ).toEqual([
      ['/wr/config/opens-at', '2030-06-01T09:00:00.000Z'],
      ['/wr/config/opens-at', 'none'],
      ['/wr/config/pow-cost', '300'],
      ['/wr/config/message', 'Hold on'],
      ['/wr/config/message', 'none'],
      ['/wr/config/closed', 'Sold out'],
      ['/wr/config/closed', 'none'],
    ]);
    expect(printed).toMatch(/opens\s+2030-06-01T09:00:00.000Z/);
    expect(printed).toMatch(/sale\s+CLOSED.*"Sold out"/);
    expect(printed).toMatch(/pow\s+off/);
  });

  it('warns that a schedule in the past opens the room at once, and sets it', async () => {
    // Prepare
    const ssm = mockClient(SSMClient);
    ssm.on(PutParameterCommand).resolves({});
    ssm.on(GetParametersCommand).resolves({ Parameters: [] });
    let warned = '';

    // Act
    await runRoomCli(['schedule', '2020-01-01T00:00:00Z', '--aws'], {
      ssmClient: ssm as unknown as SSMClient,
      out: () => {},
      err: (text) => {
        warned += text;
      },
    });

    // Assess
    expect(warned).toContain(
      'Warning: 2020-01-01T00:00:00.000Z is in the past: the room opens at once',
    );
    expect(ssm.commandCalls(PutParameterCommand)[0]?.args[0].input.Value).toBe(
      '2020-01-01T00:00:00.000Z',
    );
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
