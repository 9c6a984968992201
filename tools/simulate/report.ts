/**
 * The run's report: counts, invariants, latency percentiles, throughput and series, built from
 * the traces once the run is over; and its plain-text summary for the terminal.
 */
import { createHash } from 'node:crypto';
import { AWS_PRICES, type BillableCounts, type UsageSummary } from '../../local/aws-local/bill.ts';
import type { AwsUsage } from '../../local/aws-local/usage.ts';
import type { SecondSeries } from './aggregate.ts';
import type { VisitorTrace } from './events.ts';
import {
  drawHeard,
  drawRoleOf,
  type InvariantReport,
  openingOf,
  type VisitorSummary,
} from './invariants.ts';
import type { SimulationOptions } from './options.ts';
import { type Percentiles, percentiles } from './percentiles.ts';
import { formatRehearsal, type RehearsalReport } from './rehearsal-report.ts';

export { type Percentiles, percentiles };

export interface ServerSample {
  /** Seconds from the start of the run (when the status was asked for). */
  second: number;
  /** How long the room took to answer the status request: its event loop's responsiveness. */
  rttMs: number;
  enabled: boolean;
  admitPerMinute: number;
  waiting: number;
  arriving: number;
  admittedTotal: number;
  abandonedTotal: number;
  connections: number;
}

export interface WorkerStats {
  worker: number;
  visitors: number;
  peakRssMb: number;
  /** How late the worker's event loop ran (its timestamps are that late too). */
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  exitCode: number | null;
}

export type StopReason = 'complete' | 'duration' | 'interrupted' | 'failed';

/** The scheduled opening and its draw, as the visitors saw them (`--prequeue`). */
export interface PrequeueReport {
  /** The opening (ISO), or null when no visitor heard of one. */
  opensAt: string | null;
  /** Who scheduled it: this simulator (on a room on this machine), or the room's operator. */
  scheduledBy: 'simulator' | 'operator';
  /** Seconds from the start of the run. */
  opensAtSecond: number | null;
  commitment: string | null;
  /** The seed told with drawn positions (null: no member was told a position). */
  seed: string | null;
  /** SHA-256 of the seed is the commitment. */
  seedMatchesCommitment: boolean | null;
  members: number;
  laterJoins: number;
  /** Joins that crossed the opening with nothing telling which side they fell on. */
  undetermined: number;
  membersAdmitted: number;
  prequeueMessages: number;
  /** Members that dropped their socket during the pre-queue and resumed. */
  churnedBeforeOpening: number;
  /** Seconds from the opening to the first and the last member's `admitted`. */
  firstMemberAdmittedAfterS: number | null;
  lastMemberAdmittedAfterS: number | null;
}

/** Proof of work as the visitors paid it (`--pow`). */
export interface PowReport {
  /** The cost the simulator set on the room, or null (the room's own). */
  costSet: number | null;
  challenges: number;
  solved: number;
  failed: number;
  /** Time to solve one challenge in the simulator (its own thread pool), ms. */
  solveMs: Percentiles;
  /** Time a challenge waited for a free solver first, ms. */
  queuedMs: Percentiles;
  invalidProof: number;
  replaysPlanned: number;
  replaysRefused: number;
  replaysOther: Record<string, number>;
}

