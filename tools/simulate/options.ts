/**
 * The simulator's command line: parsed by hand (so that `--users -5` is read as a value and
 * refused clearly), each value validated with a valibot schema.
 */
import * as v from 'valibot';
import { MAX_POW_COST } from '../../functions/core/room-settings.ts';
import { FaultsError, parseAwsFaults } from '../../local/aws-local/faults.ts';

/** Sockets one worker process holds at most, by default. */
export const SOCKETS_PER_WORKER = 8000;
/**
 * Visitors per loopback source address before sockets are spread over more addresses. One
 * address holds about 28,000 ephemeral ports; spreading has a price, though: a socket with a
 * given source address is bound before it connects, and the kernel's search for a free port in
 * that bind() runs on the event loop and grows with the ports in use (Node cannot set
 * IP_BIND_ADDRESS_NO_PORT). With 18,000 visitors over two addresses the workers' event loops
 * stalled for up to 6 s; over one address, never more than 0.2 s. So spread only past 20,000.
 */
export const VISITORS_PER_SOURCE_ADDRESS = 20_000;
/** Largest run accepted: far beyond what one machine can hold. */
export const MAX_USERS = 1_000_000;

export type ProgressMode = 'auto' | 'bar' | 'lines' | 'none';

export interface SimulationOptions {
  /** The room's WebSocket, ws:// or wss://; the only address visitors ever connect to. */
  url: string;
  users: number;
  /**
   * A flash crowd: this many visitors (the first ones) connect and join at the very start, all
   * at once; the rest arrive after them, spread over the ramp.
   */
  burst: number;
  /** Arrivals (after the burst) spread uniformly over this many seconds. */
  rampSeconds: number;
  /** Share of visitors that drop their socket once while waiting and resume. */
  churn: number;
  /** Share of visitors that leave for good while waiting. */
  abandon: number;
  /** Share of admitted visitors that come back once with their ticket to check the pass. */
  recheck: number;
  /** Hard stop, in seconds from the first arrival. */
  durationSeconds: number;
  jsonFile: string | null;
  htmlFile: string | null;
  /** Worker processes; 0 plays every visitor in this process. */
  workers: number;
  /** Where the room's public keys are. */
  jwksUrl: string;
  /** Loopback source addresses to spread sockets over (1: the default address only). */
  sourceAddresses: number;
  /** The room's abandon grace (WR_ABANDON_AFTER_SECONDS): longer absences may lose the place. */
  graceSeconds: number;
  /** Seed of every random choice: the same seed plans the same run. */
  seed: number;
  progress: ProgressMode;
  /**
   * A scheduled opening: the visitors join a pre-queue, drawn at the opening, and the draw is
   * checked. Against a room on this machine the simulator schedules it itself.
   */
  prequeue: boolean;
  /** The opening, in seconds after the first arrival (room on this machine; null: ramp + 5). */
  opensAfterSeconds: number | null;
  /** Expect proof-of-work challenges and solve them. */
  pow: boolean;
  /** The proof-of-work cost to set on a room on this machine (null: leave the room's). */
  powCost: number | null;
  /** Share of visitors that send the proof that took their place again (must be refused). */
  replay: number;
  /**
   * As the page: a `join`, `resume` or `status` unanswered this long means a dead socket, and
   * the visitor takes a new one (the page's 20 s).
   */
  replyTimeoutSeconds: number;
  /** As the page: a socket not open after this long is dropped for a new one (the page's 10 s). */
  connectTimeoutSeconds: number;
  /**
   * Visitors never give up, as the page does not: for a room known to be up (a rehearsal's
   * own). Unset: a visitor gives up after 12 failed attempts in a row, so a run against a room
   * that is down ends.
   */
  persistent?: boolean;
}

