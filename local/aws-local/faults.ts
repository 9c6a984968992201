/**
 * AWS's limits and faults for `npm run start:aws-local`, switched on by name with
 * `WR_AWS_FAULTS`: the stand-ins (dynalite, fauxqs, the SSM, Lambda and API Gateway stand-ins)
 * are kinder than AWS, which hides what breaks a launch. Each fault makes one of them behave as
 * AWS does at its limit, at AWS's published figure or at a figure the operator gives (a test
 * scales a quota down to what two cores can reach).
 *
 * `WR_AWS_FAULTS` is a comma-separated list of `name` (AWS's figure) or `name=value`;
 * `realistic` switches every fault on at AWS's figures, and a later `name=value` overrides one
 * of them (`realistic,apigw-rate=200`). Empty or unset: none (the stand-ins as they are).
 *
 * The figures and their sources are in the README ("AWS's limits in the rehearsal"); each
 * fault is counted where it strikes ({@link FaultCounters}) and reported in the usage.
 */

/** Every fault by name: its unit, AWS's figure, and what it does. */
export const AWS_FAULTS = {
  'clock-skew': {
    unit: 'ms',
    aws: 200,
    min: 1,
    max: 60_000,
    what: "each container's clock is off by half this much to all of it, either way",
  },
  'index-lag': {
    unit: 'ms',
    aws: 1000,
    min: 1,
    max: 60_000,
    what: "a write reaches the `line` index up to this much later (DynamoDB's global secondary indexes are eventually consistent)",
  },
  'dynamo-partition': {
    unit: 'write units/s',
    aws: 1000,
    min: 1,
    max: 1_000_000,
    what: 'write units a second one partition key takes (read units: three times as many), beyond which DynamoDB answers ProvisionedThroughputExceededException',
  },
  'dynamo-table': {
    unit: 'write units/s',
    aws: 4000,
    min: 1,
    max: 10_000_000,
    what: 'write units a second a new on-demand table takes at first (read units: three times as many), beyond which it answers ThrottlingException',
  },
  'sqs-rate': {
    unit: 'requests/s',
    aws: 300,
    min: 1,
    max: 1_000_000,
    what: 'requests a second, per API action, one partition of a high-throughput FIFO queue takes (a batch of up to 10 is one request: 3,000 messages/s); SendMessage counts per message group (each group a partition of its own), ReceiveMessage and DeleteMessageBatch per queue (a queue of one partition, as a new one starts), beyond which SQS answers RequestThrottled',
  },
  'ssm-rate': {
    unit: 'requests/s',
    aws: 40,
    min: 1,
    max: 100_000,
    what: "GetParameter, GetParameters and GetParametersByPath calls a second the account takes at Parameter Store's default (standard) throughput, shared by the three, beyond which SSM answers ThrottlingException (Rate exceeded)",
  },
  'apigw-rate': {
    unit: 'requests/s',
    aws: 10_000,
    min: 1,
    max: 1_000_000,
    what: "requests a second the account's API Gateway takes across its APIs, WebSocket frames from visitors and @connections calls together, with a burst of half a second's worth (AWS: 5,000), beyond which a frame is not handled (the visitor hears API Gateway's error) and an @connections call answers 429 LimitExceededException",
  },
  'apigw-connections': {
    unit: 'connections/s',
    aws: 500,
    min: 1,
    max: 1_000_000,
    what: 'new WebSocket connections a second the account takes across its WebSocket APIs, beyond which the handshake is refused with 429',
  },
  'lambda-concurrency': {
    unit: 'invocations at once',
    aws: 1000,
    min: 1,
    max: 100_000,
    what: "invocations at once across the account's functions: a synchronous one beyond it is throttled (the visitor gets API Gateway's error), an asynchronous one waits in Lambda's queue and is dropped past the function's event age",
  },
  'cold-start': {
    unit: 'ms',
    aws: 600,
    min: 1,
    max: 60_000,
    what: "a new container's initialisation takes this much longer than loading the code here (half of it fixed, half at random)",
  },
} as const satisfies Record<
  string,
  { unit: string; aws: number; min: number; max: number; what: string }
>;

export type AwsFaultName = keyof typeof AWS_FAULTS;
/** The faults switched on, each with its figure. */
export type AwsFaults = Partial<Record<AwsFaultName, number>>;

export const FAULT_NAMES = Object.keys(AWS_FAULTS) as AwsFaultName[];

/** `WR_AWS_FAULTS` could not be read: the message says which entry and why. */
export class FaultsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FaultsError';
  }
}

function isFaultName(name: string): name is AwsFaultName {
  return Object.hasOwn(AWS_FAULTS, name);
}

/** Reads `WR_AWS_FAULTS`'s value; throws {@link FaultsError} naming the entry it cannot read. */
export function parseAwsFaults(raw: string | undefined): AwsFaults {
  const faults: AwsFaults = {};
  for (const entry of (raw ?? '').split(',')) {
    const item = entry.trim();
    if (!item) continue;
    if (item === 'realistic') {
      for (const name of FAULT_NAMES) faults[name] = AWS_FAULTS[name].aws;
      continue;
    }
    const [name = '', value, ...rest] = item.split('=');
    if (!isFaultName(name)) {
      throw new FaultsError(
        `unknown fault "${name}" (known: realistic, ${FAULT_NAMES.join(', ')})`,
      );
    }
    const { min, max, unit } = AWS_FAULTS[name];
    if (value === undefined) {
      faults[name] = AWS_FAULTS[name].aws;
      continue;
    }
    const figure = Number(value);
    if (rest.length > 0 || !/^\d+$/.test(value) || figure < min || figure > max) {
      throw new FaultsError(
        `${name}=${[value, ...rest].join('=')}: give a whole number of ${unit} from ${min} to ${max}`,
      );
    }
    faults[name] = figure;
  }
  return faults;
}

/** The faults as `WR_AWS_FAULTS` would name them (for the start banner and reports). */
export function describeAwsFaults(faults: AwsFaults): string {
  const on = FAULT_NAMES.filter((name) => faults[name] !== undefined);
  if (on.length === 0) return 'none';
  return on.map((name) => `${name}=${faults[name]}`).join(',');
}

/** How often each fault struck, by a name of the form `<service>.<what>`. */
export type FaultCounters = Record<string, number>;

export function countFault(counters: FaultCounters, name: string, by = 1): void {
  counters[name] = (counters[name] ?? 0) + by;
}

/**
 * A limit of `perSecond` requests (or units) a second, as AWS's token buckets hold them: up to
 * `burst` at once (one second's worth unless given). `take` says whether `amount` fits now, and
 * takes it if so.
 */
export class RateLimit {
  #tokens: number;
  #at: number;
  constructor(
    readonly perSecond: number,
    private readonly now: () => number = () => performance.now(),
    readonly burst: number = perSecond,
  ) {
    this.#tokens = burst;
    this.#at = now();
  }

  take(amount = 1): boolean {
    const now = this.now();
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#at) / 1000) * this.perSecond);
    this.#at = now;
    if (this.#tokens < amount) return false;
    this.#tokens -= amount;
    return true;
  }
}

/** A number in [-1, 1), for skews and delays spread at random. */
export function spread(random: () => number = Math.random): number {
  return random() * 2 - 1;
}