export interface SimulationReport {
  tool: 'waiting-room simulate';
  config: Omit<
    SimulationOptions,
    | 'progress'
    | 'jsonFile'
    | 'htmlFile'
    | 'sourceAddresses'
    | 'prequeue'
    | 'opensAfterSeconds'
    | 'pow'
    | 'powCost'
    | 'replay'
    | 'burst'
    | 'replyTimeoutSeconds'
    | 'connectTimeoutSeconds'
  > &
    Partial<
      Pick<
        SimulationOptions,
        | 'prequeue'
        | 'opensAfterSeconds'
        | 'pow'
        | 'powCost'
        | 'replay'
        | 'burst'
        | 'replyTimeoutSeconds'
        | 'connectTimeoutSeconds'
      >
    > & {
      sourceAddresses: string[];
    };
  run: {
    startedAt: string;
    stoppedAt: string;
    elapsedSeconds: number;
    stopReason: StopReason;
    problems: string[];
    parentPeakRssMb: number;
    parentLoopDelayMaxMs: number;
    workers: WorkerStats[];
  };
  counts: {
    users: number;
    started: number;
    joined: number;
    admitted: number;
    abandonedOnPurpose: number;
    waitingAtStop: number;
    expired: number;
    opened: number;
    unjoined: number;
    unstarted: number;
    lost: number;
    churnPlanned: number;
    churnDone: number;
    reconnects: number;
    abandonPlanned: number;
    rechecks: number;
    recheckSamePass: number;
  };
  invariants: InvariantReport;
  latencyMs: {
    /** `join` sent -> `joined` received. */
    join: Percentiles;
    /** Reconnect socket open -> `joined` answering the `resume`. */
    resume: Percentiles;
    /**
     * Admission -> `admitted` received, the admission stamped by the pass's `iat` (whole
     * seconds, rounded down by the room): each figure is up to 1,000 ms more than the truth.
     */
    admission: Percentiles;
    /**
     * `admitted` received minus the first `admitted` received with the same pass `iat`: how
     * long one tick takes to hand out its admissions (free of the second resolution).
     */
    admissionSpreadInTick: Percentiles;
    note: string;
  };
  throughput: {
    /** Admissions over the span between the first and last admission (by pass `iat`). */
    admittedPerMinuteObserved: number | null;
    /** Most admissions in any 60-second window of pass `iat`s. */
    peakAdmittedInAMinute: number;
    peakReceivedPerSecond: number;
    peakSentPerSecond: number;
    messagesReceived: number;
    messagesSent: number;
  };
  errorsByCode: Record<string, number>;
  timeseries: SecondSeries & {
    /** Admissions per second of the run by pass `iat` (the room's own stamp). */
    admittedPerSecondByIat: number[];
  };
  positionSamples: {
    visitor: string;
    /** [seconds from the start, position] */
    points: [number, number][];
    /** Seconds from the start when `admitted` arrived, or null. */
    admittedAt: number | null;
    outcome: string;
  }[];
  server: ServerSample[] | null;
  /**
   * What AWS would bill for the run, when the room is `npm run start:aws-local` (its counts
   * between the start and the end of the run); null against any other room.
   */
  aws: { usage: AwsUsage; summary: UsageSummary } | null;
  /** The scheduled opening and its draw (`--prequeue`), else null. */
  prequeue?: PrequeueReport | null;
  /** Proofs of work (`--pow`), else null. */
  pow?: PowReport | null;
  /** The launch rehearsal (`--rehearsal`), else null. */
  rehearsal?: RehearsalReport | null;
}

export interface ReportInput {
  options: SimulationOptions;
  sourceAddresses: string[];
  traces: readonly VisitorTrace[];
  visitors: readonly VisitorSummary[];
  invariants: InvariantReport;
  series: SecondSeries;
  errorsByCode: ReadonlyMap<string, number>;
  t0: number;
  stopAt: number;
  stopReason: StopReason;
  problems: string[];
  server: ServerSample[] | null;
  aws?: SimulationReport['aws'];
  parentPeakRssMb: number;
  parentLoopDelayMaxMs: number;
  workers: WorkerStats[];
  sampleSize?: number;
  /** The opening the simulator scheduled (epoch ms), if it did. */
  scheduledOpening?: number | null;
}

