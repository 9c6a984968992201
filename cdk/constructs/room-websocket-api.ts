/**
 * The API Gateway WebSocket API the waiting-room page talks to: `$connect`, `$disconnect`, and
 * the route table of functions/router.ts (`join`, `resume`, `status`, `ping`, with `$default`
 * for anything else, which answers `bad_request`), routed by `$request.body.action`. One stage,
 * deployed on every change, with message throttling.
 *
 * The routes are one-way: the message handler answers through the management API
 * (`postToConnection`), because one frame can call for several replies.
 */
import { Stack } from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { WebSocketLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { CLIENT_ACTIONS } from '../../functions/core/protocol.ts';
import { acknowledge } from './nag.ts';

/** The actions of functions/router.ts; each is a route key. */
export const MESSAGE_ROUTES = CLIENT_ACTIONS;

export const STAGE_NAME = 'live';

export interface RoomWebSocketApiProps {
  connect: IFunction;
  disconnect: IFunction;
  message: IFunction;
  /** Messages per second on the stage, steady and burst. */
  rateLimit: number;
  burstLimit: number;
  /** Access logs need the account-wide API Gateway CloudWatch role to be set. */
  accessLogs: boolean;
}

export class RoomWebSocketApi extends Construct {
  readonly api: apigwv2.WebSocketApi;
  readonly stage: apigwv2.WebSocketStage;
  /**
   * The origin of the stage's URL, `wss://{apiId}.execute-api.{region}.{urlSuffix}`: built like
   * `stage.url`, which the page connects to, so the page's CSP names exactly that origin.
   */
  readonly origin: string;

  constructor(scope: Construct, id: string, props: RoomWebSocketApiProps) {
    super(scope, id);

    const messages = new WebSocketLambdaIntegration('Message', props.message);
    this.api = new apigwv2.WebSocketApi(this, 'Api', {
      description: 'Waiting room: live positions and admission',
      routeSelectionExpression: '$request.body.action',
      connectRouteOptions: {
        integration: new WebSocketLambdaIntegration('Connect', props.connect),
      },
      disconnectRouteOptions: {
        integration: new WebSocketLambdaIntegration('Disconnect', props.disconnect),
      },
      defaultRouteOptions: { integration: messages },
    });
    for (const action of MESSAGE_ROUTES) {
      this.api.addRoute(action, { integration: messages });
    }

    const stack = Stack.of(this);
    this.origin = `wss://${this.api.apiId}.execute-api.${stack.region}.${stack.urlSuffix}`;

    this.stage = new apigwv2.WebSocketStage(this, 'Stage', {
      webSocketApi: this.api,
      stageName: STAGE_NAME,
      autoDeploy: true,
      throttle: { rateLimit: props.rateLimit, burstLimit: props.burstLimit },
      detailedMetricsEnabled: true,
      ...(props.accessLogs
        ? {
            accessLogSettings: {
              destination: new apigwv2.LogGroupLogDestination(
                new logs.LogGroup(this, 'AccessLogs', { retention: logs.RetentionDays.ONE_MONTH }),
              ),
            },
          }
        : {}),
    });

    acknowledge(
      this.api,
      'AwsSolutions-APIG4',
      'The waiting room is public: anyone may open a socket and take a place. What a socket may do is decided inside the protocol (signed resume tickets, per-connection rate limits, stage throttling), not by an API Gateway authorizer.',
    );
    if (!props.accessLogs) {
      acknowledge(
        this.stage,
        'AwsSolutions-APIG1',
        'WebSocket access logs need the account-wide API Gateway CloudWatch Logs role, which this app does not change on its own; turn them on with -c webSocketAccessLogs=true once the account has it. The handlers log every connection and frame (with connectionId) in the meantime, and detailed metrics are on.',
      );
    }
  }
}
