/**
 * The whole CDK app as the very first deploy makes it (cdk.json's context, nothing copied from an
 * earlier deploy) plus a GitHub repository: synthesized once, with real bundling, then read.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { CLOUDFRONT_LOG_FIELDS } from '../../cdk/constructs/cloudfront-access-logs.ts';
import { ROOM_FUNCTION_ENTRIES, type RoomFunctionName } from '../../cdk/paths.ts';
import { ROOM_PATHS } from '../../cdk/settings.ts';
import { edgeConfigFor } from '../../cdk/stacks/waiting-room-stack.ts';
import { parseEdgeConfig } from '../../edge/edge-config.ts';
import { isUngatedPath } from '../../edge/gate.ts';
import {
  ARRIVAL_QUEUE,
  arrivalQueueAttributes,
  createTableInput,
  deadLetterQueueAttributes,
  LAMBDA_FUNCTIONS,
  ROOM_TABLE,
} from '../../functions/adapters/aws/resource-definitions.ts';
import { Env } from '../../functions/env.ts';
import { METRICS_NAMESPACE, Metric, SERVICE_NAME } from '../../functions/lambda/observability.ts';
import { DATA_SECURITY_POLICY } from '../../local/http-util.ts';
import { pageSecurityPolicy } from '../../local/static-page.ts';
import { type SynthesizedApp, synthApp } from './synth.ts';

const REPOSITORY = 'acme/waiting-room';

type Resources = Record<string, { Type: string; Properties: Record<string, unknown> }>;
interface Statement {
  Action: string | string[];
  Resource: unknown;
  Effect: string;
  Condition?: Record<string, Record<string, unknown>>;
}

let synthesized: SynthesizedApp;
let room: Template;
let gate: Template;
let oidc: Template;

beforeAll(() => {
  synthesized = synthApp({ githubRepository: REPOSITORY });
  room = Template.fromStack(synthesized.room);
  if (!synthesized.gate || !synthesized.githubOidc) throw new Error('expected all three stacks');
  gate = Template.fromStack(synthesized.gate);
  oidc = Template.fromStack(synthesized.githubOidc);
}, 180_000);

function resources(template: Template, type: string): Resources {
  return template.findResources(type) as Resources;
}

function onlyResource(template: Template, type: string, props: object = {}) {
  const found = Object.entries(template.findResources(type, { Properties: props }));
  expect(found).toHaveLength(1);
  return found[0] as [string, { Properties: Record<string, unknown> }];
}

function functionLogicalId(prefix: string): string {
  const ids = Object.keys(resources(room, 'AWS::Lambda::Function')).filter((id) =>
    id.startsWith(`${prefix}Function`),
  );
  expect(ids).toHaveLength(1);
  return ids[0] as string;
}

function defined<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`${what} is missing`);
  return value;
}

function functionProperties(prefix: string): Record<string, unknown> {
  const fn = resources(room, 'AWS::Lambda::Function')[functionLogicalId(prefix)];
  return defined(fn, `function ${prefix}`).Properties;
}

/** Statements of the policies attached to a function's role. */
function statementsOf(prefix: string): Statement[] {
  const role = functionProperties(prefix).Role as { 'Fn::GetAtt': [string, string] };
  const roleRef = role['Fn::GetAtt'][0];
  return Object.values(resources(room, 'AWS::IAM::Policy'))
    .filter((p) => (p.Properties.Roles as Array<{ Ref: string }>).some((r) => r.Ref === roleRef))
    .flatMap((p) => (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
}

function actionsOf(statements: Statement[]): string[] {
  return statements.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));
}

function environmentOf(prefix: string): Record<string, unknown> {
  return (functionProperties(prefix).Environment as { Variables: Record<string, unknown> })
    .Variables;
}

/** Contents of the files called `name` in the synthesized assets. */
function assetFiles(name: string): string[] {
  const outdir = synthesized.app.outdir;
  return readdirSync(outdir)
    .filter((entry) => entry.startsWith('asset.') && statSync(join(outdir, entry)).isDirectory())
    .flatMap((entry) =>
      readdirSync(join(outdir, entry))
        .filter((file) => file === name)
        .map((file) => readFileSync(join(outdir, entry, file), 'utf8')),
    );
}

/** Every function of the room stack, by its logical id. */
function everyFunctionId(): string[] {
  return Object.keys(resources(room, 'AWS::Lambda::Function'));
}

