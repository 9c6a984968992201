/**
 * The scheduled processor, as a factory over its dependencies: one invocation (EventBridge,
 * every minute) takes the lease and ticks every `tickMs` until a margin before the function's
 * timeout, then releases the lease for the next invocation.
 */
import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import type { Lease } from '../core/lease.ts';
import type { Clock } from '../core/ports.ts';
import { type ProcessorDeps, runLoopTick, type TickReport } from '../core/processor.ts';
import { type ProcessorLoopOutcome, runProcessorLoop } from '../core/processor-loop.ts';
import { Metric, MetricUnit, type Observability, publish } from './observability.ts';

/** No tick starts later than this before the function's timeout (a tick must finish in it). */
export const STOP_MARGIN_MS = 10_000;
/** Each renewal holds the lease this long: far longer than a tick, short enough to hand over. */
export const LEASE_MS = 15_000;

export interface ProcessorHandlerDeps {
  processor: ProcessorDeps;
  /**
   * The lease of this processor; `owner` is unique to the container, so that the next
   * invocation in the same container renews it and keeps the line it holds in memory.
   */
  lease: (owner: string) => Lease;
  clock: Clock;
  sleep: (ms: number) => Promise<void>;
  observability: Observability;
  leaseMs?: number;
  stopMarginMs?: number;
}

export function createProcessorHandler(deps: ProcessorHandlerDeps) {
  const { logger, metrics } = deps.observability;
  const { processor, clock } = deps;
  const lease = deps.lease(randomUUID());
  return async (_event: unknown, context: Context): Promise<ProcessorLoopOutcome> => {
    logger.addContext(context);
    const deadline =
      clock.now() + context.getRemainingTimeInMillis() - (deps.stopMarginMs ?? STOP_MARGIN_MS);
    const outcome = await runProcessorLoop({
      lease,
      clock,
      sleep: deps.sleep,
      tick: (takenOver, stillHeld) => runLoopTick(processor, takenOver, stillHeld),
      tickMs: processor.settings.tickMs,
      leaseMs: deps.leaseMs ?? LEASE_MS,
      deadline,
      onTick: (report) => {
        logger.debug('tick', { report: summarize(report) });
        metrics.addMetric(Metric.ticks, MetricUnit.Count, 1);
        metrics.addMetric(Metric.numbered, MetricUnit.Count, report.numbered);
        metrics.addMetric(Metric.admitted, MetricUnit.Count, report.admitted.length);
        metrics.addMetric(Metric.abandoned, MetricUnit.Count, report.abandoned.length);
        metrics.addMetric(Metric.admissionsDelivered, MetricUnit.Count, report.admissionsDelivered);
        metrics.addMetric(Metric.positionMessagesSent, MetricUnit.Count, report.positionsSent);
        metrics.addMetric(Metric.waiting, MetricUnit.Count, report.waiting);
        publish(deps.observability);
      },
      onError: (error, during) => {
        metrics.addMetric(Metric.errors, MetricUnit.Count, 1);
        if (during === 'tick') metrics.addMetric(Metric.failedTicks, MetricUnit.Count, 1);
        logger.error(during === 'tick' ? 'tick failed' : 'lease call failed', { error });
        publish(deps.observability);
      },
    });
    if (!outcome.held) logger.info('another processor holds the lease; nothing to do', { outcome });
    else if (outcome.ended === 'lease-lost')
      logger.warn('lease lost to another processor', { outcome });
    else logger.info('processor run ended', { outcome });
    return outcome;
  };
}

/** The report with counts instead of id lists, so a busy tick logs one short line. */
function summarize(report: TickReport) {
  return {
    ...report,
    admitted: report.admitted.length,
    abandoned: report.abandoned.length,
  };
}
