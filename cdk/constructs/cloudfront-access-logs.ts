/**
 * The main site's CloudFront access logs, without the passes in them.
 *
 * The gate receives a pass once as the query parameter `wr_pass` (a contract), and CloudFront's
 * standard logging (legacy) writes every request's query string (`cs-uri-query`) with no way to
 * leave it out: anyone who can read the log bucket could replay a fresh pass. Standard logging
 * (v2) delivers the same logs through CloudWatch Logs vended log delivery, and lets us choose the
 * fields: every legacy field but `cs-uri-query` and `cs(Cookie)` (the cookie holds the pass too).
 *
 * What this relies on (checked against the docs with the `search` tool, docs corpus):
 * - CloudFront developer guide, "Configure standard logging (v2)"
 *   (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/standard-logging.html):
 *   v2 delivers to S3, CloudWatch Logs or Firehose, lets you "select the log fields that you
 *   want", can deliver to a bucket in another region, and runs beside legacy logging, which we
 *   turn off.
 * - "Standard logging reference" (standard-logs-reference.html): the field names.
 * - CloudFormation `AWS::Logs::DeliverySource` / `DeliveryDestination` / `Delivery`
 *   (`RecordFields`: "the list of record fields to be delivered to the destination, in order"),
 *   all three in aws-cdk-lib 2.276 as `logs.CfnDeliverySource` and friends; CloudFront's log
 *   type is `ACCESS_LOGS`. CloudFront is global and its delivery source must be made in
 *   us-east-1, hence a stack of its own there (cdk/stacks/access-logs-stack.ts).
 * - CloudWatch Logs user guide, "Logs sent to Amazon S3" (AWS-logs-infrastructure-V2-S3.html):
 *   the bucket policy for `delivery.logs.amazonaws.com` (PutObject under `AWSLogs/<account>/`,
 *   ACL `bucket-owner-full-control`, `aws:SourceAccount`, `aws:SourceArn` of the source).
 */
import { ArnFormat, Stack } from 'aws-cdk-lib';
import type * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

/** CloudFront's delivery sources live in us-east-1. */
export const CLOUDFRONT_LOGS_REGION = 'us-east-1';

/**
 * The fields of the legacy log line, in its order, without `cs-uri-query` (the pass arrives once
 * in the query string) and `cs(Cookie)` (the pass cookie). Paths, status, timing, edge, client,
 * referrer and user agent stay, so the logs answer what they answered before.
 */
export const CLOUDFRONT_LOG_FIELDS = [
  'date',
  'time',
  'x-edge-location',
  'sc-bytes',
  'c-ip',
  'cs-method',
  'cs(Host)',
  'cs-uri-stem',
  'sc-status',
  'cs(Referer)',
  'cs(User-Agent)',
  'x-edge-result-type',
  'x-edge-request-id',
  'x-host-header',
  'cs-protocol',
  'cs-bytes',
  'time-taken',
  'x-forwarded-for',
  'ssl-protocol',
  'ssl-cipher',
  'x-edge-response-result-type',
  'cs-protocol-version',
  'fle-status',
  'fle-encrypted-fields',
  'c-port',
  'time-to-first-byte',
  'x-edge-detailed-result-type',
  'sc-content-type',
  'sc-content-len',
  'sc-range-start',
  'sc-range-end',
] as const;

/** Fields that must never be delivered: they can hold a pass. */
export const CLOUDFRONT_LOG_FIELDS_LEFT_OUT = ['cs-uri-query', 'cs(Cookie)'] as const;

/** The ARN of a delivery source in us-east-1 of this account, by name. */
export function deliverySourceArn(scope: Construct, sourceName: string): string {
  return Stack.of(scope).formatArn({
    service: 'logs',
    region: CLOUDFRONT_LOGS_REGION,
    resource: 'delivery-source',
    resourceName: sourceName,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
}

/**
 * Lets the delivery named `sourceName` (and nothing else) write CloudFront logs into `bucket`,
 * under `AWSLogs/<account>/`. Called in the bucket's own stack.
 */
export function allowCloudFrontLogDelivery(bucket: s3.IBucket, sourceName: string): void {
  const stack = Stack.of(bucket);
  bucket.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'CloudFrontStandardLogsV2',
      principals: [new iam.ServicePrincipal('delivery.logs.amazonaws.com')],
      actions: ['s3:PutObject'],
      resources: [bucket.arnForObjects(`AWSLogs/${stack.account}/*`)],
      conditions: {
        StringEquals: {
          's3:x-amz-acl': 'bucket-owner-full-control',
          'aws:SourceAccount': stack.account,
        },
        ArnLike: { 'aws:SourceArn': deliverySourceArn(bucket, sourceName) },
      },
    }),
  );
}

export interface CloudFrontAccessLogsProps {
  distribution: cloudfront.IDistribution;
  /** The bucket the logs go to (its policy: {@link allowCloudFrontLogDelivery}). */
  bucket: s3.IBucket;
  /** Name of the delivery source (unique in the account); the destination is `<name>-s3`. */
  sourceName: string;
}

/** Standard logging (v2) of one distribution into one bucket, with {@link CLOUDFRONT_LOG_FIELDS}. */
export class CloudFrontAccessLogs extends Construct {
  constructor(scope: Construct, id: string, props: CloudFrontAccessLogsProps) {
    super(scope, id);
    if (Stack.of(this).region !== CLOUDFRONT_LOGS_REGION) {
      throw new Error(`CloudFront delivery sources must be made in ${CLOUDFRONT_LOGS_REGION}`);
    }
    const source = new logs.CfnDeliverySource(this, 'Source', {
      name: props.sourceName,
      logType: 'ACCESS_LOGS',
      resourceArn: props.distribution.distributionArn,
    });
    const destination = new logs.CfnDeliveryDestination(this, 'Destination', {
      name: `${props.sourceName}-s3`,
      destinationResourceArn: props.bucket.bucketArn,
    });
    const delivery = new logs.CfnDelivery(this, 'Delivery', {
      deliverySourceName: props.sourceName,
      deliveryDestinationArn: destination.attrArn,
      recordFields: [...CLOUDFRONT_LOG_FIELDS],
    });
    delivery.node.addDependency(source);
  }
}
