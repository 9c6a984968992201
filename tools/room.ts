/**
 * `npm run room -- status | on | off | rate <admitPerMinute> | schedule <ISO time>|none |
 * pow <cost> | message <text>|none | close <text> | reopen | backup | rotate-key [--force] |
 * console [--port N] [--url URL | --aws ...]`: operator
 * control of a running local waiting room through its loopback-only admin endpoint, or of a
 * deployed one through its SSM parameters.
 */

import { parseArgs } from 'node:util';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import {
  CONFIG_PARAMETERS,
  createSsmConfigSource,
  createSsmConfigWriter,
} from '../functions/adapters/aws/ssm-config.ts';
import type { PublishedDraw } from '../functions/core/draw.ts';
import type { KeyRotationResult } from '../functions/core/key-ring.ts';
import type { RoomConfig } from '../functions/core/ports.ts';
import { MAX_OPERATOR_TEXT } from '../functions/core/protocol.ts';
import {
  type FairLaunchSettings,
  fairLaunchOf,
  formatOpeningTime,
  isNone,
  MAX_POW_COST,
  operatorTextProblem,
  parseOpeningTime,
} from '../functions/core/room-settings.ts';
import { KEY_ROTATION_FUNCTION_PARAMETER } from '../functions/env.ts';
import { adminFetch } from '../local/admin-secret.ts';
import { readDataDir } from '../local/config.ts';
import type { RoomStatus } from '../local/front.ts';
import { type ConsoleOptions, runConsole } from './console/main.ts';
import { DEFAULT_CONSOLE_PORT } from './console/server.ts';

const USAGE = `Usage: npm run room -- <command> [--url URL]

Commands:
  status              show whether the room is on, the rate, the opening time, proof of work,
                      message and sale, who is waiting and admitted
  on                  turn the room on (visitors queue)
  off                 turn the room off (everyone goes straight in)
  rate <perMinute>    set admissions per minute (a whole number, 0 pauses admission)
  schedule <time>     open admission at this time: ISO-8601 with its zone, such as
                      2026-12-01T10:00:00Z or 2026-12-01T11:00+01:00 (until then visitors
                      gather in a pre-queue, put in line in random order at the opening)
  schedule none       take the schedule away (admission is open)
  pow <cost>          make each join solve a proof of work of this cost (a whole number up to
                      ${MAX_POW_COST.toLocaleString('en')}; 0 turns it off)
  message "<text>"    show these words to everyone waiting (one line of plain text, at most
                      ${MAX_OPERATOR_TEXT} characters); message none takes them down
  close "<text>"      the sale is over: nobody more is admitted, and everyone waiting and
                      every later visitor reads these words
  reopen              the sale is open again (takes the closing words away)
  backup              copy the local room's data directory, live, to backups/ inside it
  rotate-key          sign with the next key (published beside the current one for at least
                      15 minutes, so no pass or ticket is cut); the old key stays published
                      until what it signed has expired; a new next key is published
  console             serve the operator console (live figures, charts, on/off and rate) on
                      127.0.0.1 and print its address, which carries its access token

Options:
  --url URL           the local waiting room (default http://127.0.0.1:$PORT, PORT default 8080)
  --data-dir DIR      the WR_DATA_DIR the local room was started with (default $WR_DATA_DIR or
                      ./data), where its admin secret is; a room kept in memory (:memory:)
                      keeps it in the temporary directory, found by its port
  --force             with rotate-key: rotate even if the next key was published less than
                      15 minutes ago (passes signed in the next minutes may be refused by
                      gates still holding the old key set)
  --aws               read and write the deployed room's SSM parameters instead (rotate-key:
                      invoke its key rotation function, named in <prefix>key-rotation-function)
  --region REGION     with --aws: the room's region (default $AWS_REGION)
  --prefix PREFIX     with --aws: the parameter prefix (default $WR_CONFIG_PREFIX or
                      /waiting-room/config/)
  --port N            with console: its port on 127.0.0.1 (default 8090; 0: any free port)
  --table NAME        with console --aws: the room's DynamoDB table, for live figures (default
                      $WR_TABLE_NAME, else <prefix>table-name in SSM; without it, CloudWatch's)
  --room-id ID        with console --aws: the room id (default $WR_ROOM_ID or waiting-room)
`;

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export type RoomCommand =
  | { kind: 'status' }
  | { kind: 'backup' }
  | { kind: 'rotate-key' }
  | { kind: 'console' }
  | {
      kind: 'set';
      change: Partial<RoomConfig>;
      /** Said before the change is made (a schedule in the past). */
      warning?: string;
    };

