/**
 * DynamoDB at AWS's limits for `npm run start:aws-local` (`WR_AWS_FAULTS`): a loopback proxy
 * speaking DynamoDB's JSON protocol (`X-Amz-Target: DynamoDB_20120810.<Action>`) in front of
 * dynalite, which has no limits and whose indexes are always up to date. The functions' SDK
 * clients talk to the proxy; the operator's reads go to dynalite directly. Requests pass through
 * byte for byte (over a keep-alive agent) unless a fault changes them:
 *
 * - `dynamo-partition` (N write units a second per partition key) and `dynamo-table` (N for the
 *   table, and as many for each of its indexes): each request is billed in request units as
 *   DynamoDB bills them (a write: 1 unit per started KB of the item, twice in a transaction; a
 *   read: 1 unit per started 4 KB strongly consistent, half eventually consistent, twice in a
 *   transaction; a batch per item) and taken from one token bucket per partition key (the
 *   table's or the index's hash key value) and one per table or index, each holding N write
 *   units or 3N read units a second, "or a linear combination of both" (a write unit takes three
 *   read units). Over a partition's limit DynamoDB answers `ProvisionedThroughputExceededException`,
 *   over the table's `ThrottlingException`; the SDK retries both as throttling. A batch item
 *   over the limit comes back unprocessed (`UnprocessedItems`, `UnprocessedKeys`), and the whole
 *   batch is refused only when none of it fits, as DynamoDB does. A Query or Scan is billed by
 *   the size of its answer: one unit before, the rest after (a debt the bucket pays back before
 *   anything else passes). A write whose answer reports more units than estimated (the item
 *   before it was larger) pays the difference the same way.
 * - `index-lag` (ms, the most): a global secondary index is eventually consistent. Each write
 *   draws its lag (uniform up to the figure) and reaches the index that much after it was
 *   answered (the writes of one item in order); until then a Query on the index shows the item as
 *   it was before the write: absent if it was not in the index (or never seen), else with the
 *   previous image, in the partition and place that image has (so an item moved out of the index
 *   or deleted still shows there until its lag has passed).
 *
 * What is approximated: the items' images come from the writes themselves (a PutItem's item, a
 * DeleteItem's absence, an UpdateItem's new image, asked for with `ReturnValues: ALL_NEW` when the
 * caller asked for none and left out of its answer again) and from earlier answers of the index;
 * an image the proxy cannot know (an update with another `ReturnValues`, an update in a
 * transaction, a write that bypassed the proxy) counts as not in the index while a later write
 * lags. A stale image is shown whole (the room's index projects every attribute), without a
 * `FilterExpression` or `ProjectionExpression` applied to it; a page may hold a few more items
 * than its `Limit`; a `Select: COUNT` Query and a Scan of the index are answered up to date.
 * Batch writes and transactions are billed from the request alone (an item's size as written,
 * not as it was), a `Select: COUNT` Query by its first unit; the index's own partitions take the
 * reads of the index, not the writes that reach it. The table's limit is AWS's initial figure
 * for a new on-demand table; AWS doubles it as the traffic grows over half an hour, which a
 * rehearsal of minutes does not reach.
 */
