/**
 * Entry point of the processor: started by the schedule (EventBridge, every minute: the
 * watchdog), by its predecessor before that one's deadline, or by a join that found it asleep.
 */
import { realSleep } from '../adapters/aws/aws-errors.ts';
import { createDynamoLease } from '../adapters/aws/dynamo-lease.ts';
import { startProcessor, WAKER_CACHE_MS } from '../adapters/aws/lambda-waker.ts';
import { DEFAULT_SETTLE_MS } from '../adapters/aws/sqs-arrival-queue.ts';
import { systemClock } from '../adapters/local/system-clock.ts';
import { DEFAULT_PROCESSOR_SETTINGS, forgetLine } from '../core/processor.ts';
import { createObservability } from './observability.ts';
import { createProcessorHandler } from './processor-handler.ts';
import { readSettings } from './settings.ts';
import {
  arrivalQueueFrom,
  notifierFrom,
  processorConfigFrom,
  sessionStoreFrom,
  signerFrom,
  sourceLimitsFrom,
} from './wiring.ts';

const settings = readSettings([
  'tableName',
  'roomId',
  'mainOrigin',
  'configPrefix',
  'signingKeyParameter',
  'arrivalQueueUrl',
  'managementEndpoint',
  'passTtlSeconds',
  'abandonAfterSeconds',
  'tickMs',
  'positionBudgetPerSecond',
  'sleepAfterIdleSeconds',
  'maxPlacesPerSource',
  'sourceLimits',
]);
const observability = createObservability('processor');
const limits = sourceLimitsFrom(settings, observability);

const store = sessionStoreFrom(settings);

export const handler = createProcessorHandler({
  processor: {
    store,
    queue: arrivalQueueFrom(settings, observability),
    config: processorConfigFrom(settings, observability, store),
    notifier: notifierFrom(settings),
    signer: signerFrom(settings, observability),
    clock: systemClock,
    settings: {
      ...DEFAULT_PROCESSOR_SETTINGS,
      mainOrigin: settings.mainOrigin,
      tickMs: settings.tickMs,
      abandonAfterMs: settings.abandonAfterSeconds * 1000,
      positionBudgetPerSecond: settings.positionBudgetPerSecond,
      // 2,500 arrivals a tick (25 rounds of ten SQS receives at once, 2,500 conditional writes
      // 64 at a time: a few hundred ms in-region) outrun a million joining within 10 minutes
      // (1,667 a second); beyond it arrivals wait in the queue, in order.
      maxArrivalsPerTick: 2500,
    },
    // Kept by the container from one invocation to the next while it keeps the lease.
    memory: forgetLine(),
    ...(limits ? { sources: limits.places } : {}),
  },
  lease: (owner) =>
    createDynamoLease({ tableName: settings.tableName, roomId: settings.roomId, owner }),
  clock: systemClock,
  sleep: realSleep,
  observability,
  sleepAfterIdleMs: settings.sleepAfterIdleSeconds * 1000,
  confirmSleepAfterMs: DEFAULT_SETTLE_MS + WAKER_CACHE_MS,
  // Lambda names the function it runs: the successor is another invocation of it.
  startSuccessor: () => startProcessor(process.env.AWS_LAMBDA_FUNCTION_NAME as string, 'handoff'),
});