const SCHEDULE_FORMAT =
  'an ISO-8601 time with its zone (Z or an offset), such as 2026-12-01T10:00:00Z or 2026-12-01T11:00+01:00, or "none"';

/**
 * Parses the command words; throws {@link UsageError} with what is wrong. `now` (epoch ms) is
 * what a schedule is checked against: one in the past is taken, with a warning.
 */
export function parseRoomCommand(words: readonly string[], now = Date.now()): RoomCommand {
  const [command, value, ...rest] = words;
  if (rest.length > 0) {
    if (command === 'message' || command === 'close') {
      throw new UsageError(
        `${command} takes its text as one argument: put it in quotes (npm run room -- ${command} "${[value, ...rest].join(' ')}")`,
      );
    }
    throw new UsageError(`unexpected arguments: ${rest.join(' ')}`);
  }
  switch (command) {
    case 'status':
    case undefined:
      if (value !== undefined) throw new UsageError(`status takes no value (got "${value}")`);
      return { kind: 'status' };
    case 'on':
    case 'off':
      if (value !== undefined) throw new UsageError(`${command} takes no value (got "${value}")`);
      return { kind: 'set', change: { enabled: command === 'on' } };
    case 'backup':
      if (value !== undefined) throw new UsageError(`backup takes no value (got "${value}")`);
      return { kind: 'backup' };
    case 'rotate-key':
      if (value !== undefined) throw new UsageError(`rotate-key takes no value (got "${value}")`);
      return { kind: 'rotate-key' };
    case 'console':
      if (value !== undefined) throw new UsageError(`console takes no value (got "${value}")`);
      return { kind: 'console' };
    case 'rate': {
      if (value === undefined || !/^\d+$/.test(value) || Number(value) > 1_000_000) {
        throw new UsageError(
          `rate needs a whole number of admissions per minute from 0 to 1000000 (got "${value ?? ''}")`,
        );
      }
      return { kind: 'set', change: { admitPerMinute: Number(value) } };
    }
    case 'schedule': {
      if (value === undefined) throw new UsageError(`schedule needs ${SCHEDULE_FORMAT}`);
      if (isNone(value)) return { kind: 'set', change: { opensAt: null } };
      const opensAt = parseOpeningTime(value);
      if (opensAt === null) {
        throw new UsageError(`schedule needs ${SCHEDULE_FORMAT} (cannot read "${value}")`);
      }
      if (opensAt > now) return { kind: 'set', change: { opensAt } };
      return {
        kind: 'set',
        change: { opensAt },
        warning: `${formatOpeningTime(opensAt)} is in the past: the room opens at once`,
      };
    }
    case 'pow': {
      if (value === undefined || !/^\d+$/.test(value) || Number(value) > MAX_POW_COST) {
        throw new UsageError(
          `pow needs a whole number from 0 (off) to ${MAX_POW_COST} (got "${value ?? ''}")`,
        );
      }
      return { kind: 'set', change: { powCost: Number(value) } };
    }
    case 'message': {
      if (value === undefined) {
        throw new UsageError('message needs its text in quotes, or "none" to take it down');
      }
      if (isNone(value)) return { kind: 'set', change: { message: null } };
      return { kind: 'set', change: { message: operatorText('message', value) } };
    }
    case 'close': {
      if (value === undefined || isNone(value)) {
        throw new UsageError(
          'close needs the closing words in quotes, for everyone waiting to read (reopen opens the sale again)',
        );
      }
      return { kind: 'set', change: { closed: operatorText('close', value) } };
    }
    case 'reopen':
      if (value !== undefined) throw new UsageError(`reopen takes no value (got "${value}")`);
      return { kind: 'set', change: { closed: null } };
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

/** An operator's text as the room keeps it (trimmed), or a {@link UsageError} saying why not. */
function operatorText(command: string, text: string): string {
  const problem = operatorTextProblem(text);
  if (problem) throw new UsageError(`${command}: the text ${problem}`);
  return text.trim();
}

/** "in 2 d 3 h", "in 5 min", "in 45 s". */
function fromNow(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `in ${s} s`;
  const minutes = Math.round(s / 60);
  if (minutes < 60) return `in ${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `in ${hours} h ${String(minutes % 60).padStart(2, '0')} min`;
  return `in ${Math.floor(hours / 24)} d ${hours % 24} h`;
}

/** The on/off, rate and fair-launch lines of a status, as both runtimes print them. */
export function formatSettings(config: RoomConfig, now: number): string[] {
  const f: FairLaunchSettings = fairLaunchOf(config);
  return [
    `room         ${config.enabled ? 'ON (visitors queue)' : 'OFF (everyone goes straight in)'}`,
    `rate         ${config.admitPerMinute} per minute${config.admitPerMinute === 0 ? ' (admission paused)' : ''}`,
    `opens        ${
      f.opensAt === null
        ? 'not scheduled (admission is open)'
        : `${formatOpeningTime(f.opensAt)} ${f.opensAt > now ? `(${fromNow(f.opensAt - now)}; until then a pre-queue)` : '(passed: admission is open)'}`
    }`,
    `pow          ${f.powCost === 0 ? 'off' : `cost ${f.powCost} (each join solves a proof of work)`}`,
    `message      ${f.message === null ? 'none' : JSON.stringify(f.message)}`,
    `sale         ${f.closed === null ? 'open' : `CLOSED (nobody more is admitted): ${JSON.stringify(f.closed)}`}`,
  ];
}

/** The draw's lines of a status: the commitment before the opening, then the seed too. */
function formatDraw(draw: PublishedDraw | null): string[] {
  if (draw === null) return [];
  if (draw.seed === null || draw.drawnAt === null) {
    return [`draw         commitment ${draw.commitment} (the seed follows at the opening)`];
  }
  return [
    `draw         ${draw.members ?? 0} drawn at ${new Date(draw.drawnAt).toISOString()}`,
    `             commitment ${draw.commitment}`,
    `             seed       ${draw.seed}`,
  ];
}

export function formatStatus(s: RoomStatus, now = Date.now()): string {
  return [
    ...formatSettings(s, now),
    ...formatDraw(s.draw ?? null),
    `waiting      ${s.waiting}${s.arriving > 0 ? ` (+${s.arriving} arriving)` : ''}`,
    `admitted     ${s.admittedLastMinute} in the last minute, ${s.admittedTotal} in all`,
    `abandoned    ${s.abandonedTotal}`,
    `connections  ${s.connections}`,
  ].join('\n');
}

export interface RoomCliDeps {
  /** The SSM client for --aws (tests hand in a mocked one). */
  ssmClient?: SSMClient;
  /** The Lambda client for rotate-key --aws. */
  lambdaClient?: Pick<LambdaClient, 'send'>;
  /** Runs the console (tests hand in one that returns once it started). */
  runConsole?: (options: ConsoleOptions) => Promise<number>;
  out?: (text: string) => void;
  err?: (text: string) => void;
}

/** Runs the command line; resolves with the exit code. */
export async function runRoomCli(argv: string[], deps: RoomCliDeps = {}): Promise<number> {
  const out = deps.out ?? ((text: string) => process.stdout.write(text));
  const err = deps.err ?? ((text: string) => process.stderr.write(text));
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      'data-dir': { type: 'string' },
      aws: { type: 'boolean', default: false },
      force: { type: 'boolean', default: false },
      region: { type: 'string' },
      prefix: { type: 'string' },
      port: { type: 'string' },
      table: { type: 'string' },
      'room-id': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    out(USAGE);
    return 0;
  }
  const command = parseRoomCommand(positionals);
  if (command.kind === 'set' && command.warning) err(`Warning: ${command.warning}\n`);
  if (values.force && command.kind !== 'rotate-key') {
    throw new UsageError('--force goes with rotate-key only');
  }
  if (command.kind !== 'console') {
    for (const flag of ['port', 'table', 'room-id'] as const) {
      if (values[flag] !== undefined) throw new UsageError(`--${flag} goes with console only`);
    }
  }
  if (command.kind === 'console') {
    const port = values.port ?? String(DEFAULT_CONSOLE_PORT);
    if (!/^\d+$/.test(port) || Number(port) > 65_535) {
      throw new UsageError(`--port needs a port number from 0 to 65535 (got "${port}")`);
    }
    if (!values.aws && (values.table !== undefined || values['room-id'] !== undefined)) {
      throw new UsageError('--table and --room-id go with console --aws');
    }
    const run = deps.runConsole ?? runConsole;
    return run({
      port: Number(port),
      ...(values.aws
        ? {
            aws: {
              region: values.region ?? process.env.AWS_REGION,
              prefix: awsPrefix(values.prefix),
              tableName: values.table ?? process.env.WR_TABLE_NAME,
              roomId: values['room-id'] ?? process.env.WR_ROOM_ID ?? 'waiting-room',
              ...(deps.ssmClient ? { ssmClient: deps.ssmClient } : {}),
            },
          }
        : {
            local: {
              url: values.url ?? `http://127.0.0.1:${process.env.PORT ?? '8080'}`,
              dataDir: readDataDir(
                values['data-dir'] === undefined
                  ? process.env
                  : { WR_DATA_DIR: values['data-dir'] },
              ),
            },
          }),
      out,
      err,
    });
  }
  if (values.aws && command.kind === 'backup') {
    throw new UsageError(
      'backup is for the local room; the deployed table has DynamoDB point-in-time recovery',
    );
  }
  if (values.aws) {
    const prefix = awsPrefix(values.prefix);
    const region = values.region ?? process.env.AWS_REGION;
    const client = deps.ssmClient ?? new SSMClient(region ? { region } : {});
    if (command.kind === 'rotate-key') {
      const lambda = deps.lambdaClient ?? new LambdaClient(region ? { region } : {});
      return awsRotateKey(client, lambda, prefix, values.force === true, out, err);
    }
    return awsRoom(client, prefix, command, out, err);
  }
  const dataDir = readDataDir(
    values['data-dir'] === undefined ? process.env : { WR_DATA_DIR: values['data-dir'] },
  );
  return localRoom(values.url, dataDir, command, values.force === true, out, err);
}

