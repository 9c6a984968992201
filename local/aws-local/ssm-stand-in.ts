/**
 * SSM Parameter Store on loopback, speaking the service's own protocol (AWS JSON 1.1,
 * `X-Amz-Target: AmazonSSM.<Action>`), so the real `@aws-sdk/client-ssm` and the room's SSM
 * adapters run unchanged against it. No npm package offers an SSM endpoint; this one keeps the
 * few actions the room uses, with SSM's semantics for them:
 *
 * - `PutParameter` (String, StringList, SecureString; `Overwrite: false` refuses an existing
 *   name with `ParameterAlreadyExists`, as a deploy's create-only parameters rely on),
 * - `GetParameter` (`ParameterNotFound`), `GetParameters` (unknown names in
 *   `InvalidParameters`, at most 10 names), `GetParametersByPath`, `DeleteParameter`.
 *
 * A SecureString is returned in clear only `WithDecryption`. Every call is counted by action.
 *
 * With `getRate` (`WR_AWS_FAULTS=ssm-rate`), the Get* calls on `url` share that many a second,
 * as Parameter Store's default throughput shares its 40 among GetParameter, GetParameters and
 * GetParametersByPath per account and Region: beyond it they answer 400 `ThrottlingException`
 * ("Rate exceeded"), counted as `ssm.throttled`. `operatorUrl` serves the same parameters
 * without that limit: the front's gate reads a document CloudFront caches on AWS, and the
 * operator's few calls are not what the rehearsal measures.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as v from 'valibot';
import { countFault, type FaultCounters, RateLimit } from './faults.ts';
import { AwsError, listenStandIn, readRequestBody, type StandInServer } from './http-stand-in.ts';

const CONTENT_TYPE = 'application/x-amz-json-1.1';
const TARGET_PREFIX = 'AmazonSSM.';
/** SSM's own limits: 4 KB standard values, 10 names per GetParameters. */
const MAX_VALUE_BYTES = 4096;
const MAX_NAMES = 10;

interface Parameter {
  name: string;
  type: 'String' | 'StringList' | 'SecureString';
  value: string;
  version: number;
  modifiedAt: number;
}

export interface SsmStandIn extends StandInServer {
  /** The same parameters, never throttled (the front's and the operator's reads). */
  operatorUrl: string;
  /** Calls answered so far, by action name. */
  readonly calls: Map<string, number>;
}

export interface SsmStandInOptions {
  /** Port of `url` (0: any free one). */
  port?: number;
  /** Get* calls a second on `url`, all three together; unset: no limit. */
  getRate?: number;
  /** Where throttled calls are counted (`ssm.throttled`). */
  counters?: FaultCounters;
  /** The clock of the rate (milliseconds; tests stop it). */
  now?: () => number;
}

/** The actions Parameter Store's throughput quota counts. */
const METERED = new Set(['GetParameter', 'GetParameters', 'GetParametersByPath']);

const name = v.pipe(
  v.string(),
  v.regex(/^[A-Za-z0-9_.\-/]{1,2048}$/, 'parameter names are letters, digits and _.-/'),
);
const schemas = {
  PutParameter: v.object({
    Name: name,
    Value: v.pipe(
      v.string(),
      v.check((s) => Buffer.byteLength(s) <= MAX_VALUE_BYTES, 'value over 4 KB'),
    ),
    Type: v.optional(v.picklist(['String', 'StringList', 'SecureString'])),
    Overwrite: v.optional(v.boolean()),
  }),
  GetParameter: v.object({ Name: name, WithDecryption: v.optional(v.boolean()) }),
  GetParameters: v.object({
    Names: v.pipe(v.array(name), v.minLength(1), v.maxLength(MAX_NAMES)),
    WithDecryption: v.optional(v.boolean()),
  }),
  GetParametersByPath: v.object({
    Path: name,
    Recursive: v.optional(v.boolean()),
    WithDecryption: v.optional(v.boolean()),
  }),
  DeleteParameter: v.object({ Name: name }),
} as const;
type Action = keyof typeof schemas;