/** What a launch rehearsal (`--rehearsal`) sets on the room it starts. */
export interface RehearsalRoomSettings {
  /** `WR_AWS_FAULTS` of the room (`local/aws-local/faults.ts`); empty: none. */
  faults: string;
  /** `WR_ADMIT_PER_MINUTE` of the room. */
  ratePerMinute: number;
  /** Where the room's output goes (null: a new file in the system's temporary directory). */
  roomLogFile: string | null;
}

/** A rehearsal's options: the simulation's without the url (the room is its own), and the room's. */
export type RehearsalInput = Omit<SimulationInput, 'url' | 'jwksUrl'> &
  Partial<RehearsalRoomSettings>;

/** The rehearsal's defaults: every AWS limit on, a rate that lets 10,000 in within minutes. */
export const REHEARSAL_DEFAULTS = {
  faults: 'realistic',
  ratePerMinute: 6000,
  churn: 0.1,
  /** The burst is this share of the visitors unless `--burst` says otherwise. */
  burstShare: 0.2,
} as const;

export class OptionsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OptionsError';
  }
}

export const USAGE = `Usage: npm run simulate -- --url ws://127.0.0.1:8080/ws --users N [options]
       npm run simulate -- --rehearsal --users N [--burst B] [--faults LIST] [options]

Plays N visitors against a waiting room over its WebSocket, checks the room's invariants from
what they saw, and reports latencies and throughput. With --rehearsal, starts the AWS build on
this machine (npm run start:aws-local) with AWS's limits on, plays a flash crowd against it,
reports how the launch went, and stops the room.

Options:
  --url URL         the room's WebSocket (ws:// or wss://); the only address used   (required)
  --users N         visitors to play                                               (required)
  --ramp S          arrivals (after the burst) spread uniformly over S seconds      (default 10)
  --burst B         a flash crowd: B visitors connect and join at once at the start, the
                    rest arrive over the ramp            (default 0; a fifth with --rehearsal)
  --churn P         share of visitors that drop their socket once while waiting and
                    resume with their ticket after 0.2-3 s                          (default 0)
  --abandon P       share of visitors that close for good while waiting             (default 0)
  --recheck P       share of admitted visitors that resume once more and must get the
                    same pass                                                       (default 0.05)
  --duration S      hard stop after S seconds                                       (default 600)
  --json FILE       write the whole report as JSON
  --html FILE       write a self-contained HTML report with charts
  --workers K       worker processes (0: all in this process)     (default 1 per 8,000 visitors)
  --jwks URL        the room's JWKS      (default http(s)://<host>/.well-known/jwks.json)
  --sources K       loopback source addresses to spread sockets over; only used when the
                    room is on this machine              (default 1 per 20,000 visitors)
  --grace S         the room's abandon grace (WR_ABANDON_AFTER_SECONDS)             (default 120)
  --seed N          seed of the random plan; the same seed plans the same run
  --progress MODE   auto | bar | lines | none                                       (default auto)
  --prequeue [S]    a scheduled opening: visitors wait in a pre-queue drawn at the opening,
                    which is checked; on a room on this machine the opening is scheduled S
                    seconds after the first arrival (default ramp + 5); on a remote room the
                    operator schedules it and S may not be given
  --pow [COST]      expect proof-of-work challenges and solve them; on a room on this machine
                    COST sets the room's cost for the run
  --replay P        share of visitors that send their spent proof again on a new socket and
                    must be refused (needs --pow)                                   (default 0)
  --reply-timeout S a join, resume or status unanswered for S seconds means a dead socket:
                    the visitor drops it and dials again, as the page     (default 20, the page's)
  --connect-timeout S  a socket not open after S seconds is dropped and dialled again, as
                    the page                                          (default 10, the page's)
  --rehearsal       a launch rehearsal: start npm run start:aws-local on a free port (its
                    output to a log file), play the run against it, report the launch
                    (faults, refused and retried joins, time to a place, admissions against
                    the rate, promises kept, AWS errors), and stop the room; no --url.
                    Churn defaults to 0.1 and --burst to a fifth of --users
  --faults LIST     the rehearsal room's WR_AWS_FAULTS (none: no fault)     (default realistic)
  --rate N          the rehearsal room's admissions a minute (WR_ADMIT_PER_MINUTE)
                                                                                  (default 6000)
  --room-log FILE   where the rehearsal room's output goes   (default a file in the temp dir)
  --help            this text

Exit status: 0 every invariant held; 1 an invariant was broken; 2 bad options;
3 no invariant broken but some visitors never got a place (connection failures).
`;

