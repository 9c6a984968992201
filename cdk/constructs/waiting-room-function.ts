/**
 * Every Lambda function of the room is made the same way: Node.js 22 on ARM64, bundled by the
 * local esbuild as a minified ES module with a source map, its own log group with a retention,
 * X-Ray active, and a role that starts with nothing but writing to that log group.
 *
 * What a function may touch is added with a `bind...()` method, which grants the IAM permission
 * and sets the environment variable that names the resource in one call, so that the two can't
 * drift (the names come from functions/env.ts, shared with the code that reads them).
 */
import { ArnFormat, Duration, Stack, Token } from 'aws-cdk-lib';
import type { WebSocketStage } from 'aws-cdk-lib/aws-apigatewayv2';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { LINE_INDEX, sourcePk } from '../../functions/adapters/aws/dynamo-items.ts';
import { LAMBDA_FUNCTIONS } from '../../functions/adapters/aws/resource-definitions.ts';
import { Env } from '../../functions/env.ts';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../../functions/lambda/observability.ts';
import { PACKAGE_LOCK, REPO_ROOT } from '../paths.ts';
import { acknowledge, logicalIdOf, nagRegion } from './nag.ts';

/** The runtime of every function (see the AwsSolutions-L1 suppression for why not 24). */
export const FUNCTION_RUNTIME = lambda.Runtime.NODEJS_22_X;

export interface WaitingRoomFunctionProps {
  /** The TypeScript entry point; it exports `handler`. */
  entry: string;
  description: string;
  /**
   * An explicit function name, for a function whose own policy must name its ARN
   * ({@link WaitingRoomFunction.allowInvokingItself}). @default a name CloudFormation generates
   */
  functionName?: string;
  /** @default 10 seconds */
  timeout?: Duration;
  /** @default 512 */
  memorySize?: number;
  /** @default one month */
  logRetention?: logs.RetentionDays;
}

/** The room's SSM config parameters, as {@link WaitingRoomFunction.bindConfig} needs them. */
export interface BindableRoomConfig {
  /** `WR_CONFIG_PREFIX`, e.g. `/waiting-room/config/`. */
  readonly prefix: string;
  /** ARNs of every parameter under the prefix. */
  readonly parameterArns: readonly string[];
}

/** The signing key's SSM SecureString, as {@link WaitingRoomFunction.bindSigningKey} needs it. */
export interface BindableSigningKey {
  readonly parameterName: string;
  readonly parameterArn: string;
}

/** Room settings that are plain values (no permission goes with them). */
export interface RoomRuntimeSettings {
  roomId: string;
  /** The main site's origin, e.g. `https://shop.example.com` (may be a deploy-time token). */
  mainOrigin: string;
  passTtlSeconds: number;
  abandonAfterSeconds: number;
  tickMs: number;
  positionBudgetPerSecond: number;
  sleepAfterIdleSeconds: number;
  /** Origins besides the main site's whose pages may connect, comma-separated. */
  allowedOrigins: string;
  maxPlacesPerSource: number;
  /** `on` or `off`. */
  sourceLimits: 'on' | 'off';
  /** The site's public key for identity tokens (PEM text), when the deploy sets one. */
  identityPublicKey?: string;
  /** The site's JWKS URL for identity tokens, when the deploy sets one. */
  identityJwksUrl?: string;
  /** `true` when a join needs a valid identity token (the function's default is false). */
  identityRequired?: 'true';
}

/**
 * What functions/adapters/aws does with the table. `readWrite`: everything the session store and
 * the lease do (no Scan: the line is read through the `line` index; arrivals go through the SQS
 * arrival queue, {@link WaitingRoomFunction.bindArrivalQueue}). `connectionWrites`: what
 * `$disconnect` does (`DynamoSessionStore.detachConnection`): delete the connection item, mark the
 * session disconnected, log the change for the processor; no read, no index. `sourceCounts`: what
 * `$connect` does (`DynamoSourceLimits.takeSocket`): one conditional UpdateItem on its source's
 * items, whose partition keys are the only ones it may write.
 */
const TABLE_ACCESS = {
  readWrite: [
    'dynamodb:GetItem',
    'dynamodb:BatchGetItem',
    'dynamodb:Query',
    'dynamodb:PutItem',
    'dynamodb:UpdateItem',
    'dynamodb:DeleteItem',
    'dynamodb:BatchWriteItem',
  ],
  connectionWrites: ['dynamodb:DeleteItem', 'dynamodb:UpdateItem', 'dynamodb:PutItem'],
  sourceCounts: ['dynamodb:UpdateItem'],
} as const;

export type TableAccess = keyof typeof TABLE_ACCESS;

/**
 * What each side of the arrival queue calls, and nothing more. `send`: the message handler puts
 * an arrival on it (SendMessage; it has the URL from its environment, so no GetQueueUrl, and reads
 * no attribute). `consume`: the processor receives arrivals (setting the visibility timeout on
 * each receive), deletes the ones it numbered and hands back the ones it did not
 * (ChangeMessageVisibility).
 */