/** Statements of the policies attached to the role of the function with this logical id. */
function statementsOfFunctionId(id: string): Statement[] {
  const fn = defined(resources(room, 'AWS::Lambda::Function')[id], `function ${id}`);
  const roleRef = JSON.stringify(fn.Properties.Role);
  return Object.values(resources(room, 'AWS::IAM::Policy'))
    .filter((p) =>
      (p.Properties.Roles as unknown[]).some(
        (r) => roleRef === JSON.stringify({ 'Fn::GetAtt': [(r as { Ref: string }).Ref, 'Arn'] }),
      ),
    )
    .flatMap((p) => (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
}

/** The arrival queue and its dead-letter queue, by logical id. */
function arrivalQueues() {
  const [dlqId, dlq] = onlyResource(room, 'AWS::SQS::Queue', { RedrivePolicy: Match.absent() });
  const [queueId, queue] = onlyResource(room, 'AWS::SQS::Queue', {
    RedrivePolicy: Match.anyValue(),
  });
  return { queueId, queue: queue.Properties, dlqId, dlq: dlq.Properties };
}

describe('arrival queue', () => {
  it('is one FIFO queue in high-throughput mode, deduplicated by the sender, encrypted, kept 14 days', () => {
    // Prepare
    const { queue } = arrivalQueues();

    // Assess
    room.resourceCountIs('AWS::SQS::Queue', 2);
    expect(queue).toEqual({
      QueueName: 'WaitingRoom-arrivals.fifo',
      FifoQueue: true,
      DeduplicationScope: 'messageGroup',
      FifoThroughputLimit: 'perMessageGroupId',
      ContentBasedDeduplication: false,
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 1_209_600,
      VisibilityTimeout: 30,
      RedrivePolicy: expect.anything(),
    });
  });

  it('moves a message received 5 times to a FIFO dead-letter queue, encrypted and kept 14 days', () => {
    // Prepare
    const { queue, dlqId, dlq } = arrivalQueues();

    // Assess
    expect(queue.RedrivePolicy).toEqual({
      deadLetterTargetArn: { 'Fn::GetAtt': [dlqId, 'Arn'] },
      maxReceiveCount: 5,
    });
    expect(dlq).toEqual({
      QueueName: 'WaitingRoom-arrivals-dlq.fifo',
      FifoQueue: true,
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 1_209_600,
    });
    expect(dlq.KmsMasterKeyId).toBeUndefined();
  });

  it('refuses requests without TLS on both queues', () => {
    // Prepare
    const { queueId, dlqId } = arrivalQueues();

    // Act
    const tlsOnly = Object.values(resources(room, 'AWS::SQS::QueuePolicy')).filter((p) =>
      JSON.stringify(p.Properties).includes('"aws:SecureTransport":"false"'),
    );

    // Assess
    expect(tlsOnly).toHaveLength(2);
    expect(tlsOnly.map((p) => p.Properties.Queues)).toEqual(
      expect.arrayContaining([[{ Ref: queueId }], [{ Ref: dlqId }]]),
    );
  });

  it('is in the room stack alone', () => {
    for (const template of [gate, oidc, Template.fromStack(synthesized.accessLogs)]) {
      template.resourceCountIs('AWS::SQS::Queue', 0);
    }
  });

  it('gives its URL to the message function and the processor, and to no other function', () => {
    // Prepare
    const { queueId } = arrivalQueues();
    const users = [functionLogicalId('Message'), functionLogicalId('Processor')];

    // Assess
    for (const name of ['Message', 'Processor']) {
      expect(environmentOf(name)[Env.arrivalQueueUrl], name).toEqual({ Ref: queueId });
    }
    for (const id of everyFunctionId().filter((id) => !users.includes(id))) {
      const variables = (
        resources(room, 'AWS::Lambda::Function')[id]?.Properties.Environment as
          | { Variables?: Record<string, unknown> }
          | undefined
      )?.Variables;
      expect(variables?.[Env.arrivalQueueUrl], id).toBeUndefined();
    }
  });

  it('is an output of the room stack', () => {
    const { queueId } = arrivalQueues();
    room.hasOutput('ArrivalQueueUrl', { Value: { Ref: queueId } });
  });
});

describe('table', () => {
  it('has pk/sk keys, TTL on ttl, on-demand billing, point-in-time recovery and the line index', () => {
    room.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
      TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      GlobalSecondaryIndexes: [
        {
          IndexName: 'line',
          KeySchema: [
            { AttributeName: 'line', KeyType: 'HASH' },
            { AttributeName: 'seq', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
      AttributeDefinitions: Match.arrayWith([
        { AttributeName: 'line', AttributeType: 'S' },
        { AttributeName: 'seq', AttributeType: 'S' },
      ]),
    });
  });
});

describe('what start:aws-local creates', () => {
  it('is the deployed table: keys, attributes, index and TTL from one definition', () => {
    // Prepare
    const local = createTableInput('any');
    const [, deployed] = Object.entries(resources(room, 'AWS::DynamoDB::Table'))[0] ?? [];

    // Assess
    expect(deployed?.Properties).toMatchObject({
      KeySchema: local.KeySchema,
      BillingMode: local.BillingMode,
      GlobalSecondaryIndexes: local.GlobalSecondaryIndexes,
      TimeToLiveSpecification: { AttributeName: ROOM_TABLE.timeToLiveAttribute, Enabled: true },
    });
    expect(
      new Set(deployed?.Properties.AttributeDefinitions as { AttributeName: string }[]),
    ).toEqual(new Set(local.AttributeDefinitions));
  });

  it('is the deployed queue pair: the attributes of both queues and the redrive from one definition', () => {
    // Prepare
    const { queue, dlqId, dlq } = arrivalQueues();
    const dlqArn = 'arn:aws:sqs:eu-west-1:123456789012:dead-letters.fifo';
    // The template's properties as the attributes of a CreateQueue request, with the DLQ's
    // reference in the redrive policy standing for its ARN.
    const asAttributes = (properties: Record<string, unknown>) =>
      Object.fromEntries(
        Object.entries(properties)
          .filter(([key]) => key !== 'QueueName')
          .map(([key, value]) => {
            if (key !== 'RedrivePolicy') return [key, String(value)];
            const redrive = value as { deadLetterTargetArn: unknown; maxReceiveCount: number };
            expect(redrive.deadLetterTargetArn).toEqual({ 'Fn::GetAtt': [dlqId, 'Arn'] });
            return [key, JSON.stringify({ ...redrive, deadLetterTargetArn: dlqArn })];
          }),
      );

    // Assess
    expect(asAttributes(queue)).toEqual(arrivalQueueAttributes(dlqArn));
    expect(asAttributes(dlq)).toEqual(deadLetterQueueAttributes());
    expect(queue.QueueName).toBe(`WaitingRoom-${ARRIVAL_QUEUE.suffix}`);
    expect(dlq.QueueName).toBe(`WaitingRoom-${ARRIVAL_QUEUE.deadLetterSuffix}`);
  });

  it('gives the functions the memory, timeout and schedule it runs them with', () => {
    room.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('numbers arrivals'),
      MemorySize: LAMBDA_FUNCTIONS.processor.memoryMb,
      Timeout: LAMBDA_FUNCTIONS.processor.timeoutSeconds,
    });
    room.hasResourceProperties('AWS::Lambda::Function', {
      Description: 'Waiting room: join, resume, status, ping',
      MemorySize: LAMBDA_FUNCTIONS.visitorFacing.memoryMb,
      Timeout: LAMBDA_FUNCTIONS.visitorFacing.timeoutSeconds,
    });
    room.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(1 minute)' });
  });
});

describe('WebSocket API', () => {
  it('selects routes by $request.body.action', () => {
    room.hasResourceProperties('AWS::ApiGatewayV2::Api', {
      ProtocolType: 'WEBSOCKET',
      RouteSelectionExpression: '$request.body.action',
    });
  });

  it('sends $connect, $disconnect and the message routes to their functions', () => {
    const integrations = resources(room, 'AWS::ApiGatewayV2::Integration');
    const functionOf = (routeKey: string) => {
      const route = Object.values(resources(room, 'AWS::ApiGatewayV2::Route')).find(
        (r) => r.Properties.RouteKey === routeKey,
      );
      const target = JSON.stringify(route?.Properties.Target);
      const integrationId = Object.keys(integrations).find((id) => target.includes(id));
      return JSON.stringify(integrations[integrationId ?? '']?.Properties.IntegrationUri);
    };
    expect(functionOf('$connect')).toContain(functionLogicalId('Connect'));
    expect(functionOf('$disconnect')).toContain(functionLogicalId('Disconnect'));
    for (const key of ['$default', 'join', 'resume', 'status', 'ping']) {
      expect(functionOf(key)).toContain(functionLogicalId('Message'));
    }
    room.resourceCountIs('AWS::ApiGatewayV2::Route', 7);
  });

  it('deploys one stage automatically, with message throttling', () => {
    room.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 5000, ThrottlingBurstLimit: 5000 },
    });
  });
});

/** The functions, by their construct id, and their entry point in functions/lambda/. */
const ENTRY_OF = {
  Connect: 'connect',
  Disconnect: 'disconnect',
  Message: 'message',
  Processor: 'processor',
} as const satisfies Record<string, RoomFunctionName>;

/**
 * Variables a function may go without (the setting then reads as unset): the deploy sets each
 * only when its context key is set (`deploy-variants.test.ts`).
 */
const UNSET_UNLESS_USED: readonly string[] = [
  Env.identityPublicKey,
  Env.identityJwksUrl,
  Env.identityRequired,
];

