/**
 * The room's one DynamoDB table: sessions, connections, room state and the processor lease under
 * `pk`/`sk`, items expiring through `ttl`, and the waiting line as the GSI `line` (partition
 * `line`, sort `seq`), which the processor walks in order. Keys, index and TTL come from
 * {@link ROOM_TABLE}, which `npm run start:aws-local` creates its local table from too.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { ROOM_TABLE } from '../../functions/adapters/aws/resource-definitions.ts';

const string = dynamodb.AttributeType.STRING;

export class RoomTable extends Construct {
  readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string) {
    super(scope, id);

    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: ROOM_TABLE.keys.partitionKey, type: string },
      sortKey: { name: ROOM_TABLE.keys.sortKey, type: string },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: ROOM_TABLE.timeToLiveAttribute,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      // The line outlives a stack deletion by mistake; delete the table by hand when done.
      removalPolicy: RemovalPolicy.RETAIN,
    });

    for (const index of ROOM_TABLE.indexes) {
      this.table.addGlobalSecondaryIndex({
        indexName: index.name,
        partitionKey: { name: index.keys.partitionKey, type: string },
        sortKey: { name: index.keys.sortKey, type: string },
        projectionType: dynamodb.ProjectionType[index.projection],
      });
    }
  }
}
