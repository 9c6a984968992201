/** Powertools logger and metrics for handler tests: silent logs, metrics captured, not printed. */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Observability } from '../../functions/lambda/observability.ts';

export interface CapturedObservability extends Observability {
  /** Every EMF blob the handler published, in order. */
  published: Record<string, unknown>[];
  /** The sum of a metric over everything published. */
  total(name: string): number;
  /** The names of the metrics published, sorted. */
  names(): string[];
}

export function captureObservability(): CapturedObservability {
  const logger = new Logger({ serviceName: 'waiting-room-test', logLevel: 'SILENT' });
  const metrics = new Metrics({
    namespace: 'WaitingRoomTest',
    serviceName: 'waiting-room-test',
    logger,
  });
  const published: Record<string, unknown>[] = [];
  metrics.publishStoredMetrics = () => {
    published.push(metrics.serializeMetrics() as Record<string, unknown>);
    metrics.clearMetrics();
    return metrics;
  };
  return {
    logger,
    metrics,
    published,
    total(name) {
      return published
        .flatMap((blob) => {
          const value = blob[name];
          return Array.isArray(value) ? value : value === undefined ? [] : [value];
        })
        .reduce((sum: number, value) => sum + Number(value), 0);
    },
    names() {
      const names = published.flatMap((blob) => {
        const meta = blob._aws as { CloudWatchMetrics?: { Metrics?: { Name: string }[] }[] };
        return (meta?.CloudWatchMetrics ?? []).flatMap((d) => (d.Metrics ?? []).map((m) => m.Name));
      });
      return [...new Set(names)].sort();
    },
  };
}