/**
 * The variables an entry point needs at cold start: the names it lists in `readSettings([...])`
 * (each setting is named like its `Env` key) but those it may go without. A missing one crashes
 * the function's cold start.
 */
function variablesReadBy(name: keyof typeof ENTRY_OF): string[] {
  const source = readFileSync(ROOM_FUNCTION_ENTRIES[ENTRY_OF[name]], 'utf8');
  const list = /readSettings\(\[([^\]]*)\]/.exec(source)?.[1] ?? '';
  return [...list.matchAll(/'(\w+)'/g)]
    .map(([, setting]) => {
      const variable = Env[setting as keyof typeof Env];
      if (!variable) throw new Error(`${name} reads ${setting}, which functions/env.ts lacks`);
      return variable;
    })
    .filter((variable) => !UNSET_UNLESS_USED.includes(variable));
}

function roomVariablesOf(name: string): string[] {
  return Object.keys(environmentOf(name))
    .filter((variable) => variable.startsWith('WR_'))
    .sort();
}

describe('functions', () => {
  it.each(['Connect', 'Disconnect', 'Message', 'Processor'])(
    '%s runs Node.js 22 on ARM64 with X-Ray and its own log group',
    (name) => {
      const fn = resources(room, 'AWS::Lambda::Function')[functionLogicalId(name)];
      expect(fn?.Properties).toMatchObject({
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        TracingConfig: { Mode: 'Active' },
        LoggingConfig: { LogGroup: expect.anything() },
      });
    },
  );

  it.each(Object.keys(ENTRY_OF) as Array<keyof typeof ENTRY_OF>)(
    '%s gets every variable its entry point reads at cold start',
    (name) => {
      expect(roomVariablesOf(name)).toEqual(expect.arrayContaining(variablesReadBy(name)));
    },
  );

  it.each([
    [
      'Connect',
      [
        Env.mainOrigin,
        Env.allowedOrigins,
        Env.tableName,
        Env.roomId,
        Env.maxPlacesPerSource,
        Env.sourceLimits,
      ],
    ],
    ['Disconnect', [Env.roomId, Env.tableName]],
    [
      'Message',
      [
        Env.tableName,
        Env.configPrefix,
        Env.signingKeyParameter,
        Env.managementEndpoint,
        Env.roomId,
        Env.mainOrigin,
        Env.passTtlSeconds,
        Env.processorFunctionName,
        Env.maxPlacesPerSource,
        Env.sourceLimits,
        Env.arrivalQueueUrl,
      ],
    ],
    [
      'Processor',
      [
        Env.tableName,
        Env.arrivalQueueUrl,
        Env.configPrefix,
        Env.signingKeyParameter,
        Env.managementEndpoint,
        Env.roomId,
        Env.mainOrigin,
        Env.passTtlSeconds,
        Env.abandonAfterSeconds,
        Env.tickMs,
        Env.positionBudgetPerSecond,
        Env.sleepAfterIdleSeconds,
        Env.maxPlacesPerSource,
        Env.sourceLimits,
      ],
    ],
  ] as const)('%s gets no room variable beyond what it uses', (name, expected) => {
    expect(roomVariablesOf(name)).toEqual([...expected].sort());
  });

  it('tells only the message function the name of the processor, to wake it', () => {
    expect(environmentOf('Message')[Env.processorFunctionName]).toEqual({
      Ref: functionLogicalId('Processor'),
    });
    for (const name of ['Connect', 'Disconnect', 'Processor']) {
      expect(environmentOf(name)[Env.processorFunctionName], name).toBeUndefined();
    }
  });

  it('points the management endpoint at the stage callback URL', () => {
    expect(JSON.stringify(environmentOf('Processor')[Env.managementEndpoint])).toMatch(
      /"https:\/\/",\{"Ref":"WebSocketApi\w+"\},"\.execute-api\.eu-west-1\.",\{"Ref":"AWS::URLSuffix"\},"\/live"/,
    );
  });

  it('keeps every function log group for a month', () => {
    const groups = Object.values(resources(room, 'AWS::Logs::LogGroup'));
    expect(groups.length).toBeGreaterThanOrEqual(6);
    for (const group of groups) expect(group.Properties.RetentionInDays).toBe(30);
  });

  it('starts the processor every minute, with the timeout of the resource definitions', () => {
    const processorId = functionLogicalId('Processor');
    room.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 minute)',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [processorId, 'Arn'] } })],
    });
    expect(resources(room, 'AWS::Lambda::Function')[processorId]?.Properties).toMatchObject({
      Timeout: LAMBDA_FUNCTIONS.processor.timeoutSeconds,
    });
  });

  it('wakes the processor when an operator changes any room setting in SSM', () => {
    const processorId = functionLogicalId('Processor');
    room.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.ssm'],
        'detail-type': ['Parameter Store Change'],
        detail: {
          name: [
            '/waiting-room/config/enabled',
            '/waiting-room/config/admit-per-minute',
            '/waiting-room/config/opens-at',
            '/waiting-room/config/pow-cost',
            '/waiting-room/config/message',
            '/waiting-room/config/closed',
          ],
        },
      },
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [processorId, 'Arn'] },
          Input: JSON.stringify({ waitingRoom: 'wake' }),
        }),
      ],
    });
  });

  it('reserves no concurrency for any function, so a new account (10 unreserved at least) can deploy', () => {
    // The lease keeps one processor ticking; extra invocations exit at once.
    for (const [id, fn] of Object.entries(resources(room, 'AWS::Lambda::Function'))) {
      expect(fn.Properties.ReservedConcurrentExecutions, id).toBeUndefined();
    }
  });
});

/** Actions of a function's role beyond writing its own logs and X-Ray traces. */
function ownActionsOf(name: string): string[] {
  return actionsOf(statementsOf(name))
    .filter((a) => !a.startsWith('logs:') && !a.startsWith('xray:'))
    .sort();
}

/** A function's statements with DynamoDB actions; each must name the room's table itself. */
function tableStatementsOf(name: string): Statement[] {
  const statements = statementsOf(name).filter((s) =>
    actionsOf([s]).some((a) => a.startsWith('dynamodb:')),
  );
  expect(statements.length, name).toBeGreaterThan(0);
  for (const statement of statements) {
    const targets = Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource];
    expect(targets, name).toContainEqual({
      'Fn::GetAtt': [expect.stringMatching(/^Table/), 'Arn'],
    });
  }
  return statements;
}

/** The DynamoDB actions a function may call on the room's table. */
function tableActionsOf(name: string): string[] {
  return actionsOf(tableStatementsOf(name));
}

