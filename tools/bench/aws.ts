/**
 * What the AWS build costs in AWS calls, measured through `start:aws-local` (the real Lambda
 * handlers over the DynamoDB, SSM and API Gateway stand-ins), in one run:
 * - asleep: nobody waiting, the processor asleep; only the schedule's watchdog runs (the room's
 *   fixed cost, per hour);
 * - awake with nobody waiting: the processor's calls per tick in the minute before it sleeps;
 * - a short wait: visitors admitted within seconds of joining;
 * - a long wait: as many visitors admitted at a tenth of the rate, so each waits far longer and
 *   hears many `position` updates; the difference to the short wait, per visitor-minute of
 *   waiting, is what a longer wait adds.
 * Visitors are real sockets from this process on 127.0.0.1.
 */
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import {
  type BillableCounts,
  billableCounts,
  processorCountsPerTick,
  scaleCounts,
  subtractCounts,
  summarizeUsage,
  type UsageSummary,
  usageBetween,
} from '../../local/aws-local/bill.ts';
import { readAwsLocalConfig } from '../../local/aws-local/config.ts';
import { type AwsLocalServer, startAwsLocalServer } from '../../local/aws-local/server.ts';
import { readLocalConfig } from '../../local/config.ts';
import { freeLoopbackPort } from './ports.ts';

const CLIENT_DIST = fileURLToPath(new URL('../../client/dist/', import.meta.url));
/** The functions keep SSM's answer this long; a rate change is waited out before joins. */
const CONFIG_SETTLE_MS = 6000;

export interface AwsPhase {
  name: string;
  visitors: number;
  admitPerMinute: number;
  /** Mean seconds from `joined` to `admitted`. */
  meanWaitSeconds: number;
  summary: UsageSummary;
}

