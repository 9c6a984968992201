/**
 * SQS FIFO for `npm run start:aws-local` and the tests: on `WR_SQS_ENDPOINT` when it is set (an
 * SQS endpoint already running), else on fauxqs (SQS's API in Node, in memory) in a process of
 * its own. The
 * arrival queue and its dead-letter queue are created from {@link arrivalQueueAttributes}, the
 * definition the CDK app deploys, unless they already exist.
 *
 * fauxqs keeps what the room relies on (per-group order, rising sequence numbers, a group locked
 * while a message of it is in flight, deduplication ids remembered after delete, redrive to the
 * dead-letter queue) and differs from SQS where the adapter is written for SQS's behaviour
 * (README, "SQS FIFO and its emulator"): it hands out at most one message per group per receive,
 * ignores the deduplication scope and has no `ReceiveRequestAttemptId`.
 */
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import {
  ARRIVAL_QUEUE,
  arrivalQueueAttributes,
  deadLetterQueueAttributes,
} from '../../functions/adapters/aws/resource-definitions.ts';
import { startServiceProcess } from './service-process.ts';

export interface LocalSqs {
  endpoint: string;
  /** Whether this process runs the endpoint (fauxqs) or uses one it was given. */
  embedded: boolean;
  close(): Promise<void>;
}

/**
 * Starts fauxqs in a process of its own on 127.0.0.1 (SQS is another service: its CPU is not the
 * room's), or uses `endpoint` when given.
 */
export async function startLocalSqs(endpoint: string | null): Promise<LocalSqs> {
  if (endpoint) return { endpoint, embedded: false, close: async () => {} };
  const service = await startServiceProcess(
    'fauxqs',
    "const { startFauxqs } = await import('fauxqs'); const s = await startFauxqs({ port: 0, logger: false }); console.log(s.port);",
  );
  return { endpoint: service.endpoint, embedded: true, close: () => service.close() };
}

/** A client for a local endpoint (any credentials do). */
export function localSqsClient(endpoint: string, maxAttempts = 3): SQSClient {
  return new SQSClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts,
    // An endpoint that does not answer must fail the start, not hang it.
    requestHandler: { connectionTimeout: 3000, requestTimeout: 10_000 },
  });
}

export interface ArrivalQueues {
  queueUrl: string;
  deadLetterQueueUrl: string;
}

/**
 * Creates `<name>-arrivals.fifo` and `<name>-arrivals-dlq.fifo` as the CDK app deploys them
 * (CreateQueue answers with the existing queue when its attributes match). The URLs are on
 * `endpoint`'s host: an emulator may name itself by a host this machine cannot resolve.
 */
export async function ensureArrivalQueues(
  client: SQSClient,
  endpoint: string,
  name: string,
): Promise<ArrivalQueues> {
  const onEndpoint = (url: string) => `${endpoint.replace(/\/$/, '')}${new URL(url).pathname}`;
  const dlq = await client.send(
    new CreateQueueCommand({
      QueueName: `${name}-${ARRIVAL_QUEUE.deadLetterSuffix}`,
      Attributes: deadLetterQueueAttributes(),
    }),
  );
  const deadLetterQueueUrl = onEndpoint(dlq.QueueUrl as string);
  const { Attributes } = await client.send(
    new GetQueueAttributesCommand({ QueueUrl: deadLetterQueueUrl, AttributeNames: ['QueueArn'] }),
  );
  const queue = await client.send(
    new CreateQueueCommand({
      QueueName: `${name}-${ARRIVAL_QUEUE.suffix}`,
      Attributes: arrivalQueueAttributes(Attributes?.QueueArn as string),
    }),
  );
  return { queueUrl: onEndpoint(queue.QueueUrl as string), deadLetterQueueUrl };
}