describe('least privilege', () => {
  it("lets $connect only count new sockets: UpdateItem on its room's per-source items, nothing else", () => {
    expect(ownActionsOf('Connect')).toEqual(['dynamodb:UpdateItem']);
    const dynamo = statementsOf('Connect').filter((s) =>
      actionsOf([s]).some((a) => a.startsWith('dynamodb:')),
    );
    expect(dynamo).toEqual([
      expect.objectContaining({
        Resource: { 'Fn::GetAtt': [expect.stringMatching(/^Table/), 'Arn'] },
        Condition: {
          'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['R#waiting-room#SRC#*'] },
        },
      }),
    ]);
    expect(environmentOf('Connect')[Env.sourceLimits]).toBe('on');
    expect(environmentOf('Connect')[Env.maxPlacesPerSource]).toBe('100');
  });

  it('lets $disconnect only delete, update and put items of the table: no read, no index, no config, key or API', () => {
    const dynamo = statementsOf('Disconnect').filter((s) =>
      actionsOf([s]).some((a) => a.startsWith('dynamodb:')),
    );
    expect(ownActionsOf('Disconnect')).toEqual([
      'dynamodb:DeleteItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
    ]);
    expect(dynamo.map((s) => s.Resource)).toEqual([
      { 'Fn::GetAtt': [expect.stringMatching(/^Table/), 'Arn'] },
    ]);
  });

  it('lets the message function read, put and update sessions in the table', () => {
    expect(tableActionsOf('Message')).toEqual(
      expect.arrayContaining([
        'dynamodb:PutItem',
        'dynamodb:GetItem',
        'dynamodb:Query',
        'dynamodb:UpdateItem',
      ]),
    );
  });

  it('lets the message function invoke the processor and no other function', () => {
    const invoke = statementsOf('Message').filter((s) =>
      actionsOf([s]).some((a) => a.startsWith('lambda:')),
    );
    expect(invoke).toEqual([
      expect.objectContaining({
        Action: 'lambda:InvokeFunction',
        Resource: { 'Fn::GetAtt': [functionLogicalId('Processor'), 'Arn'] },
      }),
    ]);
  });

  // Template.fromStack (in beforeAll) refuses a template with a dependency cycle.
  it('lets the processor invoke itself through an ARN built from its name, with no reference to itself (no circular dependency)', () => {
    // Prepare
    const processorId = functionLogicalId('Processor');
    const name = functionProperties('Processor').FunctionName;

    // Act
    const invoke = statementsOf('Processor').filter((s) =>
      actionsOf([s]).some((a) => a.startsWith('lambda:')),
    );

    // Assess
    expect(name).toBe('WaitingRoom-processor');
    expect(invoke).toHaveLength(1);
    expect(actionsOf(invoke)).toEqual(['lambda:InvokeFunction']);
    const resource = JSON.stringify(invoke[0]?.Resource);
    expect(resource).toContain(':lambda:eu-west-1:');
    expect(resource).toContain(':function:WaitingRoom-processor"');
    expect(JSON.stringify(statementsOf('Processor'))).not.toContain(processorId);
  });

  it.each(['Message', 'Processor'])('%s posts to connections of its own stage', (name) => {
    expect(actionsOf(statementsOf(name))).toContain('execute-api:ManageConnections');
  });

  it('lets the processor read the line (Query) and read and update items (GetItem, UpdateItem)', () => {
    expect(tableActionsOf('Processor')).toEqual(
      expect.arrayContaining(['dynamodb:Query', 'dynamodb:GetItem', 'dynamodb:UpdateItem']),
    );
  });

  it('lets the message function send arrivals (SendMessage on the arrival queue) and do nothing else with it', () => {
    // Prepare
    const { queueId } = arrivalQueues();

    // Act
    const sqsStatements = statementsOf('Message').filter((s) =>
      actionsOf([s]).some((a) => a.startsWith('sqs:')),
    );

    // Assess
    expect(sqsStatements).toEqual([
      expect.objectContaining({
        Effect: 'Allow',
        Action: 'sqs:SendMessage',
        Resource: { 'Fn::GetAtt': [queueId, 'Arn'] },
      }),
    ]);
    const actions = actionsOf(statementsOf('Message'));
    for (const action of ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes']) {
      expect(actions).not.toContain(action);
    }
  });

  it('lets the processor receive, delete and hand back arrivals on the arrival queue, but not send them', () => {
    // Prepare
    const { queueId } = arrivalQueues();

    // Act
    const sqsStatements = statementsOf('Processor').filter((s) =>
      actionsOf([s]).some((a) => a.startsWith('sqs:')),
    );

    // Assess
    expect(sqsStatements).toHaveLength(1);
    expect(sqsStatements[0]?.Resource).toEqual({ 'Fn::GetAtt': [queueId, 'Arn'] });
    expect(actionsOf(sqsStatements).sort()).toEqual([
      'sqs:ChangeMessageVisibility',
      'sqs:DeleteMessage',
      'sqs:ReceiveMessage',
    ]);
    expect(actionsOf(statementsOf('Processor'))).not.toContain('sqs:SendMessage');
  });

  it('needs no KMS grant for the queue (SQS-managed encryption)', () => {
    for (const name of ['Message', 'Processor']) {
      const kms = statementsOf(name).filter((s) =>
        actionsOf([s]).some((a) => a.startsWith('kms:')),
      );
      // The only KMS statement is the signing key's, through SSM.
      expect(kms, name).toHaveLength(1);
      expect(kms[0]?.Condition?.StringEquals?.['kms:ViaService'], name).toBe(
        'ssm.eu-west-1.amazonaws.com',
      );
    }
  });

  it('gives no sqs: action to any other function, role or policy of any stack', () => {
    // Prepare
    const users = [functionLogicalId('Message'), functionLogicalId('Processor')];

    // Assess
    for (const id of everyFunctionId().filter((id) => !users.includes(id))) {
      expect(
        actionsOf(statementsOfFunctionId(id)).filter((a) => a.startsWith('sqs:')),
        id,
      ).toEqual([]);
    }
    const sqsPolicies = Object.values(resources(room, 'AWS::IAM::Policy')).filter((p) =>
      JSON.stringify(p.Properties.PolicyDocument).includes('"sqs:'),
    );
    expect(sqsPolicies).toHaveLength(2);
    for (const template of [gate, oidc, Template.fromStack(synthesized.accessLogs)]) {
      const policies = JSON.stringify([
        resources(template, 'AWS::IAM::Policy'),
        resources(template, 'AWS::IAM::ManagedPolicy'),
        resources(template, 'AWS::IAM::Role'),
      ]);
      expect(policies).not.toMatch(/"sqs:/i);
    }
    expect(
      JSON.stringify([
        resources(room, 'AWS::IAM::ManagedPolicy'),
        resources(room, 'AWS::IAM::Role'),
      ]),
    ).not.toMatch(/"sqs:/i);
  });

  it.each(['Message', 'Processor'])(
    '%s gets its table actions unconditioned (a consistent Query needs no other permission)',
    (name) => {
      for (const statement of tableStatementsOf(name)) {
        expect(statement.Condition).toBeUndefined();
      }
    },
  );

  it.each(['Connect', 'Disconnect', 'Message', 'Processor'])(
    '%s has "*" as a resource only for X-Ray, and no wildcard action',
    (name) => {
      const statements = statementsOf(name);
      for (const statement of statements.filter((s) => s.Resource === '*')) {
        expect(actionsOf([statement]).every((a) => a.startsWith('xray:'))).toBe(true);
      }
      expect(actionsOf(statements).some((a) => a.includes('*'))).toBe(false);
    },
  );

  it('reads the config parameters with GetParameters, and the key with GetParameter only', () => {
    const statements = statementsOf('Processor');
    const ssm = statements.filter((s) => actionsOf([s]).some((a) => a.startsWith('ssm:')));
    expect(ssm).toHaveLength(2);
    const text = JSON.stringify(ssm);
    for (const name of [
      'enabled',
      'admit-per-minute',
      'opens-at',
      'pow-cost',
      'message',
      'closed',
    ]) {
      expect(text).toContain(`:parameter/waiting-room/config/${name}"`);
    }
    expect(text).toContain(':parameter/waiting-room/signing-key');
    expect(actionsOf(ssm).sort()).toEqual(['ssm:GetParameter', 'ssm:GetParameters']);
  });

  it('decrypts the key only through SSM and only for that parameter', () => {
    const kms = statementsOf('Message').find((s) => actionsOf([s]).includes('kms:Decrypt'));
    expect(kms?.Condition?.StringEquals?.['kms:ViaService']).toBe('ssm.eu-west-1.amazonaws.com');
    expect(
      JSON.stringify(kms?.Condition?.StringEquals?.['kms:EncryptionContext:PARAMETER_ARN']),
    ).toContain(':parameter/waiting-room/signing-key');
  });

  it('manages connections of its own API stage only', () => {
    const manage = statementsOf('Processor').find((s) =>
      actionsOf([s]).includes('execute-api:ManageConnections'),
    );
    expect(JSON.stringify(manage?.Resource)).toMatch(
      /\{"Ref":"WebSocketApi\w+"\},"\/live\/\*\/@connections\/\*"/,
    );
  });
});

describe('room config and signing key', () => {
  it('creates each config parameter with PutParameter Overwrite=false, on create and update alike, and never deletes it', () => {
    const parameters = Object.values(resources(room, 'Custom::RoomConfigParameter'));
    expect(parameters).toHaveLength(6);
    const names = [];
    for (const parameter of parameters) {
      const props = parameter.Properties;
      expect(props.Delete).toBeUndefined();
      for (const phase of ['Create', 'Update'] as const) {
        const call = JSON.parse(props[phase] as string);
        expect(call).toMatchObject({
          service: 'SSM',
          action: 'putParameter',
          parameters: { Type: 'String', Overwrite: false },
          ignoreErrorCodesMatching: 'ParameterAlreadyExists',
        });
      }
      names.push(JSON.parse(props.Create as string).parameters.Name);
    }
    expect(names.sort()).toEqual([
      '/waiting-room/config/admit-per-minute',
      '/waiting-room/config/closed',
      '/waiting-room/config/enabled',
      '/waiting-room/config/message',
      '/waiting-room/config/opens-at',
      '/waiting-room/config/pow-cost',
    ]);
  });

  it('creates the fair-launch parameters with their defaults: no schedule, no proof of work, no message, open for sale', () => {
    const initial = Object.fromEntries(
      Object.values(resources(room, 'Custom::RoomConfigParameter')).map((parameter) => {
        const { Name, Value } = JSON.parse(parameter.Properties.Create as string).parameters;
        return [Name, Value];
      }),
    );
    expect(initial).toMatchObject({
      '/waiting-room/config/opens-at': 'none',
      '/waiting-room/config/pow-cost': '0',
      '/waiting-room/config/message': 'none',
      '/waiting-room/config/closed': 'none',
    });
  });

  it.each(['Message', 'Processor'])(
    '%s may read every room setting parameter, and write none of them',
    (name) => {
      const ssm = statementsOf(name).filter((s) => actionsOf([s]).includes('ssm:GetParameters'));
      const text = JSON.stringify(ssm);
      for (const setting of ['opens-at', 'pow-cost', 'message', 'closed']) {
        expect(text).toContain(`:parameter/waiting-room/config/${setting}"`);
      }
      expect(actionsOf(statementsOf(name))).not.toContain('ssm:PutParameter');
    },
  );

  it("never lets CloudFormation own an operator's value: it owns only the names of the key rotation function and the table", () => {
    const parameters = Object.values(resources(room, 'AWS::SSM::Parameter')).map(
      (p) => p.Properties,
    );
    expect(parameters).toHaveLength(2);
    expect(parameters).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          Name: '/waiting-room/config/key-rotation-function',
          Type: 'String',
          Value: { Ref: functionLogicalId('SigningKeyRotation') },
        }),
        expect.objectContaining({
          Name: '/waiting-room/config/table-name',
          Type: 'String',
          Value: { Ref: expect.stringMatching(/^Table/) },
        }),
      ]),
    );
  });

  it('makes the key ring with its own custom resource, which publishes the JWKS; no deploy-time copy of it is deployed', () => {
    const [keyId, key] = onlyResource(room, 'Custom::WaitingRoomSigningKey', {
      ParameterName: '/waiting-room/signing-key',
    });
    expect(JSON.stringify(key.Properties.BucketName)).toMatch(/RoomSiteBucket/);
    expect(Number(key.Properties.KeepRetiredSeconds)).toBe(48 * 3600 + 300);
    const deployments = JSON.stringify(resources(room, 'Custom::CDKBucketDeployment'));
    expect(deployments).not.toContain(keyId);
    expect(deployments).not.toContain('jwks.json');
  });

  it.each(['SigningKeyHandler', 'SigningKeyRotation'])(
    '%s may only read and write the key ring, through SSM encrypt and decrypt it, and write the JWKS object',
    (name) => {
      const statements = statementsOf(name).filter(
        (s) => !actionsOf([s]).some((a) => a.startsWith('logs:') || a.startsWith('xray:')),
      );
      expect(actionsOf(statements).sort()).toEqual([
        'kms:Decrypt',
        'kms:Encrypt',
        's3:PutObject',
        'ssm:GetParameter',
        'ssm:PutParameter',
      ]);
      const byAction = (action: string) => statements.find((s) => actionsOf([s]).includes(action));
      expect(JSON.stringify(byAction('ssm:PutParameter')?.Resource)).toMatch(
        /:parameter\/waiting-room\/signing-key"\]\]\}$/,
      );
      expect(JSON.stringify(byAction('s3:PutObject')?.Resource)).toMatch(
        /^\{"Fn::Join":\["",\[\{"Fn::GetAtt":\["RoomSiteBucket\w+","Arn"\]\},"\/\.well-known\/jwks\.json"\]\]\}$/,
      );
      const kms = byAction('kms:Encrypt');
      expect(kms?.Condition?.StringEquals?.['kms:ViaService']).toBe('ssm.eu-west-1.amazonaws.com');
      expect(
        JSON.stringify(kms?.Condition?.StringEquals?.['kms:EncryptionContext:PARAMETER_ARN']),
      ).toContain(':parameter/waiting-room/signing-key');
    },
  );

  it('tells the key rotation function the ring, the bucket and the pass lifetime', () => {
    expect(environmentOf('SigningKeyRotation')).toMatchObject({
      [Env.signingKeyParameter]: '/waiting-room/signing-key',
      [Env.jwksBucket]: { Ref: expect.stringMatching(/^RoomSiteBucket/) },
      [Env.passTtlSeconds]: '1200',
    });
  });
});

