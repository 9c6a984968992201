/**
 * Where the console reads the room and sends the operator's changes: the local room's admin
 * endpoint (with its secret, as `npm run room` does), or the deployed room's SSM parameters,
 * its room state item in DynamoDB (when the table is known) and its CloudWatch metrics.
 */
import {
  type CloudWatchClient,
  GetMetricDataCommand,
  type MetricDataQuery,
} from '@aws-sdk/client-cloudwatch';
import { GetParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { roomPk, STATE_SK } from '../../functions/adapters/aws/dynamo-items.ts';
import {
  createSsmConfigSource,
  createSsmConfigWriter,
} from '../../functions/adapters/aws/ssm-config.ts';
import type { RoomConfig } from '../../functions/core/ports.ts';
import { fairLaunchOf } from '../../functions/core/room-settings.ts';
import { TABLE_NAME_PARAMETER } from '../../functions/env.ts';
import { METRICS_NAMESPACE, Metric, SERVICE_NAME } from '../../functions/lambda/observability.ts';
import { type ConfigChange, settingsOf } from '../../local/admin.ts';
import { adminFetch } from '../../local/admin-secret.ts';
import type { RoomStatus } from '../../local/front.ts';
import { MINUTE_MS, type RoomReading } from './history.ts';
import type { ConsoleSample, ConsoleTarget } from './protocol.ts';

export interface RoomSource {
  readonly target: ConsoleTarget;
  /** One look at the room now; what fails is reported in `error`, never thrown. */
  read(): Promise<RoomReading>;
  /** Applies an operator's change; throws with a message for the operator. */
  change(change: ConfigChange): Promise<void>;
  /** Minute figures for [since, until), from before the console started (CloudWatch). */
  history?(since: number, until: number): Promise<ConsoleSample[]>;
}

/** A change the room refused, with its reason. */
export class RoomRefusedError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'RoomRefusedError';
  }
}

const EMPTY_READING: RoomReading = {
  enabled: null,
  admitPerMinute: null,
  waiting: null,
  arriving: null,
  admittedLastMinute: null,
  admittedTotal: null,
  abandonedTotal: null,
  connections: null,
  schedule: null,
  powCost: null,
  message: null,
  closed: null,
  error: null,
};

