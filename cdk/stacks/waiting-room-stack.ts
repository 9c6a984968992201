/**
 * The waiting room on AWS, in one region: the WebSocket API and its four functions, the table,
 * the arrival queue (SQS FIFO) and its dead-letter queue, the config parameters and the signing
 * key, the main site's distribution with the room's page, JWKS and flag on it, the access-log
 * bucket, and the dashboard and alarms. The gate (Lambda@Edge) is a child stack in us-east-1 that
 * this stack depends on; the main site's CloudFront logs are delivered by a us-east-1 stack that
 * depends on this one (cdk/stacks/access-logs-stack.ts).
 *
 * The gate bakes in nothing a deploy makes (edgeConfigFor below), so it is attached from the
 * first deploy on. See docs/DEPLOY.md.
 */
import { Annotations, CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import type { Construct } from 'constructs';
import type { EdgeConfig } from '../../edge/edge-config.ts';
import {
  ARRIVAL_QUEUE,
  LAMBDA_FUNCTIONS,
} from '../../functions/adapters/aws/resource-definitions.ts';
import { TABLE_NAME_PARAMETER } from '../../functions/env.ts';
import { acknowledgeCdkSingletons } from '../constructs/cdk-singletons.ts';
import { allowCloudFrontLogDelivery } from '../constructs/cloudfront-access-logs.ts';
import { Gate } from '../constructs/gate.ts';
import { MainSite } from '../constructs/main-site.ts';
import { RoomMonitoring } from '../constructs/monitoring.ts';
import { RoomConfigParameters } from '../constructs/room-config.ts';
import { RoomSite } from '../constructs/room-site.ts';
import { RoomTable } from '../constructs/room-table.ts';
import { RoomWebSocketApi } from '../constructs/room-websocket-api.ts';
import { SigningKey } from '../constructs/signing-key.ts';
import { WaitingRoomFunction } from '../constructs/waiting-room-function.ts';
import { CLIENT_DIST, ROOM_FUNCTION_ENTRIES, type RoomFunctionName } from '../paths.ts';
import {
  isCloudFrontDomain,
  OBSOLETE_CONTEXT_KEYS,
  obsoleteContextKeys,
  ROOM_PATHS,
  type RoomSettings,
} from '../settings.ts';

export interface WaitingRoomStackProps extends StackProps {
  settings: RoomSettings;
  /** Id (and name) of the gate's us-east-1 stack. */
  gateStackId: string;
  /** The Lambda entry points; @default functions/lambda/*.ts */
  entries?: Record<RoomFunctionName, string>;
  /** The built page; @default client/dist */
  clientDist?: string;
}

/** How long the gate trusts one read of the flag. */
export const GATE_FLAG_TTL_MS = 5000;

export class WaitingRoomStack extends Stack {
  readonly functions: Record<RoomFunctionName, WaitingRoomFunction>;
  readonly gate: Gate;
  readonly mainSite: MainSite;
  /** Where S3 server access logs and the main site's CloudFront logs go. */
  readonly accessLogs: s3.Bucket;
  /** Name of the CloudFront log delivery source that may write into {@link accessLogs}. */
  readonly mainSiteLogSource: string;
  /** The arrival queue (SQS FIFO): the message function sends to it, the processor consumes it. */
  readonly arrivalQueue: sqs.Queue;
  /** Where an arrival received {@link ARRIVAL_QUEUE}.maxReceiveCount times goes. */
  readonly arrivalDeadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: WaitingRoomStackProps) {
    super(scope, id, props);
    const { settings } = props;
    const entries = props.entries ?? ROOM_FUNCTION_ENTRIES;

    // S3 server access logs (bucket policy) and CloudFront standard logs v2 (bucket policy, with
    // the bucket-owner-full-control ACL that an owner-enforced bucket accepts): no ACLs needed.
    // (cdk-nag's S1 knows a log-target bucket needs no access log of its own.)
    const accessLogs = new s3.Bucket(this, 'AccessLogs', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ expiration: Duration.days(90) }],
    });
    this.accessLogs = accessLogs;
    // The main site's CloudFront logs come from a delivery in us-east-1 (the access-logs
    // stack), by this name; the bucket lets that one delivery write.
    this.mainSiteLogSource = `${this.stackName}-main-site`;
    allowCloudFrontLogDelivery(accessLogs, this.mainSiteLogSource);

    const table = new RoomTable(this, 'Table').table;
    // Where `npm run room -- console --aws` finds the table: beside the settings it reads.
    new ssm.StringParameter(this, 'TableNameParameter', {
      parameterName: `${settings.configPrefix}${TABLE_NAME_PARAMETER}`,
      stringValue: table.tableName,
      description: "The waiting room's table (npm run room -- console --aws)",
    });
    // Arrivals, in order: a FIFO queue in high-throughput mode (deduplication and the throughput
    // quota per message group). Content-based deduplication is off: the sender gives each
    // arrival its deduplication id, so two arrivals with the same body are still two. Both queues
    // keep a message 14 days (SQS's maximum: it outlives any launch); the visibility timeout is
    // only the default, the processor sets its own on each receive. SSE-SQS (no key to grant) and
    // TLS only on both. The attributes are ARRIVAL_QUEUE's, which start:aws-local creates too.
    const queueNames = arrivalQueueNames(this);
    const arrivalDeadLetterQueue = new sqs.Queue(this, 'ArrivalDeadLetterQueue', {
      queueName: queueNames.deadLetters,
      fifo: true,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.seconds(ARRIVAL_QUEUE.retentionSeconds),
    });
    const arrivalQueue = new sqs.Queue(this, 'ArrivalQueue', {
      queueName: queueNames.arrivals,
      fifo: true,
      deduplicationScope: sqs.DeduplicationScope.MESSAGE_GROUP,
      fifoThroughputLimit: sqs.FifoThroughputLimit.PER_MESSAGE_GROUP_ID,
      contentBasedDeduplication: ARRIVAL_QUEUE.contentBasedDeduplication,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.seconds(ARRIVAL_QUEUE.retentionSeconds),
      visibilityTimeout: Duration.seconds(ARRIVAL_QUEUE.visibilityTimeoutSeconds),
      deadLetterQueue: {
        queue: arrivalDeadLetterQueue,
        maxReceiveCount: ARRIVAL_QUEUE.maxReceiveCount,
      },
    });
    this.arrivalQueue = arrivalQueue;
    this.arrivalDeadLetterQueue = arrivalDeadLetterQueue;

    const config = new RoomConfigParameters(this, 'Config', {
      prefix: settings.configPrefix,
      initialEnabled: true,
      initialAdmitPerMinute: settings.initialAdmitPerMinute,
    });
    const roomSite = new RoomSite(this, 'RoomSite', {
      clientDist: props.clientDist ?? CLIENT_DIST,
      config,
      accessLogs,
    });
    // The key ring, its JWKS in the room site's bucket, and the function that rotates it.
    const signingKey = new SigningKey(this, 'SigningKey', {
      parameterName: settings.signingKeyParameter,
      bucket: roomSite.bucket,
      passTtlSeconds: settings.passTtlSeconds,
      configPrefix: settings.configPrefix,
    });

    // The gate bakes settings.passTtlSeconds, the pass lifetime the functions sign with
    // (runtimeSettings below): one setting, so what it enforces and what they sign cannot differ.
    this.gate = new Gate(this, 'Gate', {
      config: edgeConfigFor(settings),
      stackId: props.gateStackId,
    });
    for (const key of obsoleteContextKeys(this.node)) {
      Annotations.of(this).addWarningV2(
        `waiting-room:obsolete-context-${key}`,
        `The context value ${key} ${OBSOLETE_CONTEXT_KEYS[key]}`,
      );
    }

    // The settings guarantee a certificate for any domain that is not the distribution's own.
    const customDomain =
      settings.mainSiteDomain &&
      settings.mainSiteCertificateArn &&
      !isCloudFrontDomain(settings.mainSiteDomain)
        ? { name: settings.mainSiteDomain, certificateArn: settings.mainSiteCertificateArn }
        : undefined;

    const fn = (name: string, entry: string, description: string) =>
      new WaitingRoomFunction(this, name, { entry, description });
    const connect = fn('Connect', entries.connect, 'Waiting room: $connect');
    const disconnect = fn('Disconnect', entries.disconnect, 'Waiting room: $disconnect');
    const message = fn('Message', entries.message, 'Waiting room: join, resume, status, ping');
    const processor = new WaitingRoomFunction(this, 'Processor', {
      entry: entries.processor,
      description: 'Waiting room: numbers arrivals, admits, pushes positions (one leader)',
      // Named, so that its own policy can name its ARN (it invokes its successor).
      functionName: processorFunctionName(this),
      // It loops at the tick until shortly before its deadline. The lease (a conditional write
      // in the table) keeps exactly one invocation ticking; any other one exits at once. So no
      // reserved concurrency: reserving any fails in a new account, which must keep 10
      // executions unreserved, and the lease already bounds what the processor runs.
      timeout: Duration.seconds(LAMBDA_FUNCTIONS.processor.timeoutSeconds),
      memorySize: LAMBDA_FUNCTIONS.processor.memoryMb,
    });
    this.functions = { connect, disconnect, message, processor };

    const webSocket = new RoomWebSocketApi(this, 'WebSocket', {
      connect: connect.lambda,
      disconnect: disconnect.lambda,
      message: message.lambda,
      rateLimit: settings.webSocketRateLimit,
      burstLimit: settings.webSocketBurstLimit,
      accessLogs: settings.webSocketAccessLogs,
    });

    // The API comes before the distribution: the page's Content-Security-Policy names the
    // API's wss:// origin. (The API itself refers to nothing here; its routes do, to the
    // functions, whose settings refer to the distribution: no cycle.)
    this.mainSite = new MainSite(this, 'MainSite', {
      originDomain: settings.mainSiteOrigin,
      customDomain,
      gate: this.gate.edgeFunction.currentVersion,
      roomBehaviors: roomSite.behaviors({ webSocketOrigin: webSocket.origin }),
      ungatedPaths: settings.ungatedMainSitePaths,
      accessLogs,
    });
    // The distribution's own domain is always right; a custom domain is what visitors use.
    const mainOrigin = customDomain
      ? `https://${customDomain.name}`
      : `https://${this.mainSite.distribution.distributionDomainName}`;

    const runtimeSettings = {
      roomId: settings.roomId,
      mainOrigin,
      passTtlSeconds: settings.passTtlSeconds,
      abandonAfterSeconds: settings.abandonAfterSeconds,
      tickMs: settings.tickMs,
      positionBudgetPerSecond: settings.positionBudgetPerSecond,
      sleepAfterIdleSeconds: settings.sleepAfterIdleSeconds,
      maxPlacesPerSource: settings.maxPlacesPerSource,
      sourceLimits: settings.sourceLimits ? ('on' as const) : ('off' as const),
      // The page is served on the distribution's own domain too (as well as a custom one).
      allowedOrigins: [
        ...(customDomain ? [`https://${this.mainSite.distribution.distributionDomainName}`] : []),
        ...settings.allowedOrigins,
      ].join(','),
    };
    // Each function gets what its entry point reads at cold start (functions/lambda/*.ts,
    // `readSettings([...])`) and the permissions its calls need, nothing else. `$connect`
    // only counts new sockets per source address and reads the origins it lets in;
    // `$disconnect` only detaches the connection in the table.
    connect.bindRoomSettings({
      roomId: runtimeSettings.roomId,
      mainOrigin: runtimeSettings.mainOrigin,
      allowedOrigins: runtimeSettings.allowedOrigins,
      maxPlacesPerSource: runtimeSettings.maxPlacesPerSource,
      sourceLimits: runtimeSettings.sourceLimits,
    });
    connect.bindTable(table, 'sourceCounts', settings.roomId);
    disconnect
      .bindTable(table, 'connectionWrites')
      .bindRoomSettings({ roomId: runtimeSettings.roomId });
    // The arrival queue: the message function only sends, the processor only consumes; no other
    // function gets it.
    message
      .bindTable(table)
      .bindArrivalQueue(arrivalQueue, 'send')
      .bindConfig(config)
      .bindSigningKey(signingKey)
      .bindRoomSettings({
        roomId: runtimeSettings.roomId,
        mainOrigin: runtimeSettings.mainOrigin,
        passTtlSeconds: runtimeSettings.passTtlSeconds,
        maxPlacesPerSource: runtimeSettings.maxPlacesPerSource,
        sourceLimits: runtimeSettings.sourceLimits,
        // Identity tokens are checked at join only; each variable only when the deploy sets it.
        identityPublicKey: settings.identityPublicKey,
        identityJwksUrl: settings.identityJwksUrl,
        identityRequired: settings.identityRequired ? 'true' : undefined,
      })
      .bindProcessorWake(processor);
    processor
      .bindTable(table)
      .bindArrivalQueue(arrivalQueue, 'consume')
      .bindConfig(config)
      .bindSigningKey(signingKey)
      .bindRoomSettings({ ...runtimeSettings, allowedOrigins: undefined })
      .allowInvokingItself();

    // Replies (message) and pushes (processor); `$connect` and `$disconnect` post nothing.
    for (const f of [message, processor]) f.bindManagementApi(webSocket.stage);

    // A missed or failed start (schedule, wake or successor) is made good by the schedule a
    // minute later; never replay old ones.
    processor.lambda.configureAsyncInvoke({
      retryAttempts: 0,
      maxEventAge: Duration.seconds(LAMBDA_FUNCTIONS.processor.maxEventAgeSeconds),
    });
    new events.Rule(this, 'ProcessorSchedule', {
      description:
        "The waiting room processor's watchdog: a run that finds the lease held ends at once",
      schedule: events.Schedule.rate(Duration.seconds(LAMBDA_FUNCTIONS.processor.scheduleSeconds)),
      targets: [new targets.LambdaFunction(processor.lambda, { retryAttempts: 0 })],
    });
    // The handlers read the config the processor mirrors at each tick: a change made while it
    // sleeps (any setting: a closing or a message must reach the line at once too) wakes it,
    // so the mirror follows within a second (SSM emits a change event).
    new events.Rule(this, 'ConfigChanged', {
      description: 'Wakes the waiting room processor when an operator changes the room config',
      eventPattern: {
        source: ['aws.ssm'],
        detailType: ['Parameter Store Change'],
        detail: { name: [...config.parameterNames] },
      },
      targets: [
        new targets.LambdaFunction(processor.lambda, {
          // A lost wake would leave the handlers on the old config until the watchdog's next
          // run; a repeated one waits for the lease and ends.
          retryAttempts: 2,
          event: events.RuleTargetInput.fromObject({ waitingRoom: 'wake' }),
        }),
      ],
    });

    roomSite.publish({
      distribution: this.mainSite.distribution,
      page: {
        wsUrl: webSocket.stage.url,
        mainOrigin,
        roomName: settings.roomName,
        eventText: settings.eventText,
        eventLogo: settings.eventLogo,
        brandColor: settings.brandColor,
      },
    });

    const monitoring = new RoomMonitoring(this, 'Monitoring', {
      functions: {
        connect: connect.lambda,
        disconnect: disconnect.lambda,
        message: message.lambda,
        processor: processor.lambda,
      },
      processor: processor.lambda,
      apiId: webSocket.api.apiId,
      stageName: webSocket.stage.stageName,
    });

    // Numbering an arrival is idempotent (a repeated delivery gets the place it already has), so
    // a message the processor received 5 times without deleting it is a bug, never load. The
    // stack has no alarm topic: like the other alarms this one has no action (docs/DEPLOY.md).
    const deadLetters = arrivalDeadLetterQueue.metricApproximateNumberOfMessagesVisible({
      period: Duration.minutes(1),
      statistic: 'Maximum',
    });
    const deadLettersAlarm = new cloudwatch.Alarm(this, 'ArrivalDeadLettersAlarm', {
      alarmDescription: `An arrival was received ${ARRIVAL_QUEUE.maxReceiveCount} times without being deleted and is in the dead-letter queue ${queueNames.deadLetters}. Numbering is idempotent, so any message here is a bug, not load: that visitor may be missing from the line. Read the processor log, fix the cause, then redrive the message to ${queueNames.arrivals}.`,
      metric: deadLetters,
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    monitoring.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Arrival queue',
        left: [
          arrivalQueue.metricApproximateNumberOfMessagesVisible({
            period: Duration.minutes(1),
            statistic: 'Maximum',
            label: 'Arrivals waiting',
          }),
        ],
        right: [
          arrivalQueue.metricApproximateAgeOfOldestMessage({
            period: Duration.minutes(1),
            statistic: 'Maximum',
            label: 'Oldest arrival (s)',
          }),
        ],
        width: 8,
      }),
      new cloudwatch.AlarmWidget({
        title: 'Arrival dead-letter queue',
        alarm: deadLettersAlarm,
        width: 8,
      }),
    );

    acknowledgeCdkSingletons(this, {
      deployedBuckets: [
        roomSite.bucket,
        ...(this.mainSite.demoBucket ? [this.mainSite.demoBucket] : []),
      ],
      bootstrapQualifier: settings.bootstrapQualifier,
    });

    new CfnOutput(this, 'MainSiteUrl', { value: `${mainOrigin}/` });
    new CfnOutput(this, 'WaitingRoomUrl', { value: `${mainOrigin}${ROOM_PATHS.page}` });
    new CfnOutput(this, 'JwksUrl', { value: `${mainOrigin}${ROOM_PATHS.jwks}` });
    new CfnOutput(this, 'WebSocketUrl', { value: webSocket.stage.url });
    new CfnOutput(this, 'MainSiteDomain', {
      description:
        "The distribution's own domain: where a custom mainSiteDomain must point (CNAME or alias)",
      value: this.mainSite.distribution.distributionDomainName,
    });
    new CfnOutput(this, 'DashboardName', { value: monitoring.dashboard.dashboardName });
    new CfnOutput(this, 'ArrivalQueueUrl', {
      description: `The arrival queue (SQS FIFO); its dead-letter queue is ${queueNames.deadLetters}`,
      value: arrivalQueue.queueUrl,
    });
  }
}

