/**
 * The main site's CloudFront access logs (standard logging v2, without query strings and
 * cookies: see cdk/constructs/cloudfront-access-logs.ts), in us-east-1 where CloudFront's
 * delivery sources must be. The logs go to the room stack's access-log bucket, in the room's
 * region. This stack is deployed after the room stack: the distribution's ARN and the bucket's
 * come across regions through CDK's cross-region references (SSM parameters that the room stack
 * writes in us-east-1 and this stack reads).
 */
import { Stack, type StackProps } from 'aws-cdk-lib';
import type * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import { CloudFrontAccessLogs } from '../constructs/cloudfront-access-logs.ts';

export interface AccessLogsStackProps extends StackProps {
  distribution: cloudfront.IDistribution;
  bucket: s3.IBucket;
  /** Name of the delivery source; the bucket's policy allows this one (room stack). */
  sourceName: string;
}

export class AccessLogsStack extends Stack {
  constructor(scope: Construct, id: string, props: AccessLogsStackProps) {
    super(scope, id, { ...props, crossRegionReferences: true });
    new CloudFrontAccessLogs(this, 'MainSite', {
      distribution: props.distribution,
      bucket: props.bucket,
      sourceName: props.sourceName,
    });
  }
}
