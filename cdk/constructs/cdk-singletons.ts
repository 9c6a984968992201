/**
 * Acknowledgements for the functions that aws-cdk-lib itself adds once per stack (the
 * `AwsCustomResource` provider and the `BucketDeployment` handler). Their code, runtime and
 * policies are aws-cdk-lib's; what they may touch is narrowed where the L2 lets us.
 */
import type { Stack } from 'aws-cdk-lib';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { acknowledge, logicalIdOf, nagRegion, singletonsOf } from './nag.ts';

const BASIC_EXECUTION_ROLE =
  'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]';

/** Call once, after every construct of the stack exists. */
export function acknowledgeCdkSingletons(
  stack: Stack,
  options: { deployedBuckets: readonly IBucket[]; bootstrapQualifier: string },
): void {
  for (const provider of singletonsOf(stack, 'AWS679f53fac002430cb0da5b7982bd2287')) {
    acknowledge(
      provider,
      BASIC_EXECUTION_ROLE,
      'The AwsCustomResource provider function (aws-cdk-lib) uses the AWS managed basic execution policy, which grants CloudWatch Logs writes only; its SSM permissions are one statement per parameter ARN.',
    );
  }

  for (const deployment of singletonsOf(stack, 'Custom::CDKBucketDeployment')) {
    acknowledge(
      deployment,
      BASIC_EXECUTION_ROLE,
      'The BucketDeployment function (aws-cdk-lib) uses the AWS managed basic execution policy, which grants CloudWatch Logs writes only.',
    );
    acknowledge(
      deployment,
      'AwsSolutions-L1',
      'The BucketDeployment function (aws-cdk-lib) runs the Python runtime that aws-cdk-lib pins for its AWS CLI layer; it moves with aws-cdk-lib upgrades.',
    );
    const copyReason =
      'BucketDeployment (aws-cdk-lib) copies the synthesized assets from the CDK bootstrap bucket into the destination buckets and invalidates the distribution; aws-cdk-lib grants s3 read/write with wildcard actions on those buckets only, and cloudfront:CreateInvalidation/GetInvalidation on "*" (CloudFront has no resource-level permissions for them).';
    const ids = [
      'AwsSolutions-IAM5[Action::s3:GetObject*]',
      'AwsSolutions-IAM5[Action::s3:GetBucket*]',
      'AwsSolutions-IAM5[Action::s3:List*]',
      'AwsSolutions-IAM5[Action::s3:DeleteObject*]',
      'AwsSolutions-IAM5[Action::s3:Abort*]',
      'AwsSolutions-IAM5[Resource::*]',
      `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::cdk-${options.bootstrapQualifier}-assets-<AWS::AccountId>-${nagRegion(stack)}/*]`,
      ...options.deployedBuckets.map(
        (bucket) => `AwsSolutions-IAM5[Resource::<${logicalIdOf(bucket)}.Arn>/*]`,
      ),
    ];
    for (const id of ids) acknowledge(deployment, id, copyReason);
  }
}