interface OptionSpec {
  /** Property of {@link SimulationOptions} (or a pseudo one) the value goes to. */
  schema: v.GenericSchema<string, unknown>;
}

const number = (what: string, min: number, max: number, integer: boolean) =>
  v.pipe(
    v.string(),
    v.trim(),
    v.check(
      (s) => (integer ? /^-?\d+$/ : /^-?(\d+\.?\d*|\.\d+)(e-?\d+)?$/i).test(s),
      `must be ${integer ? 'a whole number' : 'a number'}`,
    ),
    v.transform(Number),
    v.number(),
    v.minValue(min, `${what} must be at least ${min}`),
    v.maxValue(max, `${what} must be at most ${max}`),
  );

const share = (what: string) =>
  v.pipe(
    v.string(),
    v.trim(),
    v.check((s) => /^(\d+\.?\d*|\.\d+)$/.test(s.replace(/^-/, '')), 'must be a number'),
    v.transform(Number),
    v.number(),
    v.minValue(0, `${what} must be a share between 0 and 1`),
    v.maxValue(1, `${what} must be a share between 0 and 1`),
  );

const wsUrl = v.pipe(
  v.string(),
  v.trim(),
  v.check((s) => URL.canParse(s), 'must be an absolute URL such as ws://127.0.0.1:8080/ws'),
  v.check(
    (s) => URL.canParse(s) && /^wss?:$/.test(new URL(s).protocol),
    'must be a ws:// or wss:// URL (the simulator only speaks WebSocket)',
  ),
  v.check(
    (s) => URL.canParse(s) && !new URL(s).username && !new URL(s).password,
    'must not carry credentials',
  ),
);

const httpUrl = v.pipe(
  v.string(),
  v.trim(),
  v.check((s) => URL.canParse(s), 'must be an absolute URL'),
  v.check(
    (s) => URL.canParse(s) && /^https?:$/.test(new URL(s).protocol),
    'must be an http:// or https:// URL',
  ),
);

const file = v.pipe(v.string(), v.trim(), v.minLength(1, 'needs a file name'));

const specs = {
  url: { schema: wsUrl },
  users: { schema: number('--users', 1, MAX_USERS, true) },
  burst: { schema: number('--burst', 0, MAX_USERS, true) },
  ramp: { schema: number('--ramp', 0, 24 * 3600, false) },
  churn: { schema: share('--churn') },
  abandon: { schema: share('--abandon') },
  recheck: { schema: share('--recheck') },
  duration: { schema: number('--duration', 1, 7 * 24 * 3600, false) },
  json: { schema: file },
  html: { schema: file },
  workers: { schema: number('--workers', 0, 64, true) },
  jwks: { schema: httpUrl },
  sources: { schema: number('--sources', 1, 250, true) },
  grace: { schema: number('--grace', 1, 24 * 3600, false) },
  seed: { schema: number('--seed', 0, 2 ** 32 - 1, true) },
  progress: {
    schema: v.picklist(['auto', 'bar', 'lines', 'none'], 'must be auto, bar, lines or none'),
  },
  prequeue: { schema: number('--prequeue', 1, 24 * 3600, false) },
  // The room's own bound: a higher cost would be refused by its admin endpoint.
  pow: { schema: number('--pow', 1, MAX_POW_COST, true) },
  replay: { schema: share('--replay') },
  'reply-timeout': { schema: number('--reply-timeout', 1, 3600, false) },
  'connect-timeout': { schema: number('--connect-timeout', 1, 3600, false) },
  rehearsal: { schema: v.pipe(v.string(), v.empty('takes no value')) },
  faults: { schema: v.pipe(v.string(), v.trim()) },
  rate: { schema: number('--rate', 0, 1_000_000, true) },
  'room-log': { schema: file },
} satisfies Record<string, OptionSpec>;

