/**
 * Lambda's Invoke API on loopback (`POST /2015-03-31/functions/{name}/invocations`), so the
 * real `@aws-sdk/client-lambda` in the functions can start the processor as it does on AWS:
 * its successor before a deadline, and a sleeping processor when a visitor joins. Only
 * asynchronous invocations (`X-Amz-Invocation-Type: Event`, answered 202 at once) are served:
 * the room makes no other kind. Every invocation is counted.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AwsError, listenStandIn, readRequestBody, type StandInServer } from './http-stand-in.ts';

const CONTENT_TYPE = 'application/json';
/** Lambda's limit for an asynchronous invocation's payload. */
const MAX_PAYLOAD_BYTES = 256 * 1024;
const INVOKE_PATH = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/;

export interface LambdaStandIn extends StandInServer {
  /** Asynchronous invocations accepted so far, by function name. */
  readonly invocations: Map<string, number>;
}

/**
 * Serves Invoke for the named functions; `invoke` runs one (its outcome is not the caller's
 * business, as with Lambda's own asynchronous invocations).
 */
export async function startLambdaStandIn(
  functions: (name: string) => ((event: unknown) => void) | undefined,
  port = 0,
): Promise<LambdaStandIn> {
  const invocations = new Map<string, number>();
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const match = INVOKE_PATH.exec(new URL(req.url ?? '/', 'http://x').pathname);
    if (req.method !== 'POST' || !match) {
      throw new AwsError(404, 'UnknownOperationException', 'only Invoke is served here');
    }
    const name = decodeURIComponent(match[1] as string);
    const invoke = functions(name);
    if (!invoke) {
      throw new AwsError(404, 'ResourceNotFoundException', `Function not found: ${name}`);
    }
    if (req.headers['x-amz-invocation-type'] !== 'Event') {
      throw new AwsError(400, 'InvalidParameterValueException', 'only InvocationType Event');
    }
    const body = await readRequestBody(req, MAX_PAYLOAD_BYTES);
    let event: unknown;
    try {
      event = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
    } catch {
      throw new AwsError(400, 'InvalidRequestContentException', 'payload is not JSON');
    }
    invocations.set(name, (invocations.get(name) ?? 0) + 1);
    invoke(event);
    res.writeHead(202, { 'content-type': CONTENT_TYPE, 'content-length': 0 });
    res.end();
  };
  const server = await listenStandIn(port, handle, CONTENT_TYPE);
  return { ...server, invocations };
}
