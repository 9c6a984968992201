/**
 * SQS FIFO's throughput quota in front of the local SQS (fauxqs, or `WR_SQS_ENDPOINT`), for
 * `WR_AWS_FAULTS=sqs-rate`: a loopback proxy the functions' SQS client talks to. SQS's own limit
 * is 300 requests a second per API action per partition of a FIFO queue (a batch of ten is one
 * request); a high-throughput queue spreads its message groups over partitions and adds
 * partitions as the load grows. The proxy plays it as:
 *
 * - `SendMessage` and `SendMessageBatch`: `rate` a second per action per message group (each
 *   group a partition of its own: the kindest spread; a batch counts once for each group in it),
 * - `ReceiveMessage`, `DeleteMessage(Batch)`, `ChangeMessageVisibility(Batch)`: `rate` a second
 *   per action per queue (they name no group: the queue as one partition, as a new one starts),
 * - anything else, and any queue that is not FIFO: not limited.
 *
 * A request over its limit is answered as SQS answers one (HTTP 403, `RequestThrottled`, in the
 * AWS JSON 1.0 protocol with the query-compatible error header the SDK reads) and counted as
 * `sqs.throttled`; every other request and its answer pass through byte for byte.
 */
import { randomUUID } from 'node:crypto';
import {
  Agent,
  createServer,
  type IncomingMessage,
  request,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { countFault, type FaultCounters, RateLimit } from './faults.ts';

const TARGET_PREFIX = 'AmazonSQS.';
/** SQS's largest request (a batch of ten 256 KiB messages), with room for the JSON around it. */
const MAX_BODY_BYTES = 4 * 1024 * 1024;
const PER_GROUP = new Set(['SendMessage', 'SendMessageBatch']);
const PER_QUEUE = new Set([
  'ReceiveMessage',
  'DeleteMessage',
  'DeleteMessageBatch',
  'ChangeMessageVisibility',
  'ChangeMessageVisibilityBatch',
]);

export interface SqsFaultsOptions {
  /** The SQS endpoint requests go on to, `http://host:port`. */
  target: string;
  /** Requests a second per action per partition (`sqs-rate`). */
  rate: number;
  counters?: FaultCounters;
  now?: () => number;
}

export interface SqsFaultsProxy {
  /** `http://127.0.0.1:<port>`: give it to the functions as their SQS endpoint. */
  endpoint: string;
  close(): Promise<void>;
}

interface SqsRequest {
  QueueUrl?: unknown;
  MessageGroupId?: unknown;
  Entries?: unknown;
}

/** The buckets a request takes one from, or none when the quota does not count it. */
export function bucketsOf(action: string, body: Buffer): string[] {
  if (!PER_GROUP.has(action) && !PER_QUEUE.has(action)) return [];
  let input: SqsRequest;
  try {
    input = JSON.parse(body.toString('utf8')) as SqsRequest;
  } catch {
    return [];
  }
  if (typeof input !== 'object' || input === null || typeof input.QueueUrl !== 'string') return [];
  const queue = queueOf(input.QueueUrl);
  if (!queue.endsWith('.fifo')) return [];
  if (PER_QUEUE.has(action)) return [`${action} ${queue}`];
  const groups =
    action === 'SendMessage'
      ? [input.MessageGroupId]
      : Array.isArray(input.Entries)
        ? input.Entries.map((entry) => (entry as SqsRequest | null)?.MessageGroupId)
        : [];
  return [...new Set(groups.map(String))].map((group) => `${action} ${queue} ${group}`);
}

/** The queue a URL names (its path: the account and the name), whatever host it is on. */
function queueOf(queueUrl: string): string {
  try {
    return new URL(queueUrl).pathname;
  } catch {
    return queueUrl;
  }
}

export async function startSqsFaultsProxy(options: SqsFaultsOptions): Promise<SqsFaultsProxy> {
  const target = new URL(options.target);
  const counters = options.counters ?? {};
  const limits = new Map<string, RateLimit>();
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });

  function admitted(buckets: string[]): boolean {
    let ok = true;
    for (const key of buckets) {
      let limit = limits.get(key);
      if (!limit) {
        limit = new RateLimit(options.rate, options.now);
        limits.set(key, limit);
      }
      // Each bucket is asked: a batch over one group's limit spends the others' tokens too.
      if (!limit.take()) ok = false;
    }
    return ok;
  }

  function forward(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
    const upstream = request(
      {
        protocol: target.protocol,
        hostname: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: req.rawHeaders,
        agent,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.rawHeaders);
        answer.pipe(res);
      },
    );
    // SQS unreachable: the client sees a failed request, as it would a dropped connection.
    upstream.on('error', () => {
      if (res.headersSent) res.destroy();
      else res.writeHead(502, { 'content-length': 0 }).end();
    });
    upstream.end(body);
  }

  function throttle(res: ServerResponse): void {
    countFault(counters, 'sqs.throttled');
    const body = JSON.stringify({
      __type: 'com.amazonaws.sqs#RequestThrottled',
      message: 'Request is throttled',
    });
    res.writeHead(403, {
      'content-type': 'application/x-amz-json-1.0',
      'x-amzn-query-error': 'RequestThrottled;Sender',
      'x-amzn-requestid': randomUUID(),
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  }

  const server: Server = createServer((req, res) => {
    const parts: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        req.destroy();
        return;
      }
      parts.push(chunk);
    });
    req.on('error', () => res.destroy());
    req.on('end', () => {
      const body = Buffer.concat(parts);
      const header = String(req.headers['x-amz-target'] ?? '');
      const action = header.startsWith(TARGET_PREFIX) ? header.slice(TARGET_PREFIX.length) : '';
      if (req.method === 'POST' && !admitted(bucketsOf(action, body))) throttle(res);
      else forward(req, res, body);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}