export interface AwsResult {
  tickMs: number;
  /** Nobody waiting, the processor asleep: what the schedule's watchdog runs cost, per hour. */
  asleep: { seconds: number; invocations: number; ticks: number; perHour: BillableCounts };
  /** The processor awake with nobody waiting (before it goes to sleep): per tick. */
  awakeIdle: { ticks: number; seconds: number; perTick: BillableCounts };
  phases: AwsPhase[];
  /** What each further minute of waiting adds per visitor (long minus short, per minute). */
  perWaitingMinute: BillableCounts;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One visitor: joins, waits for `admitted`, leaves; resolves with its wait in ms. */
function visit(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { perMessageDeflate: false });
    let joinedAt = 0;
    const timer = setTimeout(() => {
      socket.terminate();
      reject(new Error('a visitor was not admitted within 5 minutes'));
    }, 300_000);
    socket.on('open', () => socket.send('{"action":"join","return":"/bench"}'));
    socket.on('message', (data) => {
      const type = (JSON.parse(data.toString()) as { type: string }).type;
      if (type === 'joined') joinedAt = Date.now();
      if (type === 'admitted') {
        clearTimeout(timer);
        socket.close();
        resolve(Date.now() - joinedAt);
      }
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

async function phase(
  server: AwsLocalServer,
  wsUrl: string,
  name: string,
  visitors: number,
  admitPerMinute: number,
): Promise<{ summarize: (idlePerTick: BillableCounts) => AwsPhase }> {
  await server.backend.changeConfig({ admitPerMinute });
  await sleep(CONFIG_SETTLE_MS);
  const before = await server.backend.usage();
  const waits = await Promise.all(Array.from({ length: visitors }, () => visit(wsUrl)));
  // The last `$disconnect`s and the tick after the last admission.
  await sleep(2000);
  const usage = usageBetween(before, await server.backend.usage());
  return {
    summarize: (idlePerTick) => ({
      name,
      visitors,
      admitPerMinute,
      meanWaitSeconds: waits.reduce((a, b) => a + b, 0) / waits.length / 1000,
      summary: summarizeUsage(usage, visitors, idlePerTick),
    }),
  };
}

/** Usage over `seconds` from now. */
async function measure(server: AwsLocalServer, seconds: number) {
  const before = await server.backend.usage();
  await sleep(seconds * 1000);
  return usageBetween(before, await server.backend.usage());
}

export async function benchAws(options: {
  visitors: number;
  /**
   * How long nobody waits with the processor asleep, measured from `asleepFromSeconds` after
   * the start (the first run goes to sleep within a second): whole minutes hold whole
   * watchdog runs.
   */
  asleepSeconds: number;
  asleepFromSeconds: number;
  /** How long the awake processor is measured with nobody waiting, after the short wait. */
  awakeIdleSeconds: number;
  log: (line: string) => void;
}): Promise<AwsResult> {
  const port = await freeLoopbackPort();
  const env = {
    HOST: '127.0.0.1',
    PORT: String(port),
    WR_PUBLIC_URL: `http://127.0.0.1:${port}`,
    WR_ADMIT_PER_MINUTE: '0',
    WR_TICK_MS: '1000',
    // Every bench visitor comes from 127.0.0.1: the limits per source stay on (their writes are
    // part of what a visitor costs), with room for all of them.
    WR_SOURCE_LIMITS: 'on',
    WR_MAX_PLACES_PER_SOURCE: '1000000',
  };
  const server = await startAwsLocalServer(readLocalConfig(env), readAwsLocalConfig(env), {
    clientDir: CLIENT_DIST,
  });
  const wsUrl = `ws://127.0.0.1:${port}/ws`;
  try {
    await sleep(options.asleepFromSeconds * 1000);
    const asleep = await measure(server, options.asleepSeconds);
    const asleepSeconds = (asleep.at - asleep.since) / 1000;
    const perHour = scaleCounts(
      { ...billableCounts(asleep, ['processor']), apiMessages: 0, connectionMinutes: 0 },
      3600 / asleepSeconds,
    );
    options.log(
      `  asleep: ${asleep.lambda.processor?.invocations ?? 0} watchdog runs, ${asleep.processor.ticks} ticks in ${asleepSeconds.toFixed(0)} s`,
    );
    // Short: everyone in within a few ticks. Long: the same crowd at a tenth of the rate.
    const fast = options.visitors * 20;
    const short = await phase(server, wsUrl, 'short wait', options.visitors, fast);
    // The line is empty: the processor stays awake a while before it sleeps.
    const awakeIdle = await measure(server, options.awakeIdleSeconds);
    const idlePerTick = processorCountsPerTick(awakeIdle);
    options.log(`  awake with nobody waiting: ${awakeIdle.processor.ticks} ticks`);
    const long = (await phase(server, wsUrl, 'long wait', options.visitors, fast / 10)).summarize(
      idlePerTick,
    );
    const shortSummary = short.summarize(idlePerTick);
    options.log(`  short wait: mean ${shortSummary.meanWaitSeconds.toFixed(1)} s`);
    options.log(`  long wait: mean ${long.meanWaitSeconds.toFixed(1)} s`);
    const extraMinutes = (long.meanWaitSeconds - shortSummary.meanWaitSeconds) / 60;
    const perWaitingMinute = Object.fromEntries(
      Object.entries(subtractCounts(long.summary.perVisitor, shortSummary.summary.perVisitor)).map(
        // What does not grow with the wait shows as noise around zero: counted as zero.
        ([k, v]) => [k, extraMinutes > 0 ? Math.max(0, v) / extraMinutes : 0],
      ),
    ) as unknown as BillableCounts;
    return {
      tickMs: 1000,
      asleep: {
        seconds: asleepSeconds,
        invocations: asleep.lambda.processor?.invocations ?? 0,
        ticks: asleep.processor.ticks,
        perHour,
      },
      awakeIdle: {
        ticks: awakeIdle.processor.ticks,
        seconds: (awakeIdle.at - awakeIdle.since) / 1000,
        perTick: idlePerTick,
      },
      phases: [shortSummary, long],
      perWaitingMinute,
    };
  } finally {
    await server.close();
  }
}
