/**
 * The arrival queue: SQS FIFO, one message group per room, deduplicated by session id (the join
 * handler sets `MessageDeduplicationId`; content-based deduplication is off, so two arrivals with
 * the same body are still two arrivals). A message received five times without being deleted
 * goes to a FIFO dead-letter queue, which an alarm watches.
 */
import { Duration } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ARRIVAL_QUEUE } from '../../functions/adapters/aws/resource-definitions.ts';

export class ArrivalQueue extends Construct {
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string) {
    super(scope, id);

    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetters', {
      fifo: true,
      contentBasedDeduplication: false,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.seconds(ARRIVAL_QUEUE.deadLetterRetentionSeconds),
    });

    this.queue = new sqs.Queue(this, 'Arrivals', {
      fifo: true,
      contentBasedDeduplication: false,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(ARRIVAL_QUEUE.visibilityTimeoutSeconds),
      retentionPeriod: Duration.seconds(ARRIVAL_QUEUE.retentionSeconds),
      deadLetterQueue: {
        queue: this.deadLetterQueue,
        maxReceiveCount: ARRIVAL_QUEUE.maxReceiveCount,
      },
    });
  }
}