/**
 * The names of the arrival queue and its dead-letter queue: `<stack name>-arrivals.fifo` and
 * `<stack name>-arrivals-dlq.fifo`, one pair per stack (so per room), within SQS's 80 characters.
 */
export function arrivalQueueNames(stack: Stack): { arrivals: string; deadLetters: string } {
  const names = {
    arrivals: `${stack.stackName}-${ARRIVAL_QUEUE.suffix}`,
    deadLetters: `${stack.stackName}-${ARRIVAL_QUEUE.deadLetterSuffix}`,
  };
  for (const name of Object.values(names)) {
    if (name.length > 80 || !/^[A-Za-z0-9_-]+\.fifo$/.test(name)) {
      throw new Error(`the queue name "${name}" is not a valid SQS FIFO queue name`);
    }
  }
  return names;
}

/**
 * The processor's function name: `<stack name>-processor`, within Lambda's 64 characters. Fixed
 * rather than generated, so that the processor's policy can name its own ARN without a reference
 * to the function (which would be circular).
 */
export function processorFunctionName(stack: Stack): string {
  const name = `${stack.stackName}-processor`;
  if (name.length > 64 || !/^[A-Za-z0-9_-]+$/.test(name)) {
    throw new Error(`the processor's function name "${name}" is not a valid Lambda name`);
  }
  return name;
}