function prequeueReport(input: ReportInput): PrequeueReport {
  const { visitors, traces, t0 } = input;
  const known = input.scheduledOpening ?? null;
  const opening = openingOf(visitors, known);
  const heard = drawHeard(visitors);
  const commitment = heard.commitments[0] ?? null;
  const seed = heard.seeds[0] ?? null;
  const roles = opening ? visitors.map((v) => drawRoleOf(v, opening)) : [];
  const members = visitors.filter((_, i) => roles[i] === 'member');
  const admittedAfter = members
    .flatMap((v) => (v.admittedAt !== null && opening ? [(v.admittedAt - opening.hi) / 1000] : []))
    .sort((a, b) => a - b);
  const churned = opening
    ? traces.filter((trace, i) => {
        const v = visitors[i];
        return (
          v !== undefined &&
          roles[i] === 'member' &&
          trace.events.some((e) => e.k === 'drop' && e.t < opening.lo)
        );
      }).length
    : 0;
  const roundS = (x: number | undefined) => (x === undefined ? null : Math.round(x * 10) / 10);
  return {
    opensAt: opening ? new Date(opening.hi).toISOString() : null,
    scheduledBy: known !== null ? 'simulator' : 'operator',
    opensAtSecond: opening ? Math.round((opening.hi - t0) / 100) / 10 : null,
    commitment,
    seed,
    seedMatchesCommitment:
      seed === null || commitment === null
        ? null
        : createHash('sha256').update(seed, 'utf8').digest('hex') === commitment,
    members: members.length,
    laterJoins: roles.filter((r) => r === 'later').length,
    undetermined: visitors.filter((v, i) => v.joinedAt !== null && roles[i] === 'unknown').length,
    membersAdmitted: members.filter((v) => v.outcome === 'admitted').length,
    prequeueMessages: visitors.reduce((n, v) => n + v.prequeues.length, 0),
    churnedBeforeOpening: churned,
    firstMemberAdmittedAfterS: roundS(admittedAfter[0]),
    lastMemberAdmittedAfterS: roundS(admittedAfter[admittedAfter.length - 1]),
  };
}

function powReport(input: ReportInput): PowReport {
  const { visitors, traces } = input;
  const solves = visitors.flatMap((v) => v.solves);
  const replays = visitors.flatMap((v) => (v.replay === null ? [] : [v.replay]));
  const other: Record<string, number> = {};
  for (const r of replays) if (r !== 'refused') other[r] = (other[r] ?? 0) + 1;
  return {
    costSet: input.options.powCost,
    challenges: visitors.reduce((n, v) => n + v.challenges, 0),
    solved: solves.filter((x) => x.ok).length,
    failed: solves.filter((x) => !x.ok).length,
    solveMs: percentiles(solves.filter((x) => x.ok).map((x) => x.ms)),
    queuedMs: percentiles(solves.map((x) => x.queuedMs)),
    invalidProof: visitors.reduce((n, v) => n + v.invalidProofs, 0),
    replaysPlanned: traces.filter((t) => t.plan.replay).length,
    replaysRefused: replays.filter((r) => r === 'refused').length,
    replaysOther: other,
  };
}