import { randomBytes } from 'node:crypto';
import {
  Agent,
  request as httpRequest,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { crc32 } from 'node:zlib';
import { ROOM_TABLE } from '../../functions/adapters/aws/resource-definitions.ts';
import { type AwsFaults, countFault, type FaultCounters, RateLimit } from './faults.ts';
import { listenStandIn, readRequestBody } from './http-stand-in.ts';

/** The faults this proxy plays. */
export const DYNAMO_FAULTS = ['index-lag', 'dynamo-partition', 'dynamo-table'] as const;

/** Whether `faults` switch on any of {@link DYNAMO_FAULTS}. */
export function playsDynamoFaults(faults: AwsFaults): boolean {
  return DYNAMO_FAULTS.some((name) => faults[name] !== undefined);
}

export interface DynamoFaultProxyOptions {
  /** The DynamoDB endpoint behind the proxy (dynalite). */
  target: string;
  faults: AwsFaults;
  /** Where each fault is counted when it strikes. */
  counters: FaultCounters;
  /** Milliseconds, for the buckets and the lags (a test may pass its own). */
  now?: () => number;
  /** Each write's lag is `random() * index-lag`. */
  random?: () => number;
}

export interface DynamoFaultProxy {
  /** `http://127.0.0.1:<port>`, for the functions' `AWS_ENDPOINT_URL_DYNAMODB`. */
  endpoint: string;
  close(): Promise<void>;
}

const TARGET_PREFIX = 'DynamoDB_20120810.';
const CONTENT_TYPE = 'application/x-amz-json-1.0';
/** DynamoDB's largest request (a BatchWriteItem of 25 items of 400 KB is below it). */
const MAX_REQUEST_BYTES = 16 * 1024 * 1024;
/** A write unit takes as much of a bucket as this many read units (3,000 read or 1,000 write). */
const READS_PER_WRITE = 3;
/** Buckets of partitions nobody used for this long are full again: forgotten. */
const IDLE_BUCKET_MS = 5000;
/** Not forwarded: they describe one connection, not the request. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

const PROVISIONED_THROUGHPUT_EXCEEDED =
  'com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException';
/** DynamoDB's on-demand throttling comes from its service framework's namespace. */
const THROTTLING = 'com.amazon.coral.availability#ThrottlingException';

/** An attribute value in DynamoDB's JSON (`{ "S": "..." }`, `{ "N": "1" }`, ...). */
type AttributeValue = Record<string, unknown>;
type Item = Record<string, AttributeValue>;
type Json = Record<string, unknown>;

export async function startDynamoFaultProxy(
  options: DynamoFaultProxyOptions,
): Promise<DynamoFaultProxy> {
  const now = options.now ?? (() => performance.now());
  const random = options.random ?? Math.random;
  const { faults, counters } = options;
  const target = new URL(options.target);
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const limits =
    faults['dynamo-partition'] !== undefined || faults['dynamo-table'] !== undefined
      ? new Limits(faults['dynamo-partition'], faults['dynamo-table'], now)
      : null;
  const lag =
    faults['index-lag'] !== undefined ? new IndexLag(faults['index-lag'], now, random) : null;
  const exchange = (req: IncomingMessage, body: Buffer) => forward(target, agent, req, body);

  const server = await listenStandIn(
    0,
    async (req, res) => {
      const body = await readRequestBody(req, MAX_REQUEST_BYTES);
      const header = req.headers['x-amz-target'];
      const action =
        typeof header === 'string' && header.startsWith(TARGET_PREFIX)
          ? header.slice(TARGET_PREFIX.length)
          : '';
      const handler = HANDLERS[action];
      let input: Json | undefined;
      if (handler) {
        try {
          input = JSON.parse(body.toString('utf8')) as Json;
        } catch {
          input = undefined;
        }
      }
      if (!handler || !input || typeof input !== 'object') {
        reply(res, await exchange(req, body));
        return;
      }
      await handler({ req, res, body, input, limits, lag, counters, exchange });
    },
    CONTENT_TYPE,
  );
  return {
    endpoint: server.url,
    async close() {
      await server.close();
      agent.destroy();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Forwarding

interface Answer {
  statusCode: number;
  /** As received, names and values in turn. */
  rawHeaders: string[];
  body: Buffer;
}

/** Sends `body` to DynamoDB with the request's headers (hop-by-hop ones left out). */
function forward(target: URL, agent: Agent, req: IncomingMessage, body: Buffer): Promise<Answer> {
  const headers: [string, string][] = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i] as string;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || lower === 'content-length') continue;
    headers.push([name, req.rawHeaders[i + 1] as string]);
  }
  headers.push(['Content-Length', String(body.length)]);
  return new Promise((resolve, reject) => {
    const upstream = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: headers.flat(),
        agent,
      },
      (answer) => {
        const parts: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => parts.push(chunk));
        answer.on('error', reject);
        answer.on('end', () =>
          resolve({
            statusCode: answer.statusCode ?? 500,
            rawHeaders: answer.rawHeaders,
            body: Buffer.concat(parts),
          }),
        );
      },
    );
    upstream.on('error', reject);
    upstream.end(body);
  });
}

/**
 * Answers with DynamoDB's answer: as it came, or with `changed` as its body (its length and
 * CRC32 recomputed, which the SDK may check).
 */
function reply(res: ServerResponse, answer: Answer, changed?: Json): void {
  const body = changed ? Buffer.from(JSON.stringify(changed)) : answer.body;
  const headers: string[] = [];
  for (let i = 0; i < answer.rawHeaders.length; i += 2) {
    const name = answer.rawHeaders[i] as string;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || lower === 'content-length') continue;
    if (changed && lower === 'x-amz-crc32') continue;
    headers.push(name, answer.rawHeaders[i + 1] as string);
  }
  if (changed) headers.push('x-amz-crc32', String(crc32(body)));
  headers.push('Content-Length', String(body.length));
  res.writeHead(answer.statusCode, headers);
  res.end(body);
}

/** Answers as DynamoDB does when a request is throttled. */
function sendError(res: ServerResponse, type: string, message: string, extra: Json = {}): void {
  const body = Buffer.from(JSON.stringify({ __type: type, message, ...extra }));
  res.writeHead(400, {
    'Content-Type': CONTENT_TYPE,
    'Content-Length': String(body.length),
    'x-amzn-RequestId': randomBytes(39).toString('base64').toUpperCase().replace(/[+/]/g, '0'),
    'x-amz-crc32': String(crc32(body)),
  });
  res.end(body);
}

type Refusal = 'partition' | 'table';

/** Counts a request (or a batch item) refused by `refusal`. */
function countRefusal(counters: FaultCounters, refusal: Refusal): void {
  countFault(
    counters,
    refusal === 'partition' ? 'dynamodb.partition-throttled' : 'dynamodb.table-throttled',
  );
}

/** Answers a request refused by `refusal` as DynamoDB does. */
function sendRefusal(res: ServerResponse, refusal: Refusal, table: string, write: boolean): void {
  if (refusal === 'table') {
    sendError(res, THROTTLING, 'Rate of requests exceeds the allowed throughput.');
    return;
  }
  sendError(
    res,
    PROVISIONED_THROUGHPUT_EXCEEDED,
    'Throughput exceeds the current capacity for one or more partitions of your table or index; check for a hot key.',
    {
      ThrottlingReasons: [
        {
          reason: `Table${write ? 'Write' : 'Read'}KeyRangeThroughputExceeded`,
          resource: `arn:aws:dynamodb:us-east-1:000000000000:table/${table}`,
        },
      ],
    },
  );
}