/** The deployed room's parameter prefix, from `--prefix` or the environment. */
function awsPrefix(flag: string | undefined): string {
  const prefix = flag ?? process.env.WR_CONFIG_PREFIX ?? '/waiting-room/config/';
  if (!/^\/(?:[\w.-]+\/)*$/.test(prefix)) {
    throw new UsageError(`--prefix must start and end with "/" (got "${prefix}")`);
  }
  return prefix;
}

async function localRoom(
  url: string | undefined,
  dataDir: string | null,
  command: Exclude<RoomCommand, { kind: 'console' }>,
  force: boolean,
  out: (text: string) => void,
  err: (text: string) => void,
): Promise<number> {
  const base = url ?? `http://127.0.0.1:${process.env.PORT ?? '8080'}`;
  const route = {
    status: 'status',
    set: 'config',
    backup: 'backup',
    'rotate-key': 'rotate-key',
  }[command.kind];
  const requestBody =
    command.kind === 'set'
      ? JSON.stringify(command.change)
      : command.kind === 'rotate-key'
        ? JSON.stringify({ force })
        : undefined;
  let response: Response;
  try {
    response = await adminFetch(
      base,
      route,
      {
        method: command.kind === 'status' ? 'GET' : 'POST',
        ...(requestBody === undefined ? {} : { body: requestBody }),
        signal: AbortSignal.timeout(5000),
      },
      dataDir,
    );
  } catch (error) {
    err(`Cannot reach the waiting room at ${base}: ${(error as Error).message}\n`);
    return 1;
  }
  const body = (await response.json().catch(() => ({}))) as RoomStatus & { error?: string };
  if (!response.ok) {
    err(`The waiting room refused: ${body.error ?? response.statusText}\n`);
    return 1;
  }
  if (command.kind === 'rotate-key') {
    out(formatRotation(body as unknown as KeyRotationResult));
    return 0;
  }
  if (command.kind === 'backup') {
    const backup = body as unknown as { path: string; bytes: number };
    out(`Backed up to ${backup.path} (${backup.bytes} bytes)\n`);
    return 0;
  }
  out(`${formatStatus(body)}\n`);
  return 0;
}

