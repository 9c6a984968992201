/**
 * The room's pass-signing key: an SSM SecureString made once at deploy time by the custom
 * resource in cdk/custom-resources/signing-key.ts, which hands back only the public half. The
 * private key never appears in a template, an asset, the repository or the edge.
 */
import { CustomResource, Duration } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { GLUE_ENTRIES } from '../paths.ts';
import { acknowledge, logicalIdOf, nagRegion } from './nag.ts';
import { parameterArn } from './room-config.ts';
import {
  type BindableSigningKey,
  kmsThroughSsm,
  WaitingRoomFunction,
} from './waiting-room-function.ts';

export interface SigningKeyProps {
  /** E.g. `/waiting-room/signing-key`. */
  parameterName: string;
}

export class SigningKey extends Construct implements BindableSigningKey {
  readonly parameterName: string;
  readonly parameterArn: string;
  /** The public JWK (JSON text), known at deploy time. */
  readonly publicJwk: string;
  /** The JWKS document `{ "keys": [jwk] }` (JSON text), known at deploy time. */
  readonly jwks: string;

  constructor(scope: Construct, id: string, props: SigningKeyProps) {
    super(scope, id);
    this.parameterName = props.parameterName;
    this.parameterArn = parameterArn(this, props.parameterName);

    const handler = new WaitingRoomFunction(this, 'Handler', {
      entry: GLUE_ENTRIES.signingKey,
      description: 'Custom resource: creates the waiting room signing key once',
      timeout: Duration.seconds(30),
      memorySize: 256,
    });
    handler.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['ssm:PutParameter', 'ssm:GetParameter'],
        resources: [this.parameterArn],
      }),
    );
    handler.role.addToPrincipalPolicy(
      kmsThroughSsm(this, this.parameterArn, ['kms:Encrypt', 'kms:Decrypt']),
    );
    acknowledge(
      handler.role,
      `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:kms:${nagRegion(this)}:<AWS::AccountId>:key/*]`,
      'kms:Encrypt/Decrypt of the SecureString: the id of the AWS managed key aws/ssm is not known at synth, so the resource is key/* in this account and region, narrowed by conditions to calls made by SSM (kms:ViaService) for this one parameter (kms:EncryptionContext:PARAMETER_ARN).',
    );

    const provider = new cr.Provider(this, 'Provider', {
      onEventHandler: handler.lambda,
      logGroup: new logs.LogGroup(this, 'ProviderLogs', {
        retention: logs.RetentionDays.ONE_MONTH,
      }),
    });

    acknowledge(
      provider,
      `AwsSolutions-IAM5[Resource::<${logicalIdOf(handler.lambda)}.Arn>:*]`,
      'The CDK Provider framework may invoke any version of its own onEvent handler (function ARN + ":*"); that is the only thing the wildcard allows.',
    );
    acknowledge(
      provider,
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      'The CDK Provider framework function (made by aws-cdk-lib, not configurable) uses the AWS managed basic execution policy, which grants CloudWatch Logs writes only.',
    );

    const key = new CustomResource(this, 'Resource', {
      serviceToken: provider.serviceToken,
      resourceType: 'Custom::WaitingRoomSigningKey',
      properties: { ParameterName: props.parameterName },
    });
    this.publicJwk = key.getAttString('PublicJwk');
    this.jwks = key.getAttString('Jwks');
  }
}
