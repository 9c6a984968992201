/**
 * `npm run room -- status | on | off | rate <admitPerMinute> [--url http://127.0.0.1:8080]`:
 * operator control of a running local waiting room, through its loopback-only admin endpoint.
 */
import { parseArgs } from 'node:util';

const USAGE = `Usage: npm run room -- <command> [--url URL]

Commands:
  status              show whether the room is on, the rate, who is waiting and admitted
  on                  turn the room on (visitors queue)
  off                 turn the room off (everyone goes straight in)
  rate <perMinute>    set admissions per minute (a whole number, 0 pauses admission)

Options:
  --url URL           the local waiting room (default http://127.0.0.1:$PORT, PORT default 8080)
`;

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export type RoomCommand =
  | { kind: 'status' }
  | { kind: 'set'; change: { enabled?: boolean; admitPerMinute?: number } };

/** Parses the command words; throws {@link UsageError} with what is wrong. */
export function parseRoomCommand(words: readonly string[]): RoomCommand {
  const [command, value, ...rest] = words;
  if (rest.length > 0) throw new UsageError(`unexpected arguments: ${rest.join(' ')}`);
  switch (command) {
    case 'status':
    case undefined:
      if (value !== undefined) throw new UsageError(`status takes no value (got "${value}")`);
      return { kind: 'status' };
    case 'on':
    case 'off':
      if (value !== undefined) throw new UsageError(`${command} takes no value (got "${value}")`);
      return { kind: 'set', change: { enabled: command === 'on' } };
    case 'rate': {
      if (value === undefined || !/^\d+$/.test(value) || Number(value) > 1_000_000) {
        throw new UsageError(
          `rate needs a whole number of admissions per minute from 0 to 1000000 (got "${value ?? ''}")`,
        );
      }
      return { kind: 'set', change: { admitPerMinute: Number(value) } };
    }
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

interface Status {
  enabled: boolean;
  admitPerMinute: number;
  waiting: number;
  arriving: number;
  admittedLastMinute: number;
  admittedTotal: number;
  abandonedTotal: number;
  connections: number;
}

export function formatStatus(s: Status): string {
  return [
    `room         ${s.enabled ? 'ON (visitors queue)' : 'OFF (everyone goes straight in)'}`,
    `rate         ${s.admitPerMinute} per minute${s.admitPerMinute === 0 ? ' (admission paused)' : ''}`,
    `waiting      ${s.waiting}${s.arriving > 0 ? ` (+${s.arriving} arriving)` : ''}`,
    `admitted     ${s.admittedLastMinute} in the last minute, ${s.admittedTotal} in all`,
    `abandoned    ${s.abandonedTotal}`,
    `connections  ${s.connections}`,
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { url: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const command = parseRoomCommand(positionals);
  const base = values.url ?? `http://127.0.0.1:${process.env.PORT ?? '8080'}`;
  const endpoint = command.kind === 'status' ? '/__room/admin/status' : '/__room/admin/config';
  let response: Response;
  try {
    response = await fetch(new URL(endpoint, base), {
      method: command.kind === 'status' ? 'GET' : 'POST',
      headers: { 'content-type': 'application/json' },
      ...(command.kind === 'set' ? { body: JSON.stringify(command.change) } : {}),
      signal: AbortSignal.timeout(5000),
    });
  } catch (error) {
    process.stderr.write(`Cannot reach the waiting room at ${base}: ${(error as Error).message}\n`);
    return 1;
  }
  const body = (await response.json().catch(() => ({}))) as Status & { error?: string };
  if (!response.ok) {
    process.stderr.write(`The waiting room refused: ${body.error ?? response.statusText}\n`);
    return 1;
  }
  process.stdout.write(`${formatStatus(body)}\n`);
  return 0;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
      process.exit(2);
    },
  );
}