/** Builds the report from the finished run. */
export function buildReport(input: ReportInput): SimulationReport {
  const { options, traces, visitors, t0, stopAt, series } = input;
  const rel = (t: number) => Math.round((t - t0) / 100) / 10;
  const outcomes = (o: VisitorSummary['outcome']) => visitors.filter((v) => v.outcome === o).length;

  const joinLatencies = visitors.flatMap((v) =>
    v.joinSentAt !== null && v.joinedAt !== null ? [v.joinedAt - v.joinSentAt] : [],
  );
  const resumeLatencies = visitors.flatMap((v) => v.resumeLatenciesMs);
  // Only visitors connected throughout: one who was away hears of the admission on return.
  const admissionLatencies = visitors.flatMap((v) =>
    v.admittedAt !== null && v.admittedIat !== null && !v.disconnectedWhileWaiting
      ? [v.admittedAt - v.admittedIat * 1000]
      : [],
  );

  const firstByIat = new Map<number, number>();
  for (const v of visitors) {
    if (v.admittedAt === null || v.admittedIat === null || v.disconnectedWhileWaiting) continue;
    const first = firstByIat.get(v.admittedIat);
    if (first === undefined || v.admittedAt < first) firstByIat.set(v.admittedIat, v.admittedAt);
  }
  const spreads = visitors.flatMap((v) =>
    v.admittedAt !== null && v.admittedIat !== null && !v.disconnectedWhileWaiting
      ? [v.admittedAt - (firstByIat.get(v.admittedIat) as number)]
      : [],
  );

  const iats = visitors.flatMap((v) => (v.admittedIat !== null ? [v.admittedIat] : []));
  const iatSeries: number[] = new Array(series.second.length).fill(0);
  for (const iat of iats) {
    const second = Math.floor((iat * 1000 - t0) / 1000);
    if (second >= 0 && second < iatSeries.length) iatSeries[second] = (iatSeries[second] ?? 0) + 1;
  }
  let peakMinute = 0;
  const sortedIats = [...iats].sort((a, b) => a - b);
  for (let i = 0, j = 0; i < sortedIats.length; i += 1) {
    while ((sortedIats[i] as number) - (sortedIats[j] as number) >= 60) j += 1;
    peakMinute = Math.max(peakMinute, i - j + 1);
  }
  const firstIat = sortedIats[0];
  const lastIat = sortedIats[sortedIats.length - 1];
  const admittedPerMinuteObserved =
    firstIat === undefined || lastIat === undefined
      ? null
      : Math.round((sortedIats.length / (lastIat - firstIat + 1)) * 60);

  const churnDone = traces.filter((t) => t.events.some((e) => e.k === 'drop')).length;
  const reconnects = traces.reduce(
    (n, t) => n + t.events.filter((e) => e.k === 'dial' && e.purpose === 'resume').length,
    0,
  );
  const rechecks = visitors.filter((v) => v.recheck !== null);

  const sampleSize = input.sampleSize ?? 20;
  const step = Math.max(1, (visitors.length - 1) / Math.max(1, sampleSize - 1));
  const sampled = new Set<number>();
  for (let k = 0; k < sampleSize && Math.round(k * step) < visitors.length; k += 1) {
    sampled.add(Math.round(k * step));
  }
  const positionSamples = [...sampled].map((i) => {
    const v = visitors[i] as VisitorSummary;
    return {
      visitor: v.name,
      points: downsample(
        v.positions.map((p) => [rel(p.t), p.position] as [number, number]),
        400,
      ),
      admittedAt: v.admittedAt === null ? null : rel(v.admittedAt),
      outcome: v.outcome,
    };
  });

  return {
    tool: 'waiting-room simulate',
    config: {
      url: options.url,
      users: options.users,
      burst: options.burst,
      rampSeconds: options.rampSeconds,
      churn: options.churn,
      abandon: options.abandon,
      recheck: options.recheck,
      durationSeconds: options.durationSeconds,
      workers: options.workers,
      jwksUrl: options.jwksUrl,
      sourceAddresses: input.sourceAddresses,
      graceSeconds: options.graceSeconds,
      seed: options.seed,
      prequeue: options.prequeue,
      opensAfterSeconds: options.opensAfterSeconds,
      pow: options.pow,
      powCost: options.powCost,
      replay: options.replay,
      replyTimeoutSeconds: options.replyTimeoutSeconds,
      connectTimeoutSeconds: options.connectTimeoutSeconds,
    },
    run: {
      startedAt: new Date(t0).toISOString(),
      stoppedAt: new Date(stopAt).toISOString(),
      elapsedSeconds: Math.round((stopAt - t0) / 100) / 10,
      stopReason: input.stopReason,
      problems: input.problems,
      parentPeakRssMb: input.parentPeakRssMb,
      parentLoopDelayMaxMs: input.parentLoopDelayMaxMs,
      workers: input.workers,
    },
    counts: {
      users: options.users,
      started: visitors.length - outcomes('unstarted'),
      joined: visitors.filter((v) => v.joinedAt !== null).length,
      admitted: outcomes('admitted'),
      abandonedOnPurpose: outcomes('abandoned'),
      waitingAtStop: outcomes('waiting'),
      expired: outcomes('expired'),
      opened: outcomes('opened'),
      unjoined: outcomes('unjoined'),
      unstarted: outcomes('unstarted'),
      lost: outcomes('lost'),
      churnPlanned: traces.filter((t) => t.plan.churn !== null).length,
      churnDone,
      reconnects,
      abandonPlanned: traces.filter((t) => t.plan.abandon !== null).length,
      rechecks: rechecks.length,
      recheckSamePass: rechecks.filter((v) => v.recheck === 'same').length,
    },
    invariants: input.invariants,
    latencyMs: {
      join: percentiles(joinLatencies),
      resume: percentiles(resumeLatencies),
      admission: percentiles(admissionLatencies),
      admissionSpreadInTick: percentiles(spreads),
      note: 'admission latency, over visitors connected throughout their wait, uses the pass iat (whole seconds, rounded down) as the moment of admission: each figure may be up to 1,000 ms above the truth',
    },
    throughput: {
      admittedPerMinuteObserved,
      peakAdmittedInAMinute: peakMinute,
      peakReceivedPerSecond: maxOf(series.receivedPerSecond),
      peakSentPerSecond: maxOf(series.sentPerSecond),
      messagesReceived: series.receivedPerSecond.reduce((a, b) => a + b, 0),
      messagesSent: series.sentPerSecond.reduce((a, b) => a + b, 0),
    },
    errorsByCode: Object.fromEntries([...input.errorsByCode].sort((a, b) => b[1] - a[1])),
    timeseries: { ...series, admittedPerSecondByIat: iatSeries },
    positionSamples,
    server: input.server,
    aws: input.aws ?? null,
    prequeue: options.prequeue ? prequeueReport(input) : null,
    pow: options.pow ? powReport(input) : null,
  };
}