/**
 * The config baked into the gate: the same-origin form. No origin and no key in it: the gate
 * takes the main site's origin from each request's `Host` (the distribution's own domain, or an
 * alias), and reads the flag and the public keys from that origin, where this distribution
 * serves them on paths the gate never gates. Nothing in it depends on a deploy, so the gate can
 * be built before the distribution and the key exist.
 *
 * `mainOrigin` is not baked even with a custom domain: that way the gate on the
 * `*.cloudfront.net` name reads from that name, so the whole room can be tried there before the
 * custom domain's DNS points at the distribution. A visitor who comes in on that name waits
 * there, and the room then sends them on to the custom domain, the audience of its passes.
 */
export function edgeConfigFor(
  settings: Pick<RoomSettings, 'roomId' | 'passTtlSeconds'>,
): EdgeConfig {
  return {
    gate: {
      roomId: settings.roomId,
      waitingRoomUrl: ROOM_PATHS.page,
      ungatedPaths: [...ROOM_PATHS.ungated],
      defaultEnabled: true,
      flagTtlMs: GATE_FLAG_TTL_MS,
      // The lifetime the message and processor functions sign passes with (WR_PASS_TTL_SECONDS,
      // from the same setting): a pass that claims a longer one is refused at the edge.
      passTtlSeconds: settings.passTtlSeconds,
    },
    jwksUrl: ROOM_PATHS.jwks,
    flagUrl: ROOM_PATHS.flag,
  };
}