type OptionName = keyof typeof specs;

/** Options whose value may be left out (`--prequeue` alone): read as the empty string. */
const OPTIONAL_VALUES: ReadonlySet<OptionName> = new Set(['prequeue', 'pow']);
/** Options that never take a value (the next word is never theirs). */
const FLAGS: ReadonlySet<OptionName> = new Set(['rehearsal']);
/** Options of a rehearsal only. */
const REHEARSAL_ONLY: readonly OptionName[] = ['faults', 'rate', 'room-log'];

function isOptionName(name: string): name is OptionName {
  return Object.hasOwn(specs, name);
}

/** The parsed command line: options, a rehearsal's, or a request for the usage text. */
export type ParsedArgs =
  | { help: true }
  | { help: false; options: SimulationOptions; rehearsal: null }
  | { help: false; options: null; rehearsal: RehearsalInput };

/**
 * Reads the simulator's arguments. Throws {@link OptionsError} naming the option and what is
 * wrong with it.
 */
export function parseSimulateArgs(argv: readonly string[]): ParsedArgs {
  const raw = new Map<OptionName, string>();
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] as string;
    if (arg === '--help' || arg === '-h') return { help: true };
    if (!arg.startsWith('--')) throw new OptionsError(`unexpected argument "${arg}"`);
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    if (!isOptionName(name)) {
      throw new OptionsError(`unknown option --${name} (see --help)`);
    }
    let value: string | undefined;
    if (eq !== -1) {
      value = arg.slice(eq + 1);
    } else if (FLAGS.has(name)) {
      value = '';
    } else if (
      OPTIONAL_VALUES.has(name) &&
      (argv[i + 1] === undefined || argv[i + 1]?.startsWith('--'))
    ) {
      value = '';
    } else {
      // The next word is the value even when it starts with a dash, so that `--users -5` is
      // refused for being negative rather than for being missing.
      value = argv[i + 1];
      i += 1;
    }
    if (value === undefined) throw new OptionsError(`--${name} needs a value`);
    if (raw.has(name)) throw new OptionsError(`--${name} is given twice`);
    raw.set(name, value);
  }
  if (raw.has('rehearsal')) {
    return { help: false, options: null, rehearsal: resolveRehearsal(raw) };
  }
  for (const name of REHEARSAL_ONLY) {
    if (raw.has(name)) throw new OptionsError(`--${name} is for --rehearsal only`);
  }
  return { help: false, options: resolveOptions(raw), rehearsal: null };
}

/** Reads `--faults` as `WR_AWS_FAULTS` would be read (`none`: no fault). */
function faultsOf(value: string): string {
  const list = value.trim() === 'none' ? '' : value.trim();
  try {
    parseAwsFaults(list);
  } catch (error) {
    if (error instanceof FaultsError) throw new OptionsError(`--faults: ${error.message}`);
    throw error;
  }
  return list;
}