/** A value with `Fn::Join` flattened and `Ref`s written `${LogicalId}`, for comparing text. */
function flatten(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(flatten);
  if (value && typeof value === 'object') {
    const object = value as Record<string, unknown>;
    if ('Ref' in object) return `\${${object.Ref}}`;
    if ('Fn::Join' in object) {
      const [separator, parts] = object['Fn::Join'] as [string, unknown[]];
      return parts.map(flatten).join(separator);
    }
    return Object.fromEntries(Object.entries(object).map(([k, v]) => [k, flatten(v)]));
  }
  return value;
}

const SECURITY_HEADERS = {
  StrictTransportSecurity: { AccessControlMaxAgeSec: 31_536_000, Override: true },
  ContentTypeOptions: { Override: true },
  ReferrerPolicy: { ReferrerPolicy: 'no-referrer', Override: true },
  FrameOptions: { FrameOption: 'DENY', Override: true },
};

interface HeadersPolicyConfig {
  SecurityHeadersConfig: Record<string, unknown> & { ContentSecurityPolicy: unknown };
}

function headersPolicyOf(id: unknown): HeadersPolicyConfig {
  const ref = (id as { Ref?: string } | undefined)?.Ref;
  const policy = resources(room, 'AWS::CloudFront::ResponseHeadersPolicy')[ref ?? ''];
  return defined(policy, `response headers policy ${JSON.stringify(id)}`).Properties
    .ResponseHeadersPolicyConfig as HeadersPolicyConfig;
}