/** Counts and answers a refused request. */
function refuse(
  ctx: { res: ServerResponse; counters: FaultCounters },
  refusal: Refusal,
  table: string,
  write: boolean,
): void {
  countRefusal(ctx.counters, refusal);
  sendRefusal(ctx.res, refusal, table, write);
}

// ---------------------------------------------------------------------------------------------
// Sizes and units, as DynamoDB bills them

const utf8 = (text: unknown) => Buffer.byteLength(String(text), 'utf8');

/** A number's size: about one byte per two significant digits, plus one. */
function numberBytes(text: unknown): number {
  const digits = String(text)
    .replace(/^[-+]/, '')
    .replace(/[eE].*$/, '')
    .replace('.', '')
    .replace(/^0+/, '')
    .replace(/0+$/, '');
  return Math.ceil(Math.max(1, digits.length) / 2) + 1;
}

const binaryBytes = (text: unknown) => Buffer.from(String(text), 'base64').length;

function valueBytes(value: AttributeValue | undefined): number {
  const [type, v] = Object.entries(value ?? {})[0] ?? ['NULL', true];
  switch (type) {
    case 'S':
      return utf8(v);
    case 'N':
      return numberBytes(v);
    case 'B':
      return binaryBytes(v);
    case 'SS':
      return (v as unknown[]).reduce<number>((sum, s) => sum + utf8(s), 0);
    case 'NS':
      return (v as unknown[]).reduce<number>((sum, n) => sum + numberBytes(n), 0);
    case 'BS':
      return (v as unknown[]).reduce<number>((sum, b) => sum + binaryBytes(b), 0);
    case 'L':
      return (v as AttributeValue[]).reduce<number>((sum, e) => sum + 1 + valueBytes(e), 3);
    case 'M':
      return Object.entries(v as Item).reduce<number>(
        (sum, [name, e]) => sum + 1 + utf8(name) + valueBytes(e),
        3,
      );
    default:
      return 1;
  }
}

/** An item's size: its attribute names and values. */
export function itemBytes(item: Item | undefined): number {
  let size = 0;
  for (const [name, value] of Object.entries(item ?? {})) size += utf8(name) + valueBytes(value);
  return size;
}

/** Write units of writing an item this size, in read units (a write unit is three). */
const writeCost = (bytes: number) => Math.max(1, Math.ceil(bytes / 1024)) * READS_PER_WRITE;
/** Read units of reading this much, strongly consistent or not. */
const readCost = (bytes: number, consistent: boolean) =>
  Math.max(1, Math.ceil(bytes / 4096)) * (consistent ? 1 : 0.5);

// ---------------------------------------------------------------------------------------------
// Keys

interface KeyNames {
  partitionKey: string;
  sortKey: string;
}

const TABLE_KEYS: KeyNames = ROOM_TABLE.keys;

function indexKeys(indexName: unknown): KeyNames | undefined {
  return ROOM_TABLE.indexes.find((index) => index.name === indexName)?.keys;
}

/** A value as a string that equal values share (attribute order aside). */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Json)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The item's primary key, as a string. */
const primaryKeyOf = (item: Item) =>
  canonical([item[TABLE_KEYS.partitionKey], item[TABLE_KEYS.sortKey]]);

/** Orders two values of one key attribute (strings, numbers, binary). */
function compareValues(a: AttributeValue | undefined, b: AttributeValue | undefined): number {
  if (a?.N !== undefined && b?.N !== undefined) return Number(a.N) - Number(b.N);
  if (a?.B !== undefined && b?.B !== undefined) {
    return Buffer.compare(Buffer.from(String(a.B), 'base64'), Buffer.from(String(b.B), 'base64'));
  }
  const x = String(a?.S ?? '');
  const y = String(b?.S ?? '');
  return x < y ? -1 : x > y ? 1 : 0;
}

/** What a Query's key condition names: its partition, and a test of the sort key. */
interface KeyCondition {
  partition: AttributeValue | undefined;
  sort: (value: AttributeValue | undefined) => boolean;
}

const SORT_TESTS: Record<string, (c: number) => boolean> = {
  '=': (c) => c === 0,
  EQ: (c) => c === 0,
  '<': (c) => c < 0,
  LT: (c) => c < 0,
  '<=': (c) => c <= 0,
  LE: (c) => c <= 0,
  '>': (c) => c > 0,
  GT: (c) => c > 0,
  '>=': (c) => c >= 0,
  GE: (c) => c >= 0,
};
const MIRRORED: Record<string, string> = { '<': '>', '<=': '>=', '>': '<', '>=': '<=', '=': '=' };

/**
 * Reads a Query's `KeyConditionExpression` (or legacy `KeyConditions`) against the keys it
 * queries. A condition it cannot read leaves the partition unknown or the sort key untested.
 */