function resolveRehearsal(raw: ReadonlyMap<OptionName, string>): RehearsalInput {
  read(raw, 'rehearsal');
  for (const name of ['url', 'jwks'] as const) {
    if (raw.has(name)) {
      throw new OptionsError(
        `--${name} is not for --rehearsal: it starts its own room (npm run start:aws-local)`,
      );
    }
  }
  const users = read(raw, 'users');
  if (users === undefined) {
    throw new OptionsError('--users is required (how many visitors to play)');
  }
  const faults = raw.get('faults');
  const input: RehearsalInput = {
    users,
    burst: read(raw, 'burst'),
    rampSeconds: read(raw, 'ramp'),
    churn: read(raw, 'churn'),
    abandon: read(raw, 'abandon'),
    recheck: read(raw, 'recheck'),
    durationSeconds: read(raw, 'duration'),
    jsonFile: read(raw, 'json') ?? null,
    htmlFile: read(raw, 'html') ?? null,
    workers: read(raw, 'workers'),
    sourceAddresses: read(raw, 'sources'),
    graceSeconds: read(raw, 'grace'),
    seed: read(raw, 'seed'),
    progress: read(raw, 'progress') as ProgressMode | undefined,
    prequeue: raw.has('prequeue'),
    opensAfterSeconds: read(raw, 'prequeue') ?? null,
    pow: raw.has('pow'),
    powCost: read(raw, 'pow') ?? null,
    replay: read(raw, 'replay'),
    replyTimeoutSeconds: read(raw, 'reply-timeout'),
    connectTimeoutSeconds: read(raw, 'connect-timeout'),
    faults: faults === undefined ? undefined : faultsOf(faults),
    ratePerMinute: read(raw, 'rate'),
    roomLogFile: read(raw, 'room-log') ?? null,
  };
  // Every check of a plain run, on a stand-in address.
  rehearsalDefaultsFor(input);
  return input;
}

/**
 * A rehearsal's simulation (against `url`, the room it started) and room settings, with the
 * rehearsal's defaults: churn 0.1, a fifth of the visitors in the burst, AWS's limits on.
 */
export function rehearsalDefaultsFor(
  input: RehearsalInput,
  url = 'ws://127.0.0.1:8080/ws',
): { options: SimulationOptions; room: RehearsalRoomSettings } {
  const { faults, ratePerMinute, roomLogFile, ...simulation } = input;
  const options = defaultsFor({
    ...simulation,
    url,
    // The default churn leaves room for whatever --abandon asks.
    churn:
      simulation.churn ??
      Math.max(0, Math.min(REHEARSAL_DEFAULTS.churn, 1 - (simulation.abandon ?? 0))),
    burst: simulation.burst ?? Math.round(simulation.users * REHEARSAL_DEFAULTS.burstShare),
  });
  if (
    ratePerMinute !== undefined &&
    !(Number.isInteger(ratePerMinute) && ratePerMinute >= 0 && ratePerMinute <= 1_000_000)
  ) {
    throw new OptionsError(
      `--rate must be a whole number from 0 to 1000000 (got ${ratePerMinute})`,
    );
  }
  return {
    options,
    room: {
      faults: faults === undefined ? REHEARSAL_DEFAULTS.faults : faultsOf(faults),
      ratePerMinute: ratePerMinute ?? REHEARSAL_DEFAULTS.ratePerMinute,
      roomLogFile: roomLogFile ?? null,
    },
  };
}

function read<N extends OptionName>(
  raw: ReadonlyMap<OptionName, string>,
  name: N,
): v.InferOutput<(typeof specs)[N]['schema']> | undefined {
  const value = raw.get(name);
  if (value === undefined || (value === '' && OPTIONAL_VALUES.has(name))) return undefined;
  const result = v.safeParse(specs[name].schema as v.GenericSchema<string, unknown>, value);
  if (!result.success) {
    const message = result.issues[0]?.message ?? 'is not valid';
    const text = message.startsWith(`--${name}`) ? message : `--${name} ${message}`;
    throw new OptionsError(`${text} (got "${value}")`);
  }
  return result.output as v.InferOutput<(typeof specs)[N]['schema']>;
}