describe('main site distribution', () => {
  function distributionConfig() {
    const [, distribution] = onlyResource(room, 'AWS::CloudFront::Distribution');
    return distribution.Properties.DistributionConfig as {
      DefaultCacheBehavior: Record<string, unknown>;
      CacheBehaviors: Array<Record<string, unknown>>;
      Origins: Array<Record<string, unknown>>;
    };
  }

  it('runs the gate on every viewer request of the main site', () => {
    expect(distributionConfig().DefaultCacheBehavior.LambdaFunctionAssociations).toEqual([
      { EventType: 'viewer-request', IncludeBody: false, LambdaFunctionARN: expect.anything() },
    ]);
  });

  it("serves the room's page, JWKS and flag on the main origin, never through the gate", () => {
    const behaviors = distributionConfig().CacheBehaviors;
    expect(behaviors.map((b) => b.PathPattern).sort()).toEqual([
      '/.well-known/jwks.json',
      '/__room/flag.json',
      '/waiting-room/*',
    ]);
    for (const behavior of behaviors) expect(behavior.LambdaFunctionAssociations).toBeUndefined();
  });

  it("answers on the room's page with the local runtime's page CSP, naming the API's wss:// origin, plus HSTS, nosniff, no referrer, no framing", () => {
    // Prepare
    const page = distributionConfig().CacheBehaviors.find(
      (b) => b.PathPattern === `${ROOM_PATHS.page}*`,
    );
    const apiId = onlyResource(room, 'AWS::ApiGatewayV2::Api')[0];

    // Act
    const headers = headersPolicyOf(page?.ResponseHeadersPolicyId);

    // Assess
    expect(flatten(headers.SecurityHeadersConfig.ContentSecurityPolicy)).toEqual({
      ContentSecurityPolicy: pageSecurityPolicy(
        `wss://\${${apiId}}.execute-api.eu-west-1.\${AWS::URLSuffix}`,
      ),
      Override: true,
    });
    expect(headers.SecurityHeadersConfig).toMatchObject(SECURITY_HEADERS);
  });

  it.each([ROOM_PATHS.jwks, ROOM_PATHS.flag])(
    "answers on %s with the local runtime's data CSP (nothing may run) and the same headers",
    (path) => {
      const behavior = distributionConfig().CacheBehaviors.find((b) => b.PathPattern === path);
      const headers = headersPolicyOf(behavior?.ResponseHeadersPolicyId);
      expect(headers.SecurityHeadersConfig).toMatchObject({
        ...SECURITY_HEADERS,
        ContentSecurityPolicy: { ContentSecurityPolicy: DATA_SECURITY_POLICY, Override: true },
      });
    },
  );

  it('reads its S3 origins and the flag function through Origin Access Control, never an OAI', () => {
    room.resourceCountIs('AWS::CloudFront::CloudFrontOriginAccessIdentity', 0);
    const origins = distributionConfig().Origins;
    expect(origins).toHaveLength(3);
    for (const origin of origins) expect(origin.OriginAccessControlId).toBeDefined();
    room.hasResourceProperties('AWS::Lambda::Url', { AuthType: 'AWS_IAM' });
  });

  it('keeps every bucket private and TLS-only', () => {
    const buckets = resources(room, 'AWS::S3::Bucket');
    expect(Object.keys(buckets)).toHaveLength(3);
    for (const bucket of Object.values(buckets)) {
      expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
      expect(bucket.Properties.BucketEncryption).toBeDefined();
    }
    const tlsOnly = Object.values(resources(room, 'AWS::S3::BucketPolicy')).filter((p) =>
      JSON.stringify(p.Properties).includes('"aws:SecureTransport":"false"'),
    );
    expect(tlsOnly).toHaveLength(3);
  });

  it('writes config.json with the stage URL, the main origin and the (empty) branding next to the page', () => {
    const page = Object.values(resources(room, 'Custom::CDKBucketDeployment')).find(
      (d) => d.Properties.DestinationBucketKeyPrefix === 'waiting-room/',
    );
    expect(page?.Properties.DistributionPaths).toEqual(['/waiting-room/*']);
    const configs = assetFiles('config.json');
    expect(configs).toHaveLength(1);
    // Deploy-time values are markers in the asset, resolved by the deployment from SourceMarkers.
    const config = JSON.parse(configs[0] as string) as Record<string, string>;
    const sourceMarkers = defined(page, 'page deployment').Properties.SourceMarkers as Array<
      Record<string, unknown>
    >;
    const markers = sourceMarkers[1] ?? {};
    const resolve = (text: string) =>
      text.replace(/<<marker:0xbaba:\d+>>/g, (m) => JSON.stringify(markers[m]));
    expect(Object.keys(config).sort()).toEqual([
      'brandColor',
      'eventLogo',
      'eventText',
      'mainOrigin',
      'roomName',
      'wsUrl',
    ]);
    expect(resolve(config.wsUrl ?? '')).toMatch(
      /^wss:\/\/\{"Ref":"WebSocketApi\w+"\}\.execute-api\.eu-west-1\.\{"Ref":"AWS::URLSuffix"\}\/live$/,
    );
    expect(resolve(config.mainOrigin ?? '')).toMatch(
      /^https:\/\/\{"Fn::GetAtt":\["MainSiteDistribution\w+","DomainName"\]\}$/,
    );
    expect(config.roomName).toBe('');
    expect([config.eventText, config.eventLogo, config.brandColor]).toEqual(['', '', '']);
  });
});

