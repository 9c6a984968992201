/**
 * What GitHub Actions needs to deploy without stored keys: the GitHub OIDC provider and one role
 * that only workflow runs of `main` in one repository can assume, and that can do nothing but
 * assume the CDK bootstrap roles (deploy, file publishing, lookup) of both regions the app
 * deploys to. CloudFormation then acts with the bootstrap execution role, as `cdk deploy` does.
 */
import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';

export const GITHUB_OIDC_HOST = 'token.actions.githubusercontent.com';
export const GITHUB_OIDC_AUDIENCE = 'sts.amazonaws.com';
/**
 * The repository variable that deploy.yml passes as `githubOidcProviderArn`: set only when the
 * account already had a GitHub OIDC provider and the OIDC stack reuses it.
 */
export const OIDC_PROVIDER_VARIABLE = 'AWS_GITHUB_OIDC_PROVIDER_ARN';

export interface GitHubOidcStackProps extends StackProps {
  /** `owner/repo`. */
  repository: string;
  /** Branch whose workflow runs may deploy. @default main */
  branch?: string;
  /** An existing provider for token.actions.githubusercontent.com (one per account). */
  existingProviderArn?: string;
  /** Regions the app deploys to (its region and us-east-1 for the gate). */
  regions: readonly string[];
  /** CDK bootstrap qualifier. */
  bootstrapQualifier: string;
}

/** The bootstrap roles `cdk deploy` assumes (no Docker images here, so no image publishing). */
const BOOTSTRAP_ROLES = ['deploy-role', 'file-publishing-role', 'lookup-role'] as const;

export class GitHubOidcStack extends Stack {
  readonly deployRole: iam.Role;

  constructor(scope: Construct, id: string, props: GitHubOidcStackProps) {
    super(scope, id, props);
    const branch = props.branch ?? 'main';

    const provider = props.existingProviderArn
      ? iam.OidcProviderNative.fromOidcProviderArn(this, 'Provider', props.existingProviderArn)
      : new iam.OidcProviderNative(this, 'Provider', {
          url: `https://${GITHUB_OIDC_HOST}`,
          clientIds: [GITHUB_OIDC_AUDIENCE],
        });

    this.deployRole = new iam.Role(this, 'DeployRole', {
      description: `GitHub Actions deploys of ${props.repository} (${branch} only)`,
      maxSessionDuration: Duration.hours(1),
      assumedBy: new iam.WebIdentityPrincipal(provider.oidcProviderArn, {
        StringEquals: {
          [`${GITHUB_OIDC_HOST}:aud`]: GITHUB_OIDC_AUDIENCE,
          [`${GITHUB_OIDC_HOST}:sub`]: `repo:${props.repository}:ref:refs/heads/${branch}`,
        },
      }),
    });

    this.deployRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'AssumeCdkBootstrapRoles',
        actions: ['sts:AssumeRole'],
        resources: props.regions.flatMap((region) =>
          BOOTSTRAP_ROLES.map(
            (role) =>
              `arn:${this.partition}:iam::${this.account}:role/cdk-${props.bootstrapQualifier}-${role}-${this.account}-${region}`,
          ),
        ),
      }),
    );

    new CfnOutput(this, 'DeployRoleArn', {
      description: 'Set this as the repository variable AWS_DEPLOY_ROLE_ARN',
      value: this.deployRole.roleArn,
    });
    if (props.existingProviderArn) {
      // deploy.yml deploys this stack again on every push: without the same ARN it would try to
      // create a second provider for the same URL, which IAM refuses, and the deploy fails.
      new CfnOutput(this, 'ReusedOidcProviderArn', {
        description: `Set this as the repository variable ${OIDC_PROVIDER_VARIABLE}`,
        value: props.existingProviderArn,
      });
    }
  }
}