function resolveOptions(raw: ReadonlyMap<OptionName, string>): SimulationOptions {
  const url = read(raw, 'url');
  if (url === undefined)
    throw new OptionsError("--url is required (the room's ws:// or wss:// address)");
  const users = read(raw, 'users');
  if (users === undefined)
    throw new OptionsError('--users is required (how many visitors to play)');
  const churn = read(raw, 'churn') ?? 0;
  const abandon = read(raw, 'abandon') ?? 0;
  if (churn + abandon > 1) {
    throw new OptionsError(
      `--churn and --abandon together must not exceed 1 (got ${churn} + ${abandon})`,
    );
  }
  return defaultsFor({
    url,
    users,
    burst: read(raw, 'burst'),
    rampSeconds: read(raw, 'ramp'),
    churn,
    abandon,
    recheck: read(raw, 'recheck'),
    durationSeconds: read(raw, 'duration'),
    jsonFile: read(raw, 'json') ?? null,
    htmlFile: read(raw, 'html') ?? null,
    workers: read(raw, 'workers'),
    jwksUrl: read(raw, 'jwks'),
    sourceAddresses: read(raw, 'sources'),
    graceSeconds: read(raw, 'grace'),
    seed: read(raw, 'seed'),
    progress: read(raw, 'progress') as ProgressMode | undefined,
    prequeue: raw.has('prequeue'),
    opensAfterSeconds: read(raw, 'prequeue') ?? null,
    pow: raw.has('pow'),
    powCost: read(raw, 'pow') ?? null,
    replay: read(raw, 'replay'),
    replyTimeoutSeconds: read(raw, 'reply-timeout'),
    connectTimeoutSeconds: read(raw, 'connect-timeout'),
  });
}

/** What a caller of {@link defaultsFor} must give; everything else has a default. */
export type SimulationInput = Pick<SimulationOptions, 'url' | 'users'> & {
  [K in Exclude<keyof SimulationOptions, 'url' | 'users'>]?: SimulationOptions[K] | undefined;
};

/**
 * Fills in the defaults and checks what the schemas cannot see alone. Programmatic callers
 * ({@link runSimulation}) go through here too.
 */