/** The fair-launch figures of a sample from the room's settings as read. */
function fairLaunchReading(
  config: RoomConfig,
  prequeue: number | null = null,
): Pick<RoomReading, 'schedule' | 'powCost' | 'message' | 'closed'> {
  const settings = fairLaunchOf(config);
  return {
    schedule: settings.opensAt === null ? null : { opensAt: settings.opensAt, prequeue },
    powCost: settings.powCost,
    message: settings.message,
    closed: settings.closed,
  };
}

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * The local room at `base` (either runtime), through its loopback admin endpoint: the secret is
 * read as `npm run room` reads it (the room's temporary directory, else `dataDir`).
 */
export function createLocalSource(base: string, dataDir: string | null): RoomSource {
  const call = async (route: string, init: RequestInit = {}) => {
    const response = await adminFetch(
      base,
      route,
      { ...init, signal: AbortSignal.timeout(5000) },
      dataDir,
    );
    const body = (await response.json().catch(() => ({}))) as RoomStatus & { error?: string };
    if (!response.ok) {
      throw new RoomRefusedError(body.error ?? response.statusText, response.status);
    }
    return body;
  };
  return {
    target: { kind: 'local', label: base, notes: [] },
    async read() {
      try {
        const status = await call('status');
        return {
          enabled: status.enabled,
          admitPerMinute: status.admitPerMinute,
          waiting: status.waiting,
          arriving: status.arriving,
          admittedLastMinute: status.admittedLastMinute,
          admittedTotal: status.admittedTotal,
          abandonedTotal: status.abandonedTotal,
          connections: status.connections,
          // Until the draw is made, everyone in line (and arriving) is in the pre-queue.
          ...fairLaunchReading(
            status,
            status.draw && status.draw.drawnAt === null ? status.waiting + status.arriving : null,
          ),
          error: null,
        };
      } catch (error) {
        return { ...EMPTY_READING, error: `cannot reach the room at ${base}: ${message(error)}` };
      }
    },
    async change(change) {
      await call('config', { method: 'POST', body: JSON.stringify(settingsOf(change)) });
    },
  };
}

/** SSM parameter (under the config prefix) that names the room's table; the stack writes it. */
export const TABLE_PARAMETER = TABLE_NAME_PARAMETER;

export interface AwsSourceOptions {
  ssm: SSMClient;
  cloudWatch: Pick<CloudWatchClient, 'send'>;
  /** For the room state item; absent: CloudWatch's minute figures only. */
  dynamo?: Pick<DynamoDBDocumentClient, 'send'>;
  region: string;
  prefix: string;
  /** The room's table (`--table`); else `<prefix>table-name` in SSM if the stack wrote one. */
  tableName?: string;
  roomId: string;
  now?: () => number;
}

/** The room's figures in CloudWatch (EMF from the processor and the message function). */
const FIGURES = [
  { id: 'waiting', metric: Metric.waiting, stat: 'Maximum' },
  { id: 'admitted', metric: Metric.admitted, stat: 'Sum' },
  { id: 'joins', metric: Metric.joins, stat: 'Sum' },
  { id: 'abandoned', metric: Metric.abandoned, stat: 'Sum' },
] as const;

type Figure = (typeof FIGURES)[number]['id'];
/** CloudWatch holds a minute's figures a little after it ends: read it again this long. */
const CLOUDWATCH_REFRESH_MS = 30_000;

/**
 * The deployed room: settings from SSM (read and written as `npm run room -- --aws` does), the
 * line from the room state item the processor writes each tick (one eventually consistent
 * GetItem a sample), and minute figures from CloudWatch (history, and joins without the table).
 */
export async function createAwsSource(options: AwsSourceOptions): Promise<RoomSource> {
  const now = options.now ?? Date.now;
  const { ssm, prefix } = options;
  const problems: unknown[] = [];
  const config = createSsmConfigSource({
    client: ssm,
    prefix,
    ttlMs: 0,
    onError: (error) => problems.push(error),
  });
  const writer = createSsmConfigWriter({ client: ssm, prefix });
  let tableName = options.tableName;
  const notes = ['Open connections are not counted on AWS.'];
  if (!tableName) {
    try {
      const answer = await ssm.send(
        new GetParameterCommand({ Name: `${prefix}${TABLE_PARAMETER}` }),
      );
      tableName = answer.Parameter?.Value || undefined;
    } catch {
      // Not published by this stack (or not readable): CloudWatch alone, said in the notes.
    }
  }
  if (!tableName || !options.dynamo) {
    notes.push(
      'The room table is not known (--table): the figures are CloudWatch minutes, a minute or two behind.',
    );
  }
  const dynamo = tableName ? options.dynamo : undefined;

  /**
   * CloudWatch's figures for the whole minutes in [since, until), by minute, oldest first. A
   * minute CloudWatch holds nothing for is left out: not published yet (a minute or two behind),
   * or the room was idle (the processor then publishes none of these); either way it is not a
   * zero. A figure missing from a minute that has others is null, but for joins: the message
   * function counts one per join, so a minute the processor published without joins had none.
   */
  async function minutes(
    since: number,
    until: number,
  ): Promise<Map<number, Record<Figure, number | null>>> {
    const queries: MetricDataQuery[] = FIGURES.map((f) => ({
      Id: f.id,
      MetricStat: {
        Metric: {
          Namespace: METRICS_NAMESPACE,
          MetricName: f.metric,
          Dimensions: [{ Name: 'service', Value: SERVICE_NAME }],
        },
        Period: 60,
        Stat: f.stat,
      },
    }));
    const start = Math.floor(since / MINUTE_MS) * MINUTE_MS;
    // Whole minutes only: the one under way is not a figure yet.
    const end = Math.floor(until / MINUTE_MS) * MINUTE_MS;
    const byMinute = new Map<number, Record<Figure, number | null>>();
    let nextToken: string | undefined;
    do {
      const answer = await options.cloudWatch.send(
        new GetMetricDataCommand({
          MetricDataQueries: queries,
          StartTime: new Date(start),
          EndTime: new Date(end),
          ScanBy: 'TimestampAscending',
          NextToken: nextToken,
        }),
      );
      for (const result of answer.MetricDataResults ?? []) {
        const id = result.Id as Figure;
        (result.Timestamps ?? []).forEach((time, i) => {
          const at = new Date(time).getTime();
          const value = result.Values?.[i];
          if (value === undefined || at < start || at >= end) return;
          const minute = byMinute.get(at) ?? {
            waiting: null,
            admitted: null,
            joins: null,
            abandoned: null,
          };
          minute[id] = value;
          byMinute.set(at, minute);
        });
      }
      nextToken = answer.NextToken;
    } while (nextToken);
    for (const minute of byMinute.values()) {
      if (minute.joins === null && minute.waiting !== null) minute.joins = 0;
    }
    return new Map([...byMinute].sort(([a], [b]) => a - b));
  }

  let lastMinute: {
    readAt: number;
    figures: Record<Figure, number | null> | null;
    error: string | null;
  } = { readAt: Number.NEGATIVE_INFINITY, figures: null, error: null };
  /** The last complete minute CloudWatch holds, read again every {@link CLOUDWATCH_REFRESH_MS}. */
  async function latestMinute() {
    if (now() - lastMinute.readAt < CLOUDWATCH_REFRESH_MS) return lastMinute;
    try {
      const until = Math.floor(now() / MINUTE_MS) * MINUTE_MS;
      const byMinute = await minutes(until - 3 * MINUTE_MS, until);
      // The newest minute CloudWatch holds (the very last may not be published yet); none in
      // three minutes: unknown (an idle room publishes nothing), not zeros.
      const figures = [...byMinute.values()].at(-1) ?? null;
      lastMinute = { readAt: now(), figures, error: null };
    } catch (error) {
      lastMinute = { readAt: now(), figures: lastMinute.figures, error: message(error) };
    }
    return lastMinute;
  }

  async function readState(reading: RoomReading): Promise<Partial<RoomReading>> {
    if (!dynamo || !tableName) return {};
    const key = { pk: roomPk(options.roomId), sk: STATE_SK };
    const { Item } = await dynamo.send(new GetCommand({ TableName: tableName, Key: key }));
    if (!Item) {
      // Not an empty room: a wrong --room-id or table, or a room whose processor never ran.
      throw new Error(
        `no room state item ${key.pk} / ${key.sk} (is --room-id ${options.roomId} right? the processor writes it on its first tick)`,
      );
    }
    const at = now();
    const recent = Array.isArray(Item.recentAdmissions) ? Item.recentAdmissions : [];
    const draw = Item.draw as { drawnAt?: unknown } | null | undefined;
    return {
      // Until the draw is made, everyone in line is in the pre-queue.
      ...(draw && draw.drawnAt == null && reading.schedule
        ? { schedule: { ...reading.schedule, prequeue: numberOr(Item.waiting, 0) } }
        : {}),
      waiting: numberOr(Item.waiting, 0),
      admittedTotal: numberOr(Item.admittedTotal, 0),
      abandonedTotal: numberOr(Item.abandonedTotal, 0),
      admittedLastMinute: recent
        .filter((e: { at?: unknown }) => numberOr(e.at, 0) > at - MINUTE_MS)
        .reduce((sum: number, e: { count?: unknown }) => sum + numberOr(e.count, 0), 0),
    };
  }

  return {
    target: { kind: 'aws', label: `${options.region} ${prefix}`, notes },
    async read() {
      const errors: string[] = [];
      problems.length = 0;
      const settings = await config.get();
      const settingsOk = problems.length === 0;
      if (!settingsOk) errors.push(`SSM ${prefix}: ${message(problems[0])}`);
      const reading: RoomReading = {
        ...EMPTY_READING,
        enabled: settingsOk ? settings.enabled : null,
        admitPerMinute: settingsOk ? settings.admitPerMinute : null,
        ...(settingsOk ? fairLaunchReading(settings) : {}),
      };
      if (dynamo) {
        try {
          Object.assign(reading, await readState(reading));
        } catch (error) {
          errors.push(`DynamoDB ${tableName}: ${message(error)}`);
        }
      } else {
        const minute = await latestMinute();
        if (minute.error) errors.push(`CloudWatch: ${minute.error}`);
        // CloudWatch's minute figures, or unknown (never derived from totals it does not have).
        reading.waiting = minute.figures?.waiting ?? null;
        reading.admittedLastMinute = minute.figures?.admitted ?? null;
        reading.joinsLastMinute = minute.figures?.joins ?? null;
        reading.abandonedLastMinute = minute.figures?.abandoned ?? null;
      }
      reading.error = errors.length > 0 ? errors.join('; ') : null;
      return reading;
    },
    async change(change) {
      await writer.write(settingsOf(change));
    },
    async history(since, until) {
      const byMinute = await minutes(since, until);
      return [...byMinute].map(([minute, f]) => ({
        // A minute's figures are whole at its end.
        at: minute + MINUTE_MS,
        origin: 'cloudwatch' as const,
        enabled: null,
        admitPerMinute: null,
        waiting: f.waiting,
        arriving: null,
        admittedLastMinute: f.admitted,
        joinsLastMinute: f.joins,
        abandonedLastMinute: f.abandoned,
        admittedTotal: null,
        abandonedTotal: null,
        connections: null,
        lastInLineWaitSeconds: null,
        schedule: null,
        powCost: null,
        message: null,
        closed: null,
        error: null,
      }));
    },
  };
}

function numberOr(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : fallback;
}