/** Starts the stand-in on 127.0.0.1 (a port number alone: `{ port }`). */
export async function startSsmStandIn(
  options: number | SsmStandInOptions = {},
): Promise<SsmStandIn> {
  const {
    port = 0,
    getRate,
    counters = {},
    now,
  } = typeof options === 'number' ? { port: options } : options;
  const parameters = new Map<string, Parameter>();
  const calls = new Map<string, number>();
  const getLimit = getRate === undefined ? null : new RateLimit(getRate, now);

  const view = (p: Parameter, decrypt: boolean) => ({
    Name: p.name,
    Type: p.type,
    // Not real encryption: a stand-in only has to keep the clear value out of sight.
    Value:
      p.type === 'SecureString' && !decrypt
        ? Buffer.from(`encrypted:${p.name}`).toString('base64')
        : p.value,
    Version: p.version,
    LastModifiedDate: p.modifiedAt / 1000,
    ARN: `arn:aws:ssm:us-east-1:000000000000:parameter${p.name.startsWith('/') ? '' : '/'}${p.name}`,
    DataType: 'text',
  });

  const actions: { [A in Action]: (input: v.InferOutput<(typeof schemas)[A]>) => unknown } = {
    PutParameter(input) {
      const existing = parameters.get(input.Name);
      if (existing && !input.Overwrite) {
        throw new AwsError(400, 'ParameterAlreadyExists', `${input.Name} already exists`);
      }
      const version = (existing?.version ?? 0) + 1;
      parameters.set(input.Name, {
        name: input.Name,
        type: input.Type ?? existing?.type ?? 'String',
        value: input.Value,
        version,
        modifiedAt: Date.now(),
      });
      return { Version: version, Tier: 'Standard' };
    },
    GetParameter(input) {
      const p = parameters.get(input.Name);
      if (!p) throw new AwsError(400, 'ParameterNotFound', `${input.Name} not found`);
      return { Parameter: view(p, input.WithDecryption ?? false) };
    },
    GetParameters(input) {
      const found = input.Names.flatMap((n) => {
        const p = parameters.get(n);
        return p ? [view(p, input.WithDecryption ?? false)] : [];
      });
      return {
        Parameters: found,
        InvalidParameters: input.Names.filter((n) => !parameters.has(n)),
      };
    },
    GetParametersByPath(input) {
      const prefix = input.Path.endsWith('/') ? input.Path : `${input.Path}/`;
      const found = [...parameters.values()].filter(
        (p) =>
          p.name.startsWith(prefix) &&
          (input.Recursive || !p.name.slice(prefix.length).includes('/')),
      );
      return { Parameters: found.map((p) => view(p, input.WithDecryption ?? false)) };
    },
    DeleteParameter(input) {
      if (!parameters.delete(input.Name)) {
        throw new AwsError(400, 'ParameterNotFound', `${input.Name} not found`);
      }
      return {};
    },
  };

  async function handle(
    req: IncomingMessage,
    res: ServerResponse,
    metered: boolean,
  ): Promise<void> {
    const target = String(req.headers['x-amz-target'] ?? '');
    const action = target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : '';
    if (req.method !== 'POST' || !Object.hasOwn(schemas, action)) {
      throw new AwsError(400, 'InvalidAction', `action not supported here: "${target}"`);
    }
    calls.set(action, (calls.get(action) ?? 0) + 1);
    let body: unknown;
    try {
      const raw = await readRequestBody(req, 64 * 1024);
      if (metered && getLimit && METERED.has(action) && !getLimit.take()) {
        countFault(counters, 'ssm.throttled');
        throw new AwsError(400, 'ThrottlingException', 'Rate exceeded');
      }
      body = JSON.parse(raw.toString('utf8') || '{}');
    } catch (error) {
      if (error instanceof AwsError) throw error;
      throw new AwsError(400, 'SerializationException', 'body is not JSON');
    }
    const schema = schemas[action as Action];
    const parsed = v.safeParse(schema, body);
    if (!parsed.success) {
      throw new AwsError(400, 'ValidationException', parsed.issues[0]?.message ?? 'invalid');
    }
    const output = JSON.stringify(
      (actions[action as Action] as (input: unknown) => unknown)(parsed.output),
    );
    res.writeHead(200, {
      'content-type': CONTENT_TYPE,
      'content-length': Buffer.byteLength(output),
    });
    res.end(output);
  }

  const server = await listenStandIn(port, (req, res) => handle(req, res, true), CONTENT_TYPE);
  const operator = await listenStandIn(
    0,
    (req, res) => handle(req, res, false),
    CONTENT_TYPE,
  ).catch(async (error: unknown) => {
    await server.close();
    throw error;
  });
  return {
    url: server.url,
    operatorUrl: operator.url,
    calls,
    async close() {
      await Promise.all([server.close(), operator.close()]);
    },
  };
}