export function defaultsFor(input: SimulationInput): SimulationOptions {
  const checked = v.safeParse(wsUrl, input.url);
  if (!checked.success) {
    throw new OptionsError(`--url ${checked.issues[0]?.message} (got "${input.url}")`);
  }
  const users = input.users;
  if (!Number.isInteger(users) || users < 1 || users > MAX_USERS) {
    throw new OptionsError(`--users must be a whole number from 1 to ${MAX_USERS} (got ${users})`);
  }
  const burst = input.burst ?? 0;
  if (!Number.isInteger(burst) || burst < 0 || burst > users) {
    throw new OptionsError(
      `--burst must be a whole number from 0 to --users (${users}) (got ${burst})`,
    );
  }
  for (const [name, value] of [
    ['churn', input.churn],
    ['abandon', input.abandon],
    ['recheck', input.recheck],
  ] as const) {
    if (value !== undefined && !(value >= 0 && value <= 1)) {
      throw new OptionsError(`--${name} must be a share between 0 and 1 (got ${value})`);
    }
  }
  const churn = input.churn ?? 0;
  const abandon = input.abandon ?? 0;
  if (churn + abandon > 1) {
    throw new OptionsError(
      `--churn and --abandon together must not exceed 1 (got ${churn} + ${abandon})`,
    );
  }
  const url = new URL(input.url);
  for (const [name, value] of [
    ['reply-timeout', input.replyTimeoutSeconds],
    ['connect-timeout', input.connectTimeoutSeconds],
  ] as const) {
    if (value !== undefined && !(value >= 1 && value <= 3600)) {
      throw new OptionsError(`--${name} must be from 1 to 3600 seconds (got ${value})`);
    }
  }
  if (input.replay !== undefined && !(input.replay >= 0 && input.replay <= 1)) {
    throw new OptionsError(`--replay must be a share between 0 and 1 (got ${input.replay})`);
  }
  if (
    input.powCost != null &&
    !(Number.isInteger(input.powCost) && input.powCost >= 1 && input.powCost <= MAX_POW_COST)
  ) {
    throw new OptionsError(
      `--pow must be a whole number from 1 to ${MAX_POW_COST} (got ${input.powCost})`,
    );
  }
  if ((input.replay ?? 0) > 0 && !(input.pow ?? input.powCost != null)) {
    throw new OptionsError('--replay needs --pow (only a proof of work can be replayed)');
  }
  if (!isLoopbackHost(url)) {
    if (input.opensAfterSeconds != null) {
      throw new OptionsError(
        '--prequeue S schedules the opening, which only a room on this machine lets the simulator do: against a remote room, schedule it (npm run room -- schedule ...) and give --prequeue alone',
      );
    }
    if (input.powCost != null) {
      throw new OptionsError(
        '--pow COST sets the cost of a room on this machine only: against a remote room, set it (npm run room -- pow ...) and give --pow alone',
      );
    }
  }
  return {
    url: url.href,
    users,
    burst,
    rampSeconds: input.rampSeconds ?? 10,
    churn,
    abandon,
    recheck: input.recheck ?? 0.05,
    durationSeconds: input.durationSeconds ?? 600,
    jsonFile: input.jsonFile ?? null,
    htmlFile: input.htmlFile ?? null,
    workers: input.workers ?? Math.ceil(users / SOCKETS_PER_WORKER),
    jwksUrl: input.jwksUrl ?? jwksUrlFor(url),
    sourceAddresses: input.sourceAddresses ?? Math.ceil(users / VISITORS_PER_SOURCE_ADDRESS),
    graceSeconds: input.graceSeconds ?? 120,
    seed: input.seed ?? Math.floor(Math.random() * 2 ** 32),
    progress: input.progress ?? 'auto',
    prequeue: input.prequeue ?? input.opensAfterSeconds != null,
    opensAfterSeconds: input.opensAfterSeconds ?? null,
    pow: input.pow ?? input.powCost != null,
    powCost: input.powCost ?? null,
    replay: input.replay ?? 0,
    replyTimeoutSeconds: input.replyTimeoutSeconds ?? 20,
    connectTimeoutSeconds: input.connectTimeoutSeconds ?? 10,
  };
}

/** The JWKS address of the room a WebSocket URL points at: same host, http(s). */
export function jwksUrlFor(wsUrlValue: URL | string): string {
  const url = new URL(wsUrlValue);
  const scheme = url.protocol === 'wss:' ? 'https:' : 'http:';
  return `${scheme}//${url.host}/.well-known/jwks.json`;
}

/**
 * The origin of a local room's loopback-only admin endpoint, on the WebSocket's host (called
 * with `adminFetch`, which brings the room's secret).
 */
export function adminBaseFor(wsUrlValue: URL | string): string {
  const url = new URL(wsUrlValue);
  const scheme = url.protocol === 'wss:' ? 'https:' : 'http:';
  return `${scheme}//${url.host}`;
}

/** Whether the URL's host is this machine by address (127.0.0.0/8, ::1 or localhost). */
export function isLoopbackHost(wsUrlValue: URL | string): boolean {
  const host = new URL(wsUrlValue).hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/**
 * Source addresses to connect from, one per slot: 127.0.0.2, 127.0.0.3, ... Only ever for a
 * room on an IPv4 loopback address (or `localhost`, then reached over IPv4); a remote room, or
 * one on ::1, always gets the system's choice (an empty list).
 */
export function sourceAddressesFor(wsUrlValue: URL | string, count: number): string[] {
  if (count <= 1 || !isLoopbackHost(wsUrlValue)) return [];
  const host = new URL(wsUrlValue).hostname.toLowerCase();
  if (host === '[::1]' || host === '::1') return [];
  return Array.from({ length: Math.min(count, 250) }, (_, i) => `127.0.0.${i + 2}`);
}
