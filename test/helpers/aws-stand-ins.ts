/**
 * The AWS stand-ins a room on the AWS adapters needs in the tests: DynamoDB (dynalite) and SQS
 * FIFO (fauxqs), both on loopback, started and closed together.
 */
import { type Dynalite, startDynalite } from './aws-dynalite.ts';
import { type Fauxqs, startFauxqsForTests } from './aws-fauxqs.ts';

export interface AwsStandIns extends Dynalite {
  sqs: Fauxqs;
}

export async function startAwsStandIns(): Promise<AwsStandIns> {
  const [db, sqs] = await Promise.all([startDynalite(), startFauxqsForTests()]);
  return {
    ...db,
    sqs,
    async close() {
      await Promise.all([db.close(), sqs.close()]);
    },
  };
}
