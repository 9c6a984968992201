/**
 * What the local AWS stand-ins (SSM, the API Gateway management API) share: a loopback-only
 * HTTP server with bounded request bodies and AWS-shaped JSON errors.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface StandInServer {
  /** `http://127.0.0.1:<port>` */
  url: string;
  close(): Promise<void>;
}

export class AwsError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
  ) {
    super(message);
    this.name = 'AwsError';
  }
}

/** Reads a request body up to `limit` bytes; past it, an {@link AwsError} 413. */
export async function readRequestBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      throw new AwsError(413, 'PayloadTooLargeException', `request body over ${limit} bytes`);
    }
    parts.push(chunk as Buffer);
  }
  return Buffer.concat(parts);
}

/** Answers with an AWS error in both places the SDK looks for its type. */
export function sendAwsError(res: ServerResponse, error: AwsError, contentType: string): void {
  const body = JSON.stringify({ __type: error.type, message: error.message });
  res.writeHead(error.status, {
    'content-type': contentType,
    'x-amzn-errortype': error.type,
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

/** Listens on 127.0.0.1 (port 0: any free one); errors thrown by `handle` become 500s. */
export async function listenStandIn(
  port: number,
  handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
  contentType: string,
): Promise<StandInServer> {
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      sendAwsError(
        res,
        error instanceof AwsError
          ? error
          : new AwsError(500, 'InternalServerError', String((error as Error)?.message ?? error)),
        contentType,
      );
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${bound}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
