/**
 * SQS FIFO on loopback for the tests: fauxqs, an SQS emulator in Node, with the arrival queue and
 * its dead-letter queue created as the CDK app deploys them (`local/aws-local/sqs.ts`).
 */
import type { SQSClient } from '@aws-sdk/client-sqs';
import {
  type ArrivalQueues,
  ensureArrivalQueues,
  localSqsClient,
  startLocalSqs,
} from '../../local/aws-local/sqs.ts';
import './aws-sdk-env.ts';

export interface Fauxqs {
  endpoint: string;
  client: SQSClient;
  /** Creates an arrival queue and its dead-letter queue under a fresh name. */
  createQueues(): Promise<ArrivalQueues>;
  close(): Promise<void>;
}

let queues = 0;

export async function startFauxqsForTests(): Promise<Fauxqs> {
  const sqs = await startLocalSqs(null);
  const client = localSqsClient(sqs.endpoint, 1);
  return {
    endpoint: sqs.endpoint,
    client,
    createQueues: () =>
      ensureArrivalQueues(client, sqs.endpoint, `room-${process.pid}-${++queues}`),
    async close() {
      client.destroy();
      await sqs.close();
    },
  };
}