function keyConditionOf(input: Json, keys: KeyNames): KeyCondition {
  const names = (input.ExpressionAttributeNames as Record<string, string>) ?? {};
  const values = (input.ExpressionAttributeValues as Item) ?? {};
  const name = (token: string) => (token.startsWith('#') ? names[token] : token);
  let partition: AttributeValue | undefined;
  const tests: ((value: AttributeValue | undefined) => boolean)[] = [];
  const onSort = (attribute: string | undefined, test: (v: AttributeValue) => boolean) => {
    if (attribute === keys.sortKey) tests.push((v) => v !== undefined && test(v));
  };
  const legacy = input.KeyConditions as
    | Record<string, { ComparisonOperator?: string; AttributeValueList?: AttributeValue[] }>
    | undefined;
  if (typeof input.KeyConditionExpression === 'string') {
    const clauses: string[] = [];
    for (const part of input.KeyConditionExpression.split(/\s+and\s+/i)) {
      const last = clauses.at(-1);
      if (last !== undefined && /\bbetween\s+:\w+\s*$/i.test(last)) {
        clauses[clauses.length - 1] = `${last} AND ${part}`;
      } else clauses.push(part);
    }
    for (const raw of clauses) {
      const clause = raw.trim().replace(/^\(\s*(.*?)\s*\)$/, '$1');
      const direct = /^([#\w.]+)\s*(=|<=|>=|<|>)\s*(:\w+)$/.exec(clause);
      const mirrored = /^(:\w+)\s*(=|<=|>=|<|>)\s*([#\w.]+)$/.exec(clause);
      const comparison = direct
        ? { attribute: direct[1], op: direct[2], value: direct[3] }
        : mirrored
          ? { attribute: mirrored[3], op: MIRRORED[mirrored[2] as string], value: mirrored[1] }
          : null;
      if (comparison) {
        const attribute = name(comparison.attribute as string);
        const value = values[comparison.value as string];
        const test = SORT_TESTS[comparison.op as string] as (c: number) => boolean;
        if (attribute === keys.partitionKey && comparison.op === '=') partition = value;
        else onSort(attribute, (v) => test(compareValues(v, value)));
        continue;
      }
      const between = /^([#\w.]+)\s+between\s+(:\w+)\s+and\s+(:\w+)$/i.exec(clause);
      if (between) {
        const low = values[between[2] as string];
        const high = values[between[3] as string];
        onSort(
          name(between[1] as string),
          (v) => compareValues(v, low) >= 0 && compareValues(v, high) <= 0,
        );
        continue;
      }
      const begins = /^begins_with\s*\(\s*([#\w.]+)\s*,\s*(:\w+)\s*\)$/i.exec(clause);
      if (begins) {
        const prefix = String(values[begins[2] as string]?.S ?? '');
        onSort(name(begins[1] as string), (v) => String(v.S ?? '').startsWith(prefix));
      }
    }
  } else if (legacy) {
    for (const [
      attribute,
      { ComparisonOperator: op = '', AttributeValueList: list = [] },
    ] of Object.entries(legacy)) {
      if (attribute === keys.partitionKey && op === 'EQ') partition = list[0];
      else if (op === 'BETWEEN') {
        onSort(attribute, (v) => compareValues(v, list[0]) >= 0 && compareValues(v, list[1]) <= 0);
      } else if (op === 'BEGINS_WITH') {
        onSort(attribute, (v) => String(v.S ?? '').startsWith(String(list[0]?.S ?? '')));
      } else if (SORT_TESTS[op]) {
        const test = SORT_TESTS[op];
        onSort(attribute, (v) => test(compareValues(v, list[0])));
      }
    }
  }
  return { partition, sort: (value) => tests.every((test) => test(value)) };
}

// ---------------------------------------------------------------------------------------------
// Throughput

/**
 * One token bucket ({@link RateLimit}) that can also be owed units: what a Query turned out to
 * cost beyond what it took, paid back before anything else passes, or given back (a refusal
 * elsewhere) as a credit.
 */
class Bucket {
  readonly #limit: RateLimit;
  #owed = 0;
  usedAt: number;
  constructor(
    perSecond: number,
    private readonly now: () => number,
  ) {
    this.#limit = new RateLimit(perSecond, now);
    this.usedAt = now();
  }

  get idle(): boolean {
    return this.#owed <= 0 && this.now() - this.usedAt > IDLE_BUCKET_MS;
  }

  /** Takes `units` (with what is owed) if they fit now; a second's worth at most at once. */
  take(units: number): boolean {
    this.usedAt = this.now();
    const need = units + this.#owed;
    if (need <= 0) {
      this.#owed = need;
      return true;
    }
    const part = Math.min(need, this.#limit.perSecond);
    if (!this.#limit.take(part)) return false;
    this.#owed = need - part;
    return true;
  }

  /** Owes `units` taken after the fact. */
  charge(units: number): void {
    this.usedAt = this.now();
    this.#owed += units;
  }

  /** Gives back `units` just taken. */
  refund(units: number): void {
    this.#owed -= units;
  }
}

/** A request's units on one partition key. */
interface Charge {
  /** The partition's bucket key ({@link Limits.partitionOf}); undefined: the table's alone. */
  partition: string | undefined;
  units: number;
}

/** The buckets of every table (or index) and partition key the proxy has seen lately. */
class Limits {
  readonly #tables = new Map<string, Bucket>();
  readonly #partitions = new Map<string, Bucket>();
  #sweptAt: number;
  constructor(
    private readonly partitionWrites: number | undefined,
    private readonly tableWrites: number | undefined,
    private readonly now: () => number,
  ) {
    this.#sweptAt = now();
  }

  /** The bucket key of a table's (or an index's) partition. */
  partitionOf(resource: string, value: AttributeValue | undefined): string | undefined {
    return value === undefined ? undefined : `${resource}\u0000${canonical(value)}`;
  }

  #bucket(map: Map<string, Bucket>, key: string, writes: number | undefined) {
    if (writes === undefined) return undefined;
    let bucket = map.get(key);
    if (!bucket) {
      bucket = new Bucket(writes * READS_PER_WRITE, this.now);
      map.set(key, bucket);
    }
    return bucket;
  }

  #sweep(): void {
    if (this.now() - this.#sweptAt < IDLE_BUCKET_MS) return;
    this.#sweptAt = this.now();
    for (const map of [this.#tables, this.#partitions]) {
      for (const [key, bucket] of map) if (bucket.idle) map.delete(key);
    }
  }

  /**
   * Takes `charges` from the resource's bucket (a table, or `table/index/name`) and each
   * partition's; takes nothing and says which refused when one does.
   */
  admit(resource: string, charges: readonly Charge[]): Refusal | null {
    this.#sweep();
    const perPartition = new Map<string | undefined, number>();
    for (const { partition, units } of charges) {
      perPartition.set(partition, (perPartition.get(partition) ?? 0) + units);
    }
    const total = charges.reduce((sum, c) => sum + c.units, 0);
    const table = this.#bucket(this.#tables, resource, this.tableWrites);
    if (table && !table.take(total)) return 'table';
    const taken: [Bucket, number][] = [];
    for (const [partition, units] of perPartition) {
      if (partition === undefined) continue;
      const bucket = this.#bucket(this.#partitions, partition, this.partitionWrites);
      if (!bucket) continue;
      if (!bucket.take(units)) {
        table?.refund(total);
        for (const [b, u] of taken) b.refund(u);
        return 'partition';
      }
      taken.push([bucket, units]);
    }
    return null;
  }

  /** Charges units found after the answer (a debt where they do not fit). */
  charge(resource: string, partition: string | undefined, units: number): void {
    if (units <= 0) return;
    this.#bucket(this.#tables, resource, this.tableWrites)?.charge(units);
    if (partition !== undefined) {
      this.#bucket(this.#partitions, partition, this.partitionWrites)?.charge(units);
    }
  }
}

const indexResource = (table: string, index: unknown) =>
  typeof index === 'string' ? `${table}/index/${index}` : table;

// ---------------------------------------------------------------------------------------------
// Index lag

/** An item as the index holds it; null: not in the index (absent, or without its keys). */
type Image = Item | null;

interface Version {
  /** When the write reaches the index; Infinity while DynamoDB has not answered it. */
  visibleAt: number;
  /** The item after the write; undefined: not known. */
  image: Image | undefined;
}

interface Entry {
  /** What the index shows before the first of `versions` (undefined: not known). */
  base: Image | undefined;
  /** Writes not yet in the index, in the order they were made. */
  versions: Version[];
}

interface Tracked {
  table: string;
  key: string;
  version: Version;
}

/** The image an item has in some index, or null if it is in none (a sparse index). */
function indexImage(item: Item | null | undefined): Image {
  if (!item) return null;
  const inIndex = ROOM_TABLE.indexes.some(
    (index) =>
      item[index.keys.partitionKey] !== undefined && item[index.keys.sortKey] !== undefined,
  );
  return inIndex ? item : null;
}

/** What the indexes of every table show: the items whose last writes have not reached them. */
class IndexLag {
  readonly #tables = new Map<string, { entries: Map<string, Entry>; lagging: Set<string> }>();
  constructor(
    private readonly maxMs: number,
    private readonly now: () => number,
    private readonly random: () => number,
  ) {}

  #table(table: string) {
    let state = this.#tables.get(table);
    if (!state) {
      state = { entries: new Map(), lagging: new Set() };
      this.#tables.set(table, state);
    }
    return state;
  }

  /** A write of the item with `key` goes to DynamoDB. */
  track(table: string, key: Item | undefined, image: Image | undefined): Tracked | null {
    if (!key || key[TABLE_KEYS.partitionKey] === undefined) return null;
    const state = this.#table(table);
    const id = primaryKeyOf(key);
    let entry = state.entries.get(id);
    if (!entry) {
      // Never seen in an index answer nor written since the proxy started: not in the index.
      entry = { base: null, versions: [] };
      state.entries.set(id, entry);
    }
    const version: Version = { visibleAt: Number.POSITIVE_INFINITY, image };
    entry.versions.push(version);
    state.lagging.add(id);
    return { table, key: id, version };
  }

  /** DynamoDB answered the write: its lag starts (and its image is known, when it is). */
  settle(tracked: Tracked | null, image?: Image): void {
    if (!tracked) return;
    if (image !== undefined) tracked.version.image = image;
    tracked.version.visibleAt = this.now() + this.random() * this.maxMs;
  }

  /** The write failed: the index never sees it. */
  drop(tracked: Tracked | null): void {
    if (!tracked) return;
    const state = this.#table(tracked.table);
    const entry = state.entries.get(tracked.key);
    if (!entry) return;
    entry.versions = entry.versions.filter((v) => v !== tracked.version);
    this.#collapse(tracked.table, tracked.key, entry);
  }

  /**
   * Folds the writes that reached the index into its base. An entry with nothing lagging and
   * no image in the index is forgotten (the next write finds the item absent, as it is).
   */
  #collapse(table: string, id: string, entry: Entry): void {
    const state = this.#table(table);
    const now = this.now();
    let reached = 0;
    let latest = Number.NEGATIVE_INFINITY;
    for (const version of entry.versions) {
      latest = Math.max(latest, version.visibleAt);
      if (latest > now) break;
      reached += 1;
    }
    if (reached > 0) {
      entry.base = entry.versions[reached - 1]?.image;
      entry.versions = entry.versions.slice(reached);
    }
    if (entry.versions.length > 0) return;
    state.lagging.delete(id);
    if (!entry.base) state.entries.delete(id);
  }

  /**
   * A Query on `indexName` answered `items` (one page): the page as the lagging index shows it,
   * and how many items it hid or showed stale; null when it changes nothing.
   */
  view(
    table: string,
    indexName: string,
    input: Json,
    items: Item[],
    lastEvaluatedKey: Item | undefined,
  ): { items: Item[]; lagged: number } | null {
    const keys = indexKeys(indexName);
    if (!keys) return null;
    const state = this.#tables.get(table);
    if (!state || state.lagging.size === 0) {
      for (const item of items) this.#learn(table, item);
      return null;
    }
    const condition = keyConditionOf(input, keys);
    const forward = input.ScanIndexForward !== false;
    const order = (a: Item, b: Item) =>
      (forward ? 1 : -1) *
      (compareValues(a[keys.sortKey], b[keys.sortKey]) ||
        compareValues(a[TABLE_KEYS.partitionKey], b[TABLE_KEYS.partitionKey]) ||
        compareValues(a[TABLE_KEYS.sortKey], b[TABLE_KEYS.sortKey]));
    const start = input.ExclusiveStartKey as Item | undefined;
    // This page covers the index from after its start key to its last evaluated key.
    const onPage = (image: Item) =>
      (!start || order(image, start) > 0) &&
      (!lastEvaluatedKey || order(image, lastEvaluatedKey) <= 0);
    const matches = (image: Image | undefined): image is Item =>
      !!image &&
      condition.partition !== undefined &&
      canonical(image[keys.partitionKey]) === canonical(condition.partition) &&
      image[keys.sortKey] !== undefined &&
      condition.sort(image[keys.sortKey]) &&
      onPage(image);

    const shown: Item[] = [];
    const current = new Map<string, Item>();
    for (const item of items) {
      const id = primaryKeyOf(item);
      const entry = state.entries.get(id);
      if (entry) this.#collapse(table, id, entry);
      if (state.lagging.has(id)) current.set(id, item);
      else {
        shown.push(item);
        this.#learn(table, item);
      }
    }
    let lagged = 0;
    for (const id of [...state.lagging]) {
      const entry = state.entries.get(id);
      if (!entry) continue;
      this.#collapse(table, id, entry);
      const answered = current.get(id);
      if (!state.lagging.has(id)) {
        if (answered) shown.push(answered);
        continue;
      }
      if (matches(entry.base)) {
        shown.push(entry.base);
        if (!answered || canonical(answered) !== canonical(entry.base)) lagged += 1;
      } else if (answered) lagged += 1;
    }
    if (lagged === 0 && shown.length === items.length) return null;
    return { items: shown.sort(order), lagged };
  }

  /** The index showed `item` while nothing of it lags: what it shows until the next write. */
  #learn(table: string, item: Item): void {
    const state = this.#table(table);
    const id = primaryKeyOf(item);
    const entry = state.entries.get(id);
    if (!entry) state.entries.set(id, { base: item, versions: [] });
    else if (entry.versions.length === 0) entry.base = item;
  }
}

// ---------------------------------------------------------------------------------------------
// Actions

interface Context {
  req: IncomingMessage;
  res: ServerResponse;
  body: Buffer;
  input: Json;
  limits: Limits | null;
  lag: IndexLag | null;
  counters: FaultCounters;
  exchange(req: IncomingMessage, body: Buffer): Promise<Answer>;
}

const parse = (answer: Answer) => JSON.parse(answer.body.toString('utf8')) as Json;
const encode = (input: Json) => Buffer.from(JSON.stringify(input));

/** Sends on, dropping the tracked writes when DynamoDB refuses or the request fails. */
async function send(ctx: Context, body: Buffer, tracked: (Tracked | null)[]): Promise<Answer> {
  try {
    const answer = await ctx.exchange(ctx.req, body);
    if (answer.statusCode !== 200) for (const t of tracked) ctx.lag?.drop(t);
    return answer;
  } catch (error) {
    for (const t of tracked) ctx.lag?.drop(t);
    throw error;
  }
}

/** PutItem, UpdateItem, DeleteItem. */
async function singleWrite(ctx: Context, action: 'PutItem' | 'UpdateItem' | 'DeleteItem') {
  const { input, limits, lag, res } = ctx;
  const table = String(input.TableName);
  const key = (action === 'PutItem' ? input.Item : input.Key) as Item | undefined;
  const estimate = action === 'PutItem' ? writeCost(itemBytes(key)) : writeCost(0);
  const partition = limits?.partitionOf(table, key?.[TABLE_KEYS.partitionKey]);
  const refusal = limits?.admit(table, [{ partition, units: estimate }]);
  if (refusal) return refuse(ctx, refusal, table, true);

  // An update's new image is what the index will show: asked for when the caller asked for none.
  const asked = input.ReturnValues;
  const askNew =
    lag !== null && action === 'UpdateItem' && (asked === undefined || asked === 'NONE');
  const body = askNew ? encode({ ...input, ReturnValues: 'ALL_NEW' }) : ctx.body;
  const image = action === 'PutItem' ? indexImage(key) : action === 'DeleteItem' ? null : undefined;
  const tracked = lag?.track(table, key, image) ?? null;
  const answer = await send(ctx, body, [tracked]);
  if (answer.statusCode !== 200 || (!lag && !limits)) return reply(res, answer);
  const output = parse(answer);
  if (action === 'UpdateItem') {
    const known = askNew || asked === 'ALL_NEW';
    lag?.settle(tracked, known ? indexImage(output.Attributes as Item | undefined) : undefined);
  } else lag?.settle(tracked);
  const consumed = (output.ConsumedCapacity as { CapacityUnits?: number } | undefined)
    ?.CapacityUnits;
  if (typeof consumed === 'number') {
    limits?.charge(table, partition, consumed * READS_PER_WRITE - estimate);
  }
  if (!askNew) return reply(res, answer);
  const { Attributes: _, ...rest } = output;
  return reply(res, answer, rest);
}

async function getItem(ctx: Context) {
  const { input, limits, res } = ctx;
  if (!limits) return reply(res, await send(ctx, ctx.body, []));
  const table = String(input.TableName);
  const consistent = input.ConsistentRead === true;
  const partition = limits.partitionOf(
    table,
    (input.Key as Item | undefined)?.[TABLE_KEYS.partitionKey],
  );
  const estimate = readCost(0, consistent);
  const refusal = limits.admit(table, [{ partition, units: estimate }]);
  if (refusal) return refuse(ctx, refusal, table, false);
  const answer = await send(ctx, ctx.body, []);
  if (answer.statusCode === 200) {
    const item = parse(answer).Item as Item | undefined;
    limits.charge(table, partition, readCost(itemBytes(item), consistent) - estimate);
  }
  reply(res, answer);
}

/** Query and Scan: one unit before, the rest by the size of the answer. */
async function queryOrScan(ctx: Context, action: 'Query' | 'Scan') {
  const { input, limits, lag, res } = ctx;
  const table = String(input.TableName);
  const indexName = input.IndexName;
  const lagging = lag !== null && action === 'Query' && typeof indexName === 'string';
  if (!limits && !lagging) return reply(res, await send(ctx, ctx.body, []));
  const resource = indexResource(table, indexName);
  // A global secondary index is read eventually consistent only.
  const consistent = indexName === undefined && input.ConsistentRead === true;
  const keys = indexName === undefined ? TABLE_KEYS : indexKeys(indexName);
  const partition =
    action === 'Query' && keys
      ? limits?.partitionOf(resource, keyConditionOf(input, keys).partition)
      : undefined;
  const estimate = readCost(0, consistent);
  const refusal = limits?.admit(resource, [{ partition, units: estimate }]);
  if (refusal) return refuse(ctx, refusal, table, false);
  const answer = await send(ctx, ctx.body, []);
  if (answer.statusCode !== 200) return reply(res, answer);
  const output = parse(answer);
  const items = output.Items as Item[] | undefined;
  if (items) {
    const bytes = items.reduce((sum, item) => sum + itemBytes(item), 0);
    limits?.charge(resource, partition, readCost(bytes, consistent) - estimate);
  }
  const view =
    lagging && items
      ? lag.view(table, indexName, input, items, output.LastEvaluatedKey as Item | undefined)
      : null;
  if (!view) return reply(res, answer);
  if (view.lagged > 0) countFault(ctx.counters, 'dynamodb.index-lagged', view.lagged);
  const scanned = typeof output.ScannedCount === 'number' ? output.ScannedCount : items?.length;
  return reply(res, answer, {
    ...output,
    Items: view.items,
    Count: view.items.length,
    ScannedCount: Math.max(
      view.items.length,
      (scanned ?? 0) + view.items.length - (items?.length ?? 0),
    ),
  });
}

type KeysAndAttributes = Json & { Keys?: Item[]; ConsistentRead?: boolean };

/** BatchGetItem: a key over its limit comes back in `UnprocessedKeys`. */
async function batchGetItem(ctx: Context) {
  const { input, limits, res } = ctx;
  if (!limits) return reply(res, await send(ctx, ctx.body, []));
  const requested = (input.RequestItems as Record<string, KeysAndAttributes>) ?? {};
  const sent: Record<string, KeysAndAttributes> = {};
  const unprocessed: Record<string, KeysAndAttributes> = {};
  let refusal: Refusal | null = null;
  for (const [table, request] of Object.entries(requested)) {
    const consistent = request.ConsistentRead === true;
    for (const key of request.Keys ?? []) {
      const partition = limits.partitionOf(table, key[TABLE_KEYS.partitionKey]);
      const refused = limits.admit(table, [{ partition, units: readCost(0, consistent) }]);
      const into = refused ? unprocessed : sent;
      into[table] ??= { ...request, Keys: [] };
      into[table].Keys?.push(key);
      if (refused) {
        refusal ??= refused;
        countRefusal(ctx.counters, refused);
      }
    }
  }
  if (refusal && Object.keys(sent).length === 0) {
    // None of it fits: refused whole (counted per key above).
    return sendRefusal(res, refusal, Object.keys(requested)[0] ?? '', false);
  }
  const answer = await send(ctx, refusal ? encode({ ...input, RequestItems: sent }) : ctx.body, []);
  if (answer.statusCode !== 200) return reply(res, answer);
  const output = parse(answer);
  for (const [table, items] of Object.entries((output.Responses as Record<string, Item[]>) ?? {})) {
    const consistent = requested[table]?.ConsistentRead === true;
    for (const item of items) {
      limits.charge(
        table,
        limits.partitionOf(table, item[TABLE_KEYS.partitionKey]),
        readCost(itemBytes(item), consistent) - readCost(0, consistent),
      );
    }
  }
  if (!refusal) return reply(res, answer);
  const left = { ...((output.UnprocessedKeys as Record<string, KeysAndAttributes>) ?? {}) };
  for (const [table, request] of Object.entries(unprocessed)) {
    left[table] = { ...request, Keys: [...(left[table]?.Keys ?? []), ...(request.Keys ?? [])] };
  }
  return reply(res, answer, { ...output, UnprocessedKeys: left });
}

type WriteRequest = { PutRequest?: { Item?: Item }; DeleteRequest?: { Key?: Item } };

/** BatchWriteItem: an item over its limit comes back in `UnprocessedItems`. */
async function batchWriteItem(ctx: Context) {
  const { input, limits, lag, res } = ctx;
  const requested = (input.RequestItems as Record<string, WriteRequest[]>) ?? {};
  const sent: Record<string, WriteRequest[]> = {};
  const unprocessed: Record<string, WriteRequest[]> = {};
  const tracked: { table: string; request: WriteRequest; tracked: Tracked | null }[] = [];
  let refusal: Refusal | null = null;
  for (const [table, requests] of Object.entries(requested)) {
    for (const request of requests) {
      const item = request.PutRequest?.Item;
      const key = item ?? request.DeleteRequest?.Key;
      const units = writeCost(item ? itemBytes(item) : 0);
      const partition = limits?.partitionOf(table, key?.[TABLE_KEYS.partitionKey]);
      const refused = limits?.admit(table, [{ partition, units }]) ?? null;
      if (refused) {
        refusal ??= refused;
        unprocessed[table] = [...(unprocessed[table] ?? []), request];
        countRefusal(ctx.counters, refused);
        continue;
      }
      sent[table] = [...(sent[table] ?? []), request];
      tracked.push({ table, request, tracked: lag?.track(table, key, indexImage(item)) ?? null });
    }
  }
  if (refusal && Object.keys(sent).length === 0) {
    return sendRefusal(res, refusal, Object.keys(requested)[0] ?? '', true);
  }
  const answer = await send(
    ctx,
    refusal ? encode({ ...input, RequestItems: sent }) : ctx.body,
    tracked.map((t) => t.tracked),
  );
  if (answer.statusCode !== 200 || (!lag && !refusal)) return reply(res, answer);
  const output = parse(answer);
  const left = { ...((output.UnprocessedItems as Record<string, WriteRequest[]>) ?? {}) };
  const notDone = new Set(
    Object.entries(left).flatMap(([table, requests]) =>
      requests.map((request) => `${table}\u0000${canonical(request)}`),
    ),
  );
  for (const t of tracked) {
    if (notDone.has(`${t.table}\u0000${canonical(t.request)}`)) lag?.drop(t.tracked);
    else lag?.settle(t.tracked);
  }
  if (!refusal) return reply(res, answer);
  for (const [table, requests] of Object.entries(unprocessed)) {
    left[table] = [...(left[table] ?? []), ...requests];
  }
  return reply(res, answer, { ...output, UnprocessedItems: left });
}

type TransactItem = Record<string, { TableName?: string; Item?: Item; Key?: Item } | undefined>;

/** TransactWriteItems and TransactGetItems: all or nothing, each item billed twice. */
async function transact(ctx: Context, write: boolean) {
  const { input, limits, lag, res } = ctx;
  const items = (input.TransactItems as TransactItem[]) ?? [];
  const perTable = new Map<string, Charge[]>();
  const tracked: (Tracked | null)[] = [];
  for (const entry of items) {
    const [kind, operation] = Object.entries(entry)[0] ?? [];
    if (!kind || !operation) continue;
    const table = String(operation.TableName);
    const key = operation.Item ?? operation.Key;
    const units =
      2 * (write ? writeCost(operation.Item ? itemBytes(operation.Item) : 0) : readCost(0, true));
    const charges = perTable.get(table) ?? [];
    charges.push({ partition: limits?.partitionOf(table, key?.[TABLE_KEYS.partitionKey]), units });
    perTable.set(table, charges);
  }
  if (limits) {
    for (const [table, charges] of perTable) {
      const refusal = limits.admit(table, charges);
      if (refusal) return refuse(ctx, refusal, table, write);
    }
  }
  if (write && lag) {
    for (const entry of items) {
      const [kind, operation] = Object.entries(entry)[0] ?? [];
      if (!operation || kind === 'ConditionCheck') continue;
      const image =
        kind === 'Put' ? indexImage(operation.Item) : kind === 'Delete' ? null : undefined;
      tracked.push(lag.track(String(operation.TableName), operation.Item ?? operation.Key, image));
    }
  }
  const answer = await send(ctx, ctx.body, tracked);
  if (answer.statusCode === 200) for (const t of tracked) lag?.settle(t);
  reply(res, answer);
}

const HANDLERS: Record<string, ((ctx: Context) => Promise<void>) | undefined> = {
  PutItem: (ctx) => singleWrite(ctx, 'PutItem'),
  UpdateItem: (ctx) => singleWrite(ctx, 'UpdateItem'),
  DeleteItem: (ctx) => singleWrite(ctx, 'DeleteItem'),
  GetItem: getItem,
  Query: (ctx) => queryOrScan(ctx, 'Query'),
  Scan: (ctx) => queryOrScan(ctx, 'Scan'),
  BatchGetItem: batchGetItem,
  BatchWriteItem: batchWriteItem,
  TransactWriteItems: (ctx) => transact(ctx, true),
  TransactGetItems: (ctx) => transact(ctx, false),
};