/** What `rotate-key` prints: what happened, and the ring's key ids and times. */
export function formatRotation(result: KeyRotationResult): string {
  const at = (seconds: number) => new Date(seconds * 1000).toISOString();
  const { ring } = result;
  const lines = [
    result.outcome === 'rotated'
      ? 'Rotated: the next key signs from now on; passes and tickets already issued stay valid.'
      : result.outcome === 'next-published'
        ? 'The ring had no next key: one is published now; the current key keeps signing. Rotate again once every cache holds it.'
        : `Refused: ${'reason' in result ? result.reason : ''}`,
    `current    ${ring.current.kid}`,
    `next       ${ring.next ? `${ring.next.kid} (published; may sign from ${ring.rotateAfter === null ? 'now' : at(ring.rotateAfter)})` : 'none'}`,
    ...ring.retired.map(
      (r, i) =>
        `${i === 0 ? 'retired   ' : '          '} ${r.kid} (stopped signing ${at(r.retiredAt)}, published until ${at(r.dropAfter)})`,
    ),
    `published  ${ring.published.length} keys in the JWKS`,
  ];
  if (result.outcome !== 'refused' && result.warning) lines.push(`Warning: ${result.warning}`);
  return `${lines.join('\n')}\n`;
}

/**
 * `rotate-key --aws`: invokes the room's key rotation function (its name is in SSM beside the
 * room's settings), which rotates the ring in SSM and publishes the JWKS.
 */
