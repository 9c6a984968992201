/**
 * The arrival queue for `npm run start:aws-local`: the SQS stand-in and the two FIFO queues the
 * CDK app deploys (arrivals and their dead-letter queue), from the same definition.
 */
import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { ARRIVAL_QUEUE } from '../../functions/adapters/aws/resource-definitions.ts';
import { type SqsStandIn, startSqsStandIn } from './sqs-stand-in.ts';

export interface LocalSqs {
  endpoint: string;
  standIn: SqsStandIn;
  close(): Promise<void>;
}

export async function startLocalSqs(): Promise<LocalSqs> {
  const standIn = await startSqsStandIn();
  return { endpoint: standIn.url, standIn, close: () => standIn.close() };
}

/** Creates the arrival queue and its dead-letter queue; returns their URLs. */
export async function createArrivalQueues(
  client: SQSClient,
  roomId: string,
): Promise<{ arrivals: string; deadLetters: string }> {
  const fifo = { FifoQueue: 'true', ContentBasedDeduplication: 'false' };
  const { QueueUrl: deadLetters = '' } = await client.send(
    new CreateQueueCommand({
      QueueName: `${roomId}-dead-letters.fifo`,
      Attributes: {
        ...fifo,
        MessageRetentionPeriod: String(ARRIVAL_QUEUE.deadLetterRetentionSeconds),
      },
    }),
  );
  const { Attributes = {} } = await client.send(
    new GetQueueAttributesCommand({ QueueUrl: deadLetters, AttributeNames: ['QueueArn'] }),
  );
  const { QueueUrl: arrivals = '' } = await client.send(
    new CreateQueueCommand({
      QueueName: `${roomId}-arrivals.fifo`,
      Attributes: {
        ...fifo,
        VisibilityTimeout: String(ARRIVAL_QUEUE.visibilityTimeoutSeconds),
        MessageRetentionPeriod: String(ARRIVAL_QUEUE.retentionSeconds),
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: Attributes.QueueArn,
          maxReceiveCount: ARRIVAL_QUEUE.maxReceiveCount,
        }),
      },
    }),
  );
  return { arrivals, deadLetters };
}
