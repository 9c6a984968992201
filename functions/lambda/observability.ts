/**
 * One structured logger (Powertools Logger) and CloudWatch EMF metrics (Powertools Metrics) per
 * function. Log level and sampling come from Powertools' own environment variables
 * (`POWERTOOLS_LOG_LEVEL`, ...), set by the CDK app.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';

export const SERVICE_NAME = 'waiting-room';
export const METRICS_NAMESPACE = 'WaitingRoom';

export interface Observability {
  logger: Logger;
  metrics: Metrics;
}

export function createObservability(functionName: string): Observability {
  const logger = new Logger({
    serviceName: SERVICE_NAME,
    persistentKeys: { handler: functionName },
  });
  const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME, logger });
  return { logger, metrics };
}

/** Metric names, shared by the handlers and the dashboards. */
export const Metric = {
  joins: 'joins',
  resumes: 'resumes',
  badRequests: 'badRequests',
  errors: 'errors',
  admitted: 'admitted',
  abandoned: 'abandoned',
  numbered: 'numbered',
  /** Arrivals put behind the line's tail because it had passed their SQS timestamp. */
  lateArrivals: 'lateArrivals',
  positionMessagesSent: 'positionMessagesSent',
  admissionsDelivered: 'admissionsDelivered',
  waiting: 'waiting',
  ticks: 'ticks',
  /** Ticks that threw (the loop carries on); with no `ticks` beside them, the room is stuck. */
  failedTicks: 'failedTicks',
} as const;

/** Publishes the metrics stored so far (none stored: nothing, and no warning). */
export function publish({ metrics }: Observability): void {
  if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
}

export { MetricUnit };