function maxOf(values: readonly number[]): number {
  return values.reduce((a, b) => Math.max(a, b), 0);
}

/** Keeps at most `max` points, always the first and the last. */
function downsample<T>(points: T[], max: number): T[] {
  if (points.length <= max) return points;
  const out: T[] = [];
  const step = (points.length - 1) / (max - 1);
  for (let i = 0; i < max; i += 1) out.push(points[Math.round(i * step)] as T);
  return out;
}

const ms = (x: number | null) =>
  x === null ? '-' : x >= 10_000 ? `${(x / 1000).toFixed(1)} s` : `${Math.round(x)} ms`;

function latencyLine(name: string, p: Percentiles): string {
  return `  ${name.padEnd(28)} n=${String(p.count).padEnd(7)} p50 ${ms(p.p50).padEnd(9)} p90 ${ms(p.p90).padEnd(9)} p99 ${ms(p.p99).padEnd(9)} max ${ms(p.max)}`;
}

/** The report as text for the terminal. */
export function formatReport(report: SimulationReport): string {
  const { counts, invariants, latencyMs, throughput, run, config } = report;
  const lines: string[] = [];
  lines.push('');
  lines.push(
    `Simulated ${config.users} visitors against ${config.url} (${config.burst ? `burst ${config.burst} at once, then ` : ''}ramp ${config.rampSeconds} s, churn ${config.churn}, abandon ${config.abandon}, ${config.workers} worker${config.workers === 1 ? '' : 's'}${config.sourceAddresses.length > 0 ? `, from ${config.sourceAddresses.length} loopback addresses` : ''}, seed ${config.seed})`,
  );
  lines.push(`Stopped: ${run.stopReason} after ${run.elapsedSeconds} s`);
  for (const p of run.problems) lines.push(`  problem: ${p}`);
  lines.push('');
  lines.push('Visitors');
  lines.push(
    `  joined ${counts.joined}, admitted ${counts.admitted}, abandoned on purpose ${counts.abandonedOnPurpose} (of ${counts.abandonPlanned} planned), waiting at the stop ${counts.waitingAtStop}, lost ${counts.lost}`,
  );
  lines.push(
    `  never joined ${counts.unjoined}, not started ${counts.unstarted}, expired (away past the grace) ${counts.expired}, sent in with the room off ${counts.opened}`,
  );
  lines.push(
    `  churned ${counts.churnDone} of ${counts.churnPlanned} planned (${counts.reconnects} reconnects), rechecks ${counts.recheckSamePass}/${counts.rechecks} got the same pass`,
  );
  lines.push('');
  lines.push('Invariants');
  for (const r of invariants.results) {
    lines.push(
      `  ${r.ok ? 'PASS' : 'FAIL'} ${r.id}. ${r.name}${r.ok ? '' : ` (${r.violations} visitors)`}`,
    );
    for (const e of r.examples) lines.push(`         ${e.detail}`);
  }
  lines.push(
    `  note: receipt-order FIFO (admitted received on different sockets): ${invariants.receiptOrderWarnings} visitors got theirs before someone ahead (largest gap ${invariants.receiptOrderMaxMs} ms; warning only)`,
  );
  lines.push('');
  lines.push('Latency');
  lines.push(latencyLine('join -> joined', latencyMs.join));
  lines.push(latencyLine('reconnect open -> resumed', latencyMs.resume));
  lines.push(latencyLine('admission (iat) -> admitted', latencyMs.admission));
  lines.push(latencyLine('  spread within one tick', latencyMs.admissionSpreadInTick));
  lines.push(
    '  (admission is stamped by the pass iat, whole seconds: up to 1 s above the truth; visitors connected throughout)',
  );
  lines.push('');
  lines.push('Throughput');
  lines.push(
    `  admitted per minute observed ${throughput.admittedPerMinuteObserved ?? '-'} (peak ${throughput.peakAdmittedInAMinute} in any 60 s by iat)`,
  );
  lines.push(
    `  messages received ${throughput.messagesReceived} (peak ${throughput.peakReceivedPerSecond}/s), sent ${throughput.messagesSent} (peak ${throughput.peakSentPerSecond}/s)`,
  );
  const errors = Object.entries(report.errorsByCode);
  lines.push(
    `  errors: ${errors.length === 0 ? 'none' : errors.map(([code, n]) => `${code} ${n}`).join(', ')}`,
  );
  lines.push(
    `  memory: parent peak ${run.parentPeakRssMb} MB${run.workers.length > 0 ? `, workers ${run.workers.map((w) => `${w.peakRssMb} MB`).join(' / ')}` : ''}`,
  );
  lines.push(
    `  simulator event-loop delay: parent max ${run.parentLoopDelayMaxMs} ms${run.workers.length > 0 ? `, workers p99/max ${run.workers.map((w) => `${w.loopDelayP99Ms}/${w.loopDelayMaxMs} ms`).join(', ')}` : ''}`,
  );
  if (report.server && report.server.length > 0) {
    const rtts = report.server.map((s) => s.rttMs);
    lines.push(
      `  room admin status round trip: p50 ${ms(percentiles(rtts).p50)}, max ${ms(percentiles(rtts).max)} (${rtts.length} polls)`,
    );
  }
  if (report.prequeue) lines.push('', ...formatPrequeue(report.prequeue));
  if (report.pow) lines.push('', ...formatPow(report.pow));
  if (report.aws) lines.push('', ...formatAwsUsage(report.aws.summary));
  if (report.rehearsal) lines.push('', ...formatRehearsal(report.rehearsal));
  lines.push('');
  if (!invariants.ok) {
    const broken = invariants.results.filter((r) => !r.ok).map((r) => r.id);
    lines.push(`INVARIANTS BROKEN: ${broken.join(', ')}.`);
  } else if (counts.unjoined > 0 || run.problems.length > 0) {
    lines.push(
      `No invariant broken, but the run is incomplete: ${counts.unjoined} visitors never got a place${run.problems.length > 0 ? `, ${run.problems.length} problem(s) above` : ''}.`,
    );
  } else {
    lines.push('All invariants held.');
  }
  return lines.join('\n');
}