const ARRIVAL_QUEUE_ACCESS = {
  send: ['sqs:SendMessage'],
  consume: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility'],
} as const;

export type ArrivalQueueRole = keyof typeof ARRIVAL_QUEUE_ACCESS;

export class WaitingRoomFunction extends Construct {
  readonly lambda: NodejsFunction;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: WaitingRoomFunctionProps) {
    super(scope, id);

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
    });
    // No AWSLambdaBasicExecutionRole: the function writes to its own log group and nowhere else.
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `${props.description} (execution role)`,
    });
    this.logGroup.grantWrite(this.role);

    this.lambda = new NodejsFunction(this, 'Function', {
      ...(props.functionName ? { functionName: props.functionName } : {}),
      entry: props.entry,
      handler: 'handler',
      description: props.description,
      runtime: FUNCTION_RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? LAMBDA_FUNCTIONS.visitorFacing.memoryMb,
      timeout: props.timeout ?? Duration.seconds(LAMBDA_FUNCTIONS.visitorFacing.timeoutSeconds),
      role: this.role,
      logGroup: this.logGroup,
      tracing: lambda.Tracing.ACTIVE,
      projectRoot: REPO_ROOT,
      depsLockFilePath: PACKAGE_LOCK,
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        POWERTOOLS_LOG_LEVEL: 'INFO',
      },
      bundling: {
        // The local esbuild from node_modules; never Docker.
        forceDockerBundling: false,
        format: OutputFormat.ESM,
        target: 'node22',
        mainFields: ['module', 'main'],
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        // The SDK is bundled: the version the tests ran is the version that runs.
        externalModules: [],
        // Some CommonJS dependencies call require() for Node built-ins; give ESM one.
        banner:
          "import { createRequire as __wrCreateRequire } from 'node:module'; const require = __wrCreateRequire(import.meta.url);",
      },
    });

    acknowledge(
      this.role,
      'AwsSolutions-IAM5[Resource::*]',
      'X-Ray tracing (active): xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level permissions, so Lambda grants them on "*".',
    );
    acknowledge(
      this.lambda,
      'AwsSolutions-L1',
      'Pinned to nodejs22.x on purpose: the code base is built and tested on Node 22 (CI runs Node 22, engines >=22.12), so the runtime matches CI, and the gate runs the same major on Lambda@Edge; moving to nodejs24.x goes with moving CI.',
    );
  }

  /**
   * `readWrite`: read and write items of the room's table and query its `line` index.
   * `connectionWrites`: only the item writes of `$disconnect`, on the table alone.
   * Sets `WR_TABLE_NAME`.
   */
  bindTable(table: ITable, access: TableAccess = 'readWrite', roomId?: string): this {
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: [...TABLE_ACCESS[access]],
        resources:
          access === 'readWrite'
            ? [table.tableArn, `${table.tableArn}/index/${LINE_INDEX}`]
            : [table.tableArn],
        // `$connect` counts sockets per source address: those items, and no other.
        ...(access === 'sourceCounts'
          ? {
              conditions: {
                'ForAllValues:StringLike': {
                  'dynamodb:LeadingKeys': [sourcePk(roomId ?? '*', '*')],
                },
              },
            }
          : {}),
      }),
    );
    this.lambda.addEnvironment(Env.tableName, table.tableName);
    return this;
  }

  /**
   * Use the arrival queue: `send` (the message handler) may only `sqs:SendMessage`; `consume`
   * (the processor) may only `sqs:ReceiveMessage`, `sqs:DeleteMessage` and
   * `sqs:ChangeMessageVisibility`; both on that queue alone. Sets `WR_ARRIVAL_QUEUE_URL`.
   *
   * Not `queue.grantSendMessages` / `grantConsumeMessages`: those add `sqs:GetQueueAttributes`
   * and `sqs:GetQueueUrl`, which the code never calls. With SQS-managed encryption (the room's
   * queue) no KMS permission is needed; a queue under a KMS key gets the key grants SQS needs.
   */
  bindArrivalQueue(queue: IQueue, role: ArrivalQueueRole): this {
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: [...ARRIVAL_QUEUE_ACCESS[role]],
        resources: [queue.queueArn],
      }),
    );
    if (queue.encryptionMasterKey) {
      const keyActions = role === 'send' ? ['kms:GenerateDataKey', 'kms:Decrypt'] : ['kms:Decrypt'];
      queue.encryptionMasterKey.grant(this.role, ...keyActions);
    }
    this.lambda.addEnvironment(Env.arrivalQueueUrl, queue.queueUrl);
    return this;
  }

  /** Read the room config parameters (`ssm:GetParameters`); sets `WR_CONFIG_PREFIX`. */
  bindConfig(config: BindableRoomConfig): this {
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['ssm:GetParameters'],
        resources: [...config.parameterArns],
      }),
    );
    this.lambda.addEnvironment(Env.configPrefix, config.prefix);
    return this;
  }

  /**
   * Read and decrypt the signing key (`ssm:GetParameter` on that one parameter, `kms:Decrypt`
   * through SSM for that parameter only); sets `WR_SIGNING_KEY_PARAMETER`.
   */
  bindSigningKey(key: BindableSigningKey): this {
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['ssm:GetParameter'], resources: [key.parameterArn] }),
    );
    this.role.addToPrincipalPolicy(kmsThroughSsm(this, key.parameterArn, ['kms:Decrypt']));
    this.lambda.addEnvironment(Env.signingKeyParameter, key.parameterName);
    acknowledge(
      this.role,
      `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:kms:${nagRegion(this)}:<AWS::AccountId>:key/*]`,
      'kms:Decrypt of the SecureString: the id of the AWS managed key aws/ssm is not known at synth, so the resource is key/* in this account and region, narrowed by conditions to calls made by SSM (kms:ViaService) for this one parameter (kms:EncryptionContext:PARAMETER_ARN).',
    );
    return this;
  }

  /**
   * Post to, read and close the stage's connections (`execute-api:ManageConnections`); sets
   * `WR_MANAGEMENT_ENDPOINT` to `https://{apiId}.execute-api.{region}.amazonaws.com/{stage}`.
   */
  bindManagementApi(stage: WebSocketStage): this {
    stage.grantManagementApiAccess(this.role);
    this.lambda.addEnvironment(Env.managementEndpoint, stage.callbackUrl);
    acknowledge(
      this.role,
      `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:execute-api:${nagRegion(this)}:<AWS::AccountId>:<${logicalIdOf(stage.api)}>/${stage.stageName}/*/@connections/*]`,
      'execute-api:ManageConnections on this API and stage only; connection ids are made at run time, so the ARN ends in */@connections/* (any method on any connection of the stage).',
    );
    return this;
  }

  /**
   * Invoke the processor, to wake it when it sleeps with nobody in line
   * (`lambda:InvokeFunction` on that one function, unqualified); sets
   * `WR_PROCESSOR_FUNCTION_NAME`.
   */
  bindProcessorWake(processor: WaitingRoomFunction): this {
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['lambda:InvokeFunction'],
        resources: [processor.lambda.functionArn],
      }),
    );
    this.lambda.addEnvironment(Env.processorFunctionName, processor.lambda.functionName);
    return this;
  }

  /**
   * Invoke this very function (the processor starts its successor shortly before its deadline,
   * by the name Lambda gives it in `AWS_LAMBDA_FUNCTION_NAME`, so no variable is set). The ARN is
   * built from the explicit function name: a reference to the function's own ARN in its role's
   * policy would be a circular dependency (the function waits for the policy).
   */
  allowInvokingItself(): this {
    const name = this.lambda.node.defaultChild as lambda.CfnFunction;
    if (typeof name.functionName !== 'string' || Token.isUnresolved(name.functionName)) {
      throw new Error(`${this.node.path}: allowInvokingItself needs an explicit functionName`);
    }
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['lambda:InvokeFunction'],
        resources: [
          Stack.of(this).formatArn({
            service: 'lambda',
            resource: 'function',
            resourceName: name.functionName,
            arnFormat: ArnFormat.COLON_RESOURCE_NAME,
          }),
        ],
      }),
    );
    return this;
  }

  /**
   * The room's plain settings that this function reads (the rest are left out): room id, main
   * origin, pass TTL, abandon grace, tick, budget, idle time before the processor sleeps, limits
   * per source, the identity token checks (each only when given).
   */
  bindRoomSettings(settings: Partial<RoomRuntimeSettings>): this {
    const variables: Record<keyof RoomRuntimeSettings, string> = {
      roomId: Env.roomId,
      mainOrigin: Env.mainOrigin,
      passTtlSeconds: Env.passTtlSeconds,
      abandonAfterSeconds: Env.abandonAfterSeconds,
      tickMs: Env.tickMs,
      positionBudgetPerSecond: Env.positionBudgetPerSecond,
      sleepAfterIdleSeconds: Env.sleepAfterIdleSeconds,
      allowedOrigins: Env.allowedOrigins,
      maxPlacesPerSource: Env.maxPlacesPerSource,
      sourceLimits: Env.sourceLimits,
      identityPublicKey: Env.identityPublicKey,
      identityJwksUrl: Env.identityJwksUrl,
      identityRequired: Env.identityRequired,
    };
    for (const [key, variable] of Object.entries(variables)) {
      const value = settings[key as keyof RoomRuntimeSettings];
      if (value !== undefined) this.lambda.addEnvironment(variable, String(value));
    }
    return this;
  }
}

/**
 * KMS use as SSM makes it for one SecureString under the AWS managed key `aws/ssm`: only through
 * SSM in this region, and only with that parameter's ARN as encryption context.
 */
export function kmsThroughSsm(
  scope: Construct,
  parameterArn: string,
  actions: string[],
): iam.PolicyStatement {
  const stack = Stack.of(scope);
  return new iam.PolicyStatement({
    actions,
    resources: [stack.formatArn({ service: 'kms', resource: 'key', resourceName: '*' })],
    conditions: {
      StringEquals: {
        'kms:ViaService': `ssm.${stack.region}.amazonaws.com`,
        'kms:EncryptionContext:PARAMETER_ARN': parameterArn,
      },
    },
  });
}
