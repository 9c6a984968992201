/**
 * The room's pass-signing key ring (functions/core/key-ring.ts): an SSM SecureString made once
 * at deploy time by the custom resource in cdk/custom-resources/signing-key.ts, which also
 * publishes its JWKS to the room site's bucket; and the key rotation function that
 * `npm run room -- rotate-key --aws` invokes (found through `<prefix>key-rotation-function`).
 * The private keys never appear in a template, an asset, the repository or the edge.
 *
 * The JWKS object is written only by these two, both from the ring as SSM holds it: no deploy
 * can put back a JWKS older than the one a rotation published.
 */
import { CustomResource, Duration } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { JWKS_OBJECT_KEY } from '../../functions/adapters/aws/s3-jwks.ts';
import { retiredKeepSeconds } from '../../functions/core/key-ring.ts';
import { TICKET_TTL_SECONDS } from '../../functions/core/tokens.ts';
import { Env, KEY_ROTATION_FUNCTION_PARAMETER } from '../../functions/env.ts';
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
  /** The room site's bucket, where `.well-known/jwks.json` is published. */
  bucket: s3.IBucket;
  /** The pass lifetime: retired keys stay published until their passes and tickets expire. */
  passTtlSeconds: number;
  /** The room config prefix: `<prefix>key-rotation-function` names the rotation function. */
  configPrefix: string;
}

const KMS_ACK =
  'kms through SSM for the SecureString: the id of the AWS managed key aws/ssm is not known at synth, so the resource is key/* in this account and region, narrowed by conditions to calls made by SSM (kms:ViaService) for this one parameter (kms:EncryptionContext:PARAMETER_ARN).';

export class SigningKey extends Construct implements BindableSigningKey {
  readonly parameterName: string;
  readonly parameterArn: string;
  /** The current key's public JWK (JSON text), known at deploy time. */
  readonly publicJwk: string;
  /** The ring's JWKS at deploy time (JSON text); the bucket's copy is the live one. */
  readonly jwks: string;
  /** The function `rotate-key --aws` invokes. */
  readonly rotation: WaitingRoomFunction;

  constructor(scope: Construct, id: string, props: SigningKeyProps) {
    super(scope, id);
    this.parameterName = props.parameterName;
    this.parameterArn = parameterArn(this, props.parameterName);
    const keepSeconds = retiredKeepSeconds({
      passTtlSeconds: props.passTtlSeconds,
      ticketTtlSeconds: TICKET_TTL_SECONDS,
    });
    const jwksObjectArn = props.bucket.arnForObjects(JWKS_OBJECT_KEY);

    /** Read, decrypt, encrypt and write the ring; write the JWKS object, nothing else. */
    const allowRingWrites = (fn: WaitingRoomFunction) => {
      fn.role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: ['ssm:PutParameter', 'ssm:GetParameter'],
          resources: [this.parameterArn],
        }),
      );
      fn.role.addToPrincipalPolicy(
        kmsThroughSsm(this, this.parameterArn, ['kms:Encrypt', 'kms:Decrypt']),
      );
      fn.role.addToPrincipalPolicy(
        new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [jwksObjectArn] }),
      );
      acknowledge(
        fn.role,
        `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:kms:${nagRegion(this)}:<AWS::AccountId>:key/*]`,
        KMS_ACK,
      );
    };

    const handler = new WaitingRoomFunction(this, 'Handler', {
      entry: GLUE_ENTRIES.signingKey,
      description: 'Custom resource: creates the waiting room key ring once, publishes its JWKS',
      timeout: Duration.seconds(30),
      memorySize: 256,
    });
    allowRingWrites(handler);

    this.rotation = new WaitingRoomFunction(this, 'Rotation', {
      entry: GLUE_ENTRIES.keyRotation,
      description: 'Waiting room: rotates the signing key ring (npm run room -- rotate-key --aws)',
      timeout: Duration.seconds(30),
      memorySize: 256,
    });
    allowRingWrites(this.rotation);
    this.rotation.lambda.addEnvironment(Env.signingKeyParameter, props.parameterName);
    this.rotation.lambda.addEnvironment(Env.passTtlSeconds, String(props.passTtlSeconds));
    this.rotation.lambda.addEnvironment(Env.jwksBucket, props.bucket.bucketName);
    new ssm.StringParameter(this, 'RotationFunctionName', {
      parameterName: `${props.configPrefix}${KEY_ROTATION_FUNCTION_PARAMETER}`,
      stringValue: this.rotation.lambda.functionName,
      description: 'The waiting room key rotation function (npm run room -- rotate-key --aws)',
    });

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
      properties: {
        ParameterName: props.parameterName,
        BucketName: props.bucket.bucketName,
        KeepRetiredSeconds: String(keepSeconds),
      },
    });
    this.publicJwk = key.getAttString('PublicJwk');
    this.jwks = key.getAttString('Jwks');
  }
}