const n = (x: number) => (x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toFixed(2));

/** The AWS usage section of the text report. */
export function formatAwsUsage(summary: UsageSummary): string[] {
  const line = (label: string, c: BillableCounts) =>
    `  ${label.padEnd(12)} DynamoDB ${n(c.dynamoCalls)} calls (${n(c.dynamoReadUnits)} RRU, ${n(c.dynamoWriteUnits)} WRU), SQS ${n(c.sqsRequests)} requests, SSM ${n(c.ssmCalls)}, Lambda ${n(c.lambdaInvocations)} inv. / ${n(c.lambdaGbSeconds)} GB-s, API messages ${n(c.apiMessages)} (postToConnection ${n(c.postToConnection)}), connection minutes ${n(c.connectionMinutes)}`;
  const cost = summary.per100kVisitors;
  return [
    `AWS calls (start:aws-local, ${summary.visitors} visitors, ${summary.ticks} ticks, ${summary.seconds.toFixed(0)} s)`,
    line('per visitor', summary.perVisitor),
    line('per tick', summary.perTick),
    `  per 100,000 visitors at ${AWS_PRICES.region} prices of ${AWS_PRICES.asOf}: $${cost.total.toFixed(2)} (${Object.entries(
      cost.byService,
    )
      .map(([service, dollars]) => `${service} $${dollars.toFixed(2)}`)
      .join(', ')}); the processor's running time is fixed cost (docs/CAPACITY.md)`,
  ];
}

