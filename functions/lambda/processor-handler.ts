/**
 * The processor, as a factory over its dependencies. One invocation takes the lease and ticks
 * every `tickMs` until a margin before the function's timeout (15 minutes); shortly before, it
 * starts its successor, which takes the lease when this one lets it go. With nobody in line
 * for a minute it goes to sleep (no invocation runs, nothing is billed) until a join wakes it.
 * The schedule (EventBridge, every minute) is the watchdog: a scheduled run that finds the
 * lease held gives up at once, and one that finds it free (a processor that died, a lost wake)
 * takes over.
 */
import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import { isProcessorStartEvent } from '../adapters/aws/lambda-waker.ts';
import type { Lease } from '../core/lease.ts';
import type { Clock } from '../core/ports.ts';
import {
  markCleanStop,
  type ProcessorDeps,
  runLoopTick,
  type TickReport,
} from '../core/processor.ts';
import { type ProcessorLoopOutcome, runProcessorLoop } from '../core/processor-loop.ts';
import { Metric, MetricUnit, type Observability, publish } from './observability.ts';

/** No tick starts later than this before the function's timeout (a tick must finish in it). */
export const STOP_MARGIN_MS = 10_000;
/** Each renewal holds the lease this long: far longer than a tick, short enough to hand over. */
export const LEASE_MS = 15_000;
/** The successor is started this long before the deadline (a cold start fits in it). */
export const HANDOFF_LEAD_MS = 5_000;
/**
 * How long a processor started from code (a successor, a wake) waits for the lease: the
 * predecessor lets it go at its deadline, `HANDOFF_LEAD_MS` after starting it; one that died
 * holding it lets it lapse within `LEASE_MS`.
 */
export const STARTED_WAITS_MS = LEASE_MS + HANDOFF_LEAD_MS + 10_000;

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
  /** With nobody in line this long, the processor goes to sleep. */
  sleepAfterIdleMs: number;
  /**
   * How long after marking itself asleep the processor looks once more: the arrival queue's
   * settle time plus how long a join trusts a read of the mark.
   */
  confirmSleepAfterMs?: number;
  /** Starts another invocation of this function (asynchronously), for the successor. */
  startSuccessor: () => Promise<void>;
  leaseMs?: number;
  stopMarginMs?: number;
}

export function createProcessorHandler(deps: ProcessorHandlerDeps) {
  const { logger, metrics } = deps.observability;
  const { processor, clock } = deps;
  const lease = deps.lease(randomUUID());
  return async (event: unknown, context: Context): Promise<ProcessorLoopOutcome> => {
    logger.addContext(context);
    // The schedule's run is a watchdog: with the lease held, someone is on duty.
    const started = isProcessorStartEvent(event) ? event.waitingRoom : 'schedule';
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
      waitForLeaseMs: started === 'schedule' ? 0 : STARTED_WAITS_MS,
      sleepAfterIdleMs: deps.sleepAfterIdleMs,
      confirmSleepAfterMs: deps.confirmSleepAfterMs ?? 0,
      handoff: { leadMs: HANDOFF_LEAD_MS, start: deps.startSuccessor },
      onCleanStop: () => markCleanStop(processor),
      onTick: (report) => {
        logger.debug('tick', { report: summarize(report) });
        metrics.addMetric(Metric.ticks, MetricUnit.Count, 1);
        // An idle room publishes only its ticks (the alarm on failing ticks needs them):
        // CloudWatch bills a custom metric for each hour it is published in, and the
        // watchdog's runs would keep a dozen of them alive all month.
        if (report.idleSince !== null) {
          publish(deps.observability);
          return;
        }
        metrics.addMetric(Metric.numbered, MetricUnit.Count, report.numbered);
        metrics.addMetric(Metric.lateArrivals, MetricUnit.Count, report.late);
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
        logger.error(`${during} failed`, { error });
        publish(deps.observability);
      },
    });
    if (!outcome.held) logger.info('another processor holds the lease; nothing to do', { outcome });
    else if (outcome.ended === 'lease-lost')
      logger.warn('lease lost to another processor', { outcome });
    else logger.info('processor run ended', { outcome, started });
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