describe('CloudFront access logs', () => {
  let logs: Template;

  beforeAll(() => {
    logs = Template.fromStack(synthesized.accessLogs);
  });

  it('writes no standard (legacy) logs, which hold every query string', () => {
    const [, distribution] = onlyResource(room, 'AWS::CloudFront::Distribution');
    expect(
      (distribution.Properties.DistributionConfig as Record<string, unknown>).Logging,
    ).toBeUndefined();
  });

  it('delivers them (standard logging v2) from us-east-1, after the room stack that makes the distribution', () => {
    expect(synthesized.accessLogs.region).toBe('us-east-1');
    expect(synthesized.accessLogs.dependencies).toContain(synthesized.room);
    const [, source] = onlyResource(logs, 'AWS::Logs::DeliverySource');
    expect(source.Properties.LogType).toBe('ACCESS_LOGS');
    expect(JSON.stringify(source.Properties.ResourceArn)).toMatch(
      /":cloudfront::",\{"Ref":"AWS::AccountId"\},":distribution\/",\{"Fn::GetAtt":\["ExportsReader\w+","[^"]*RefMainSiteDistribution\w+"\]\}/,
    );
  });

  it('leaves out the query string (where a pass arrives) and the cookies, and keeps every other field', () => {
    const [, delivery] = onlyResource(logs, 'AWS::Logs::Delivery');
    const fields = delivery.Properties.RecordFields as string[];
    expect(fields).toEqual([...CLOUDFRONT_LOG_FIELDS]);
    for (const secret of ['cs-uri-query', 'cs(Cookie)']) expect(fields).not.toContain(secret);
    expect(fields).toEqual(
      expect.arrayContaining(['date', 'time', 'c-ip', 'cs-method', 'cs-uri-stem', 'sc-status']),
    );
    expect(fields).toHaveLength(31);
  });

  it("goes to the room's access-log bucket, which lets that one delivery source write", () => {
    // Prepare
    const [sourceId, source] = onlyResource(logs, 'AWS::Logs::DeliverySource');
    const [, destination] = onlyResource(logs, 'AWS::Logs::DeliveryDestination');
    const [, delivery] = onlyResource(logs, 'AWS::Logs::Delivery');
    const [bucketId] = onlyResource(room, 'AWS::S3::Bucket', {
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
      LifecycleConfiguration: Match.anyValue(),
    });

    // Act
    const policy = Object.values(resources(room, 'AWS::S3::BucketPolicy')).find(
      (p) => JSON.stringify(p.Properties.Bucket) === JSON.stringify({ Ref: bucketId }),
    );
    const statement = (
      defined(policy, 'the access-log bucket policy').Properties.PolicyDocument as {
        Statement: Array<Record<string, unknown>>;
      }
    ).Statement.find((st) => st.Sid === 'CloudFrontStandardLogsV2');

    // Assess
    expect(delivery.Properties.DeliverySourceName).toBe(source.Properties.Name);
    expect((delivery as { DependsOn?: string[] }).DependsOn).toContain(sourceId);
    expect(JSON.stringify(destination.Properties.DestinationResourceArn)).toMatch(
      /ExportsReader\w+","[^"]*FnGetAttAccessLogs\w+Arn/,
    );
    expect(JSON.stringify(resources(room, 'Custom::CrossRegionExportWriter'))).toContain(
      `{"Fn::GetAtt":["${bucketId}","Arn"]}`,
    );
    expect(statement).toMatchObject({
      Effect: 'Allow',
      Principal: { Service: 'delivery.logs.amazonaws.com' },
      Action: 's3:PutObject',
      Condition: {
        StringEquals: {
          's3:x-amz-acl': 'bucket-owner-full-control',
          'aws:SourceAccount': { Ref: 'AWS::AccountId' },
        },
      },
    });
    expect(JSON.stringify(statement?.Resource)).toContain(
      '"/AWSLogs/",{"Ref":"AWS::AccountId"},"/*"',
    );
    expect(
      flatten(
        (statement?.Condition as Record<string, Record<string, unknown>> | undefined)?.ArnLike,
      ),
    ).toEqual({
      'aws:SourceArn': `arn:\${AWS::Partition}:logs:us-east-1:\${AWS::AccountId}:delivery-source:${source.Properties.Name}`,
    });
  });
});

describe('gate', () => {
  it('is a Lambda@Edge function in us-east-1 with the viewer-request limits', () => {
    expect(synthesized.gate?.region).toBe('us-east-1');
    gate.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'viewer-request.handler',
      Runtime: 'nodejs22.x',
      MemorySize: 128,
      Timeout: 5,
    });
    gate.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: Match.objectLike({
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: Match.arrayWith(['edgelambda.amazonaws.com']) },
          }),
        ]),
      }),
    });
  });

  it('keeps every published version when a deploy replaces it (CloudFront replicas block the delete)', () => {
    const versions = Object.values(gate.findResources('AWS::Lambda::Version'));
    expect(versions).toHaveLength(1);
    for (const version of versions) {
      expect(version).toMatchObject({ DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    }
  });

  it('bakes the same-origin config: paths on the main site, no domain and no key', () => {
    // Prepare
    const bundles = assetFiles('viewer-request.mjs');

    // Assess
    expect(bundles).toHaveLength(1);
    const bundle = bundles[0] as string;
    expect(bundle).toMatch(/jwksUrl:"\/\.well-known\/jwks\.json"/);
    expect(bundle).toMatch(/flagUrl:"\/__room\/flag\.json"/);
    expect(bundle).toMatch(/waitingRoomUrl:"\/waiting-room\/"/);
    expect(bundle).not.toContain('cloudfront.net');
    expect(bundle).not.toMatch(/mainOrigin:"/);
    // No key at all, public (x, y) or private (d): each is 43 base64url characters.
    expect(bundle).not.toMatch(/"[A-Za-z0-9_-]{43}"/);
  });

  it('bakes the pass lifetime the message and processor functions sign with', () => {
    // Prepare
    const bundle = assetFiles('viewer-request.mjs')[0] as string;
    const signed = ['Message', 'Processor'].map((name) => environmentOf(name)[Env.passTtlSeconds]);

    // Assess: cdk.json's passTtlSeconds, in the bundle and in both functions.
    expect(bundle).toMatch(/passTtlSeconds:1200[,}]/);
    expect(signed).toEqual(['1200', '1200']);
  });

  it('never gates the JWKS and the flag it reads from its own distribution', () => {
    // Prepare
    const config = parseEdgeConfig(edgeConfigFor({ roomId: 'waiting-room', passTtlSeconds: 1200 }));

    // Assess
    for (const path of [ROOM_PATHS.jwks, ROOM_PATHS.flag, ROOM_PATHS.page]) {
      expect(isUngatedPath(path, config.gate.ungatedPaths), path).toBe(true);
    }
    expect(config).toMatchObject({ jwksUrl: ROOM_PATHS.jwks, flagUrl: ROOM_PATHS.flag });
  });
});