const short = (hex: string | null) => (hex === null ? '-' : `${hex.slice(0, 16)}...`);

/** The pre-queue section of the text report. */
export function formatPrequeue(p: PrequeueReport): string[] {
  return [
    `Pre-queue (opening ${p.opensAt ?? 'never heard of'}${p.opensAtSecond === null ? '' : `, ${p.opensAtSecond} s into the run`}, scheduled by the ${p.scheduledBy})`,
    `  members ${p.members} (admitted ${p.membersAdmitted}), later joins ${p.laterJoins}, crossing the opening undetermined ${p.undetermined}; ${p.prequeueMessages} prequeue messages; ${p.churnedBeforeOpening} members churned before the opening`,
    `  commitment ${short(p.commitment)}, seed ${short(p.seed)} ${p.seedMatchesCommitment === null ? '(not told: no member heard a position)' : p.seedMatchesCommitment ? '(hashes to the commitment)' : '(DOES NOT hash to the commitment)'}`,
    `  members admitted ${p.firstMemberAdmittedAfterS ?? '-'} s to ${p.lastMemberAdmittedAfterS ?? '-'} s after the opening`,
  ];
}

/** The proof-of-work section of the text report. */
export function formatPow(p: PowReport): string[] {
  const other = Object.entries(p.replaysOther);
  return [
    `Proof of work${p.costSet === null ? '' : ` (cost ${p.costSet} set for the run)`}`,
    `  challenges ${p.challenges}, solved ${p.solved}, failed ${p.failed}, invalid_proof ${p.invalidProof}`,
    `  solve time p50 ${ms(p.solveMs.p50)}, p90 ${ms(p.solveMs.p90)}, max ${ms(p.solveMs.max)} (n=${p.solveMs.count}); waiting for a solver p50 ${ms(p.queuedMs.p50)}, max ${ms(p.queuedMs.max)}`,
    `  replayed proofs refused ${p.replaysRefused} of ${p.replaysPlanned} planned${other.length === 0 ? '' : ` (otherwise: ${other.map(([r, n]) => `${r} ${n}`).join(', ')})`}`,
  ];
}
