/**
 * The room's CloudWatch dashboard and alarms. The room's own figures come from the functions'
 * EMF metrics (Powertools Metrics; names, namespace and service shared with
 * functions/lambda/observability.ts, so the dashboard can't drift from what is emitted); the rest
 * are AWS metrics of the functions and the API.
 */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE, Metric, SERVICE_NAME } from '../../functions/lambda/observability.ts';

export interface RoomMonitoringProps {
  functions: Record<string, IFunction>;
  processor: IFunction;
  apiId: string;
  stageName: string;
}

export class RoomMonitoring extends Construct {
  readonly dashboard: cloudwatch.Dashboard;
  readonly processorErrorsAlarm: cloudwatch.Alarm;
  readonly processorStalledAlarm: cloudwatch.Alarm;
  readonly processorTicksFailingAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: RoomMonitoringProps) {
    super(scope, id);
    const room = (metricName: string, statistic: string, label: string) =>
      new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName,
        dimensionsMap: { service: SERVICE_NAME },
        statistic,
        period: Duration.minutes(1),
        label,
      });
    const api = (metricName: string, label: string) =>
      new cloudwatch.Metric({
        namespace: 'AWS/ApiGateway',
        metricName,
        dimensionsMap: { ApiId: props.apiId, Stage: props.stageName },
        statistic: 'Sum',
        period: Duration.minutes(1),
        label,
      });
    this.processorErrorsAlarm = new cloudwatch.Alarm(this, 'ProcessorErrorsAlarm', {
      alarmDescription: 'The processor failed: admission and positions may have stopped.',
      metric: props.processor.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.processorStalledAlarm = new cloudwatch.Alarm(this, 'ProcessorStalledAlarm', {
      alarmDescription:
        "The processor has not been invoked for 5 minutes: nobody is being admitted. Check the schedule rule, and the function's Throttles metric (the account's unreserved concurrency may be used up).",
      metric: props.processor.metricInvocations({ period: Duration.minutes(5), statistic: 'Sum' }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });

    // The processor catches a failed tick and carries on, so Lambda's Errors stays 0 while every
    // tick fails; its own EMF counts tell. Breaching: failed ticks in the window and no
    // successful one. FILL makes a series with no point in the window count as 0 (the other
    // one's points decide); with neither (the processor sleeps while nobody waits, and emits
    // nothing) the window is not breaching.
    const tickWindow = Duration.minutes(3);
    const everyTickFailing = new cloudwatch.MathExpression({
      expression: 'IF(FILL(failedTicks, 0) > 0 AND FILL(ticks, 0) == 0, 1, 0)',
      usingMetrics: {
        failedTicks: room(Metric.failedTicks, 'Sum', 'Failed ticks').with({ period: tickWindow }),
        ticks: room(Metric.ticks, 'Sum', 'Ticks').with({ period: tickWindow }),
      },
      period: tickWindow,
      label: 'Every tick failed',
    });
    this.processorTicksFailingAlarm = new cloudwatch.Alarm(this, 'ProcessorTicksFailingAlarm', {
      alarmDescription:
        'For 3 minutes every processor tick failed and none succeeded: nobody is being admitted and positions are frozen, though the function itself reports no error. Read the processor log ("tick failed").',
      metric: everyTickFailing,
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    const functionErrors = Object.entries(props.functions).map(([name, fn]) =>
      fn.metricErrors({ period: Duration.minutes(1), statistic: 'Sum', label: name }),
    );

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      defaultInterval: Duration.hours(3),
      widgets: [
        [
          new cloudwatch.GraphWidget({
            title: 'Waiting',
            left: [room(Metric.waiting, 'Maximum', 'Waiting')],
            width: 8,
          }),
          new cloudwatch.GraphWidget({
            title: 'Admitted per minute',
            left: [room(Metric.admitted, 'Sum', 'Admitted')],
            width: 8,
          }),
          new cloudwatch.GraphWidget({
            title: 'Joins per minute',
            left: [room(Metric.joins, 'Sum', 'Joins')],
            width: 8,
          }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: 'Position messages sent per minute',
            left: [room(Metric.positionMessagesSent, 'Sum', 'Positions sent')],
            width: 8,
          }),
          new cloudwatch.GraphWidget({
            title: 'Errors',
            left: [room(Metric.errors, 'Sum', 'Room errors'), ...functionErrors],
            width: 8,
          }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: 'WebSocket',
            left: [
              api('ConnectCount', 'Connects'),
              api('MessageCount', 'Messages'),
              api('ClientError', 'Client errors'),
              api('IntegrationError', 'Integration errors'),
            ],
            width: 8,
          }),
          new cloudwatch.GraphWidget({
            title: 'Processor ticks per minute',
            left: [
              room(Metric.ticks, 'Sum', 'Ticks'),
              room(Metric.failedTicks, 'Sum', 'Failed ticks'),
            ],
            width: 8,
          }),
          new cloudwatch.AlarmStatusWidget({
            title: 'Alarms',
            alarms: [
              this.processorErrorsAlarm,
              this.processorStalledAlarm,
              this.processorTicksFailingAlarm,
            ],
            width: 8,
          }),
        ],
      ],
    });
  }
}