describe('GitHub OIDC', () => {
  it('registers the GitHub provider for the STS audience', () => {
    oidc.hasResourceProperties('AWS::IAM::OIDCProvider', {
      Url: 'https://token.actions.githubusercontent.com',
      ClientIdList: ['sts.amazonaws.com'],
    });
  });

  it('lets only workflow runs of main in the one repository assume the deploy role', () => {
    const [providerId] = onlyResource(oidc, 'AWS::IAM::OIDCProvider');
    oidc.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          {
            Action: 'sts:AssumeRoleWithWebIdentity',
            Effect: 'Allow',
            Principal: { Federated: { Ref: providerId } },
            Condition: {
              StringEquals: {
                'token.actions.githubusercontent.com:aud': 'sts.amazonaws.com',
                'token.actions.githubusercontent.com:sub': `repo:${REPOSITORY}:ref:refs/heads/main`,
              },
            },
          },
        ],
      },
    });
  });

  it('may only assume the CDK bootstrap roles of both regions', () => {
    const statements = Object.values(resources(oidc, 'AWS::IAM::Policy')).flatMap(
      (p) => (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement,
    );
    expect(actionsOf(statements)).toEqual(['sts:AssumeRole']);
    const resource = defined(statements[0], 'the statement').Resource as unknown[];
    expect(resource).toHaveLength(6);
    const arns = JSON.stringify(resource);
    for (const region of ['eu-west-1', 'us-east-1']) {
      for (const role of ['deploy-role', 'file-publishing-role', 'lookup-role']) {
        expect(arns).toContain(
          `":role/cdk-hnb659fds-${role}-",{"Ref":"AWS::AccountId"},"-${region}"`,
        );
      }
    }
    expect(arns).not.toContain('*');
  });
});

describe('monitoring', () => {
  it('alarms when the processor fails', () => {
    room.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'Errors',
      Namespace: 'AWS/Lambda',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: functionLogicalId('Processor') } }],
    });
  });

  it('alarms when ticks fail in a 3-minute window and none succeeds, and not while the processor sleeps', () => {
    // Prepare
    const [, alarm] = onlyResource(room, 'AWS::CloudWatch::Alarm', {
      Metrics: Match.arrayWith([
        Match.objectLike({ Expression: Match.stringLikeRegexp('failedTicks') }),
      ]),
    });
    const metrics = alarm.Properties.Metrics as Array<{
      Id: string;
      Expression?: string;
      ReturnData?: boolean;
      MetricStat?: {
        Metric: { Namespace: string; MetricName: string; Dimensions: unknown };
        Period: number;
        Stat: string;
      };
    }>;

    // Act
    const expression = metrics.find((m) => m.Expression);
    const stat = (metricName: string) =>
      metrics.find((m) => m.MetricStat?.Metric.MetricName === metricName);

    // Assess
    expect(alarm.Properties).toMatchObject({
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      EvaluationPeriods: 1,
      TreatMissingData: 'notBreaching',
    });
    for (const metricName of [Metric.failedTicks, Metric.ticks]) {
      expect(stat(metricName)?.MetricStat, metricName).toEqual({
        Metric: {
          Namespace: METRICS_NAMESPACE,
          MetricName: metricName,
          Dimensions: [{ Name: 'service', Value: SERVICE_NAME }],
        },
        Period: 180,
        Stat: 'Sum',
      });
    }
    const failedId = stat(Metric.failedTicks)?.Id;
    const ticksId = stat(Metric.ticks)?.Id;
    expect(expression?.Expression).toBe(
      `IF(FILL(${failedId}, 0) > 0 AND FILL(${ticksId}, 0) == 0, 1, 0)`,
    );
    expect(expression?.ReturnData).not.toBe(false);
  });

  it('shows every alarm, the failed-ticks one included, on the dashboard', () => {
    const [, dashboard] = onlyResource(room, 'AWS::CloudWatch::Dashboard');
    const body = JSON.stringify(dashboard.Properties.DashboardBody);
    const alarms = Object.keys(resources(room, 'AWS::CloudWatch::Alarm'));
    expect(alarms).toHaveLength(4);
    for (const id of alarms) expect(body).toContain(`"Fn::GetAtt":["${id}","Arn"]`);
  });

  it('sends nobody looking for a reserved concurrency that no longer exists', () => {
    for (const alarm of Object.values(resources(room, 'AWS::CloudWatch::Alarm'))) {
      expect(String(alarm.Properties.AlarmDescription)).not.toMatch(/\breserved concurrency/i);
    }
  });

  it('alarms as soon as one arrival is in the dead-letter queue: numbering is idempotent, so any is a bug', () => {
    // Prepare
    const { dlqId } = arrivalQueues();

    // Act
    const [, alarm] = onlyResource(room, 'AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS',
    });

    // Assess
    expect(alarm.Properties).toMatchObject({
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [dlqId, 'QueueName'] } }],
      Period: 60,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      EvaluationPeriods: 1,
      TreatMissingData: 'notBreaching',
    });
    expect(alarm.Properties.AlarmDescription).toMatch(/idempotent/);
    expect(alarm.Properties.AlarmDescription).toMatch(/bug/);
    expect(alarm.Properties.AlarmDescription).toContain('WaitingRoom-arrivals-dlq.fifo');
  });

  it('charts the arrival queue on the dashboard', () => {
    const { queueId } = arrivalQueues();
    const [, dashboard] = onlyResource(room, 'AWS::CloudWatch::Dashboard');
    const body = JSON.stringify(dashboard.Properties.DashboardBody);
    expect(body).toContain('ApproximateNumberOfMessagesVisible');
    expect(body).toContain('ApproximateAgeOfOldestMessage');
    expect(body).toContain(`"Fn::GetAtt":["${queueId}","QueueName"]`);
  });

  it("charts the room's EMF metrics on a dashboard", () => {
    const [, dashboard] = onlyResource(room, 'AWS::CloudWatch::Dashboard');
    const body = JSON.stringify(dashboard.Properties.DashboardBody);
    for (const metric of ['waiting', 'admitted', 'joins', 'positionMessagesSent', 'errors']) {
      expect(body).toContain(`\\"WaitingRoom\\",\\"${metric}\\"`);
    }
  });
});

describe('cdk-nag', () => {
  it('finds nothing unacknowledged in any stack (AwsSolutions)', () => {
    const report = new AwsSolutionsChecks().validateScope(synthesized.app);
    expect(
      report.violations.map((v) => `${v.ruleName} ${v.violatingResources[0]?.constructPath}`),
    ).toEqual([]);
  });

  it('leaves no error annotation on any stack', () => {
    for (const stack of [
      synthesized.room,
      synthesized.gate,
      synthesized.accessLogs,
      synthesized.githubOidc,
    ]) {
      if (!stack) throw new Error('missing stack');
      expect(Annotations.fromStack(stack).findError('*', Match.anyValue())).toEqual([]);
    }
  });
});