async function awsRotateKey(
  ssm: SSMClient,
  lambda: Pick<LambdaClient, 'send'>,
  prefix: string,
  force: boolean,
  out: (text: string) => void,
  err: (text: string) => void,
): Promise<number> {
  const parameter = `${prefix}${KEY_ROTATION_FUNCTION_PARAMETER}`;
  let functionName: string | undefined;
  try {
    functionName = (await ssm.send(new GetParameterCommand({ Name: parameter }))).Parameter?.Value;
    if (!functionName) throw new Error('it is empty');
  } catch (error) {
    err(
      `Cannot find the key rotation function: SSM parameter ${parameter} (${(error as Error).message}). Is the room deployed with key rotation, and are --region and --prefix right?\n`,
    );
    return 1;
  }
  try {
    const response = await lambda.send(
      new InvokeCommand({
        FunctionName: functionName,
        Payload: new TextEncoder().encode(JSON.stringify({ force })),
      }),
    );
    const text = new TextDecoder().decode(response.Payload ?? new Uint8Array());
    if (response.FunctionError) throw new Error(`${response.FunctionError}: ${text}`);
    const result = JSON.parse(text) as KeyRotationResult;
    if (result.outcome === 'refused') {
      err(formatRotation(result));
      return 1;
    }
    out(formatRotation(result));
    return 0;
  } catch (error) {
    err(`The key rotation function ${functionName} failed: ${(error as Error).message}\n`);
    return 1;
  }
}

/** The deployed room: its settings are the SSM parameters the processor and gate read. */
async function awsRoom(
  client: SSMClient,
  prefix: string,
  command: RoomCommand,
  out: (text: string) => void,
  err: (text: string) => void,
): Promise<number> {
  try {
    if (command.kind === 'set') {
      await createSsmConfigWriter({ client, prefix }).write(command.change);
    }
    const problems: unknown[] = [];
    const config = await createSsmConfigSource({
      client,
      prefix,
      onError: (error) => problems.push(error),
    }).get();
    if (problems.length > 0) throw problems[0];
    out(
      [
        ...formatSettings(config, Date.now()),
        `parameters   under ${prefix}: ${Object.values(CONFIG_PARAMETERS).join(', ')}`,
        'The processor applies a change within 5 s; the line itself is on the CloudWatch dashboard.',
        '',
      ].join('\n'),
    );
    return 0;
  } catch (error) {
    err(
      `Cannot ${command.kind === 'set' ? 'change' : 'read'} the room's SSM parameters under ${prefix}: ${(error as Error).message}\n`,
    );
    return 1;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runRoomCli(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
      process.exit(2);
    },
  );
}
