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
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as v from 'valibot';
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
  /** Calls answered so far, by action name. */
  readonly calls: Map<string, number>;
}

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

/** Starts the stand-in on 127.0.0.1 (port 0: any free one). */
export async function startSsmStandIn(port = 0): Promise<SsmStandIn> {
  const parameters = new Map<string, Parameter>();
  const calls = new Map<string, number>();

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

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = String(req.headers['x-amz-target'] ?? '');
    const action = target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : '';
    if (req.method !== 'POST' || !Object.hasOwn(schemas, action)) {
      throw new AwsError(400, 'InvalidAction', `action not supported here: "${target}"`);
    }
    calls.set(action, (calls.get(action) ?? 0) + 1);
    let body: unknown;
    try {
      body = JSON.parse((await readRequestBody(req, 64 * 1024)).toString('utf8') || '{}');
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

  const server = await listenStandIn(port, handle, CONTENT_TYPE);
  return { ...server, calls };
}
