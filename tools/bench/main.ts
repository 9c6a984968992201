/**
 * `npm run bench`: runs every benchmark beside its baseline and writes docs/BENCHMARKS.md.
 * `--quick` runs smaller sizes (for a smoke test); `--only tick,draw,dynamo,arrivals,gate,sockets,aws`
 * picks some.
 */
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { ARRIVAL_GROUPS } from '../../functions/adapters/aws/sqs-arrival-queue.ts';
import {
  AWS_PRICES,
  type BillableCounts,
  dollarsFor,
  scaleCounts,
} from '../../local/aws-local/bill.ts';
import { type ArrivalsResult, benchArrivals, PEAK_JOINS_PER_SECOND } from './arrivals.ts';
import { type AwsResult, benchAws } from './aws.ts';
import { benchDraw, type DrawResult } from './draw.ts';
import {
  benchDynamoRate,
  benchDynamoTick,
  type DynamoRateResult,
  type DynamoTickResult,
} from './dynamo-tick.ts';
import { benchGate, type GateResult } from './gate.ts';
import { benchSockets, type SocketResult } from './sockets.ts';
import { benchTick, type TickResult } from './tick.ts';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    out: { type: 'string', default: 'docs/BENCHMARKS.md' },
  },
});
const only = new Set((values.only ?? 'tick,draw,dynamo,arrivals,gate,sockets,aws').split(','));
const quick = values.quick === true;
const log = (line: string) => process.stdout.write(`${line}\n`);

const f0 = (n: number) => Math.round(n).toLocaleString('en-US');
const f1 = (n: number) => n.toFixed(1);
const f2 = (n: number) => n.toFixed(2);
const f3 = (n: number) => n.toFixed(3);
const mark = (ok: boolean) => (ok ? 'met' : '**missed**');

async function main(): Promise<void> {
  const started = new Date();
  const ticks: TickResult[] = [];
  const draws: DrawResult[] = [];
  const sockets: SocketResult[] = [];
  const dynamoTicks: DynamoTickResult[] = [];
  let dynamoRate: DynamoRateResult | undefined;
  let gate: GateResult | undefined;
  const arrivals: ArrivalsResult[] = [];
  let aws: AwsResult | undefined;

  if (only.has('tick')) {
    for (const waiting of quick ? [10_000, 100_000] : [10_000, 100_000, 1_000_000]) {
      log(`tick: ${f0(waiting)} waiting...`);
      const result = await benchTick(waiting, 5);
      ticks.push(result);
      log(`  tick median ${f1(result.tick.median)} ms, takeover ${f1(result.takeoverMs)} ms`);
    }
    // The local runtime's disk store (WR_DATA_DIR) beside memory, at 100,000 waiting.
    const diskWaiting = quick ? 10_000 : 100_000;
    log(`tick: ${f0(diskWaiting)} waiting, on disk...`);
    const onDisk = await benchTick(diskWaiting, 5, true);
    ticks.push(onDisk);
    log(`  tick median ${f1(onDisk.tick.median)} ms, takeover ${f1(onDisk.takeoverMs)} ms`);
  }
  if (only.has('draw')) {
    for (const waiting of quick ? [10_000] : [100_000, 1_000_000]) {
      log(`draw: ${f0(waiting)} in the pre-queue...`);
      const result = await benchDraw(waiting, 3);
      draws.push(result);
      log(`  draw tick ${f0(result.drawMs)} ms, takeover after it ${f0(result.takeoverMs)} ms`);
    }
  }
  if (only.has('dynamo')) {
    for (const waiting of quick ? [1_000, 10_000] : [10_000, 100_000]) {
      log(`dynamo tick: ${f0(waiting)} waiting...`);
      const result = await benchDynamoTick(waiting, 5);
      dynamoTicks.push(result);
      log(
        `  steady ${f1(result.steady.readUnits)} read units a tick, takeover ${f0(result.takeover.readUnits)}`,
      );
    }
    const rateWaiting = quick ? 10_000 : 100_000;
    log(`dynamo rate: ${f0(rateWaiting)} waiting at 6,000 a minute...`);
    dynamoRate = await benchDynamoRate(rateWaiting, 6000, quick ? 10 : 60);
    log(`  ${f0(dynamoRate.admitted)} admitted, ${f2(dynamoRate.ratio)} of the rate`);
  }
  if (only.has('arrivals')) {
    // The room's 32 groups at a quiet rate and at the peak, and 128 groups at the peak beside them.
    const runs: [number, number][] = quick
      ? [[100, ARRIVAL_GROUPS]]
      : [
          [100, ARRIVAL_GROUPS],
          [PEAK_JOINS_PER_SECOND, ARRIVAL_GROUPS],
          [PEAK_JOINS_PER_SECOND, 128],
        ];
    for (const [rate, groups] of runs) {
      log(`arrivals: ${f0(rate)} joins a second over ${groups} groups...`);
      const result = await benchArrivals(rate, 10, groups);
      arrivals.push(result);
      log(
        `  ${f0(result.joinsPerSecond)} joins/s, ${f2(result.sqsPerJoin.total)} SQS requests a join, ${f0(result.lost)} lost, ${f0(result.outOfOrder)} out of order`,
      );
    }
  }
  if (only.has('gate')) {
    log('gate...');
    gate = await benchGate(quick ? { firstSight: 500, visitors: 100 } : {});
    log(
      `  first sight ${f2(gate.firstSight.gate.perSecond / gate.firstSight.bare.perSecond)}x, repeated ${f2(gate.repeated.gate.perSecond / gate.repeated.bare.perSecond)}x`,
    );
  }
  if (only.has('sockets')) {
    for (const waiting of quick ? [1000] : [1000, 10_000, 18_000]) {
      log(`sockets: ${f0(waiting)} waiting...`);
      const result = await benchSockets(waiting);
      sockets.push(result);
      log(
        `  fan-out ${f0(result.runtime.messagesPerSecond)}/s vs bare ${f0(result.bare.messagesPerSecond)}/s (${f2(result.ratio)}x), joins ${f0(result.joins.perSecond)}/s, ${f0(result.memory.bytesPerVisitor)} B/visitor`,
      );
    }
    const diskWaiting = quick ? 1000 : 10_000;
    log(`sockets: ${f0(diskWaiting)} waiting, on disk...`);
    const onDisk = await benchSockets(diskWaiting, true);
    sockets.push(onDisk);
    log(
      `  fan-out ${f0(onDisk.runtime.messagesPerSecond)}/s, joins ${f0(onDisk.joins.perSecond)}/s`,
    );
  }

  if (only.has('aws')) {
    log('aws: calls through start:aws-local...');
    aws = await benchAws({
      visitors: quick ? 50 : 300,
      asleepSeconds: quick ? 10 : 180,
      asleepFromSeconds: quick ? 5 : 30,
      awakeIdleSeconds: quick ? 5 : 30,
      log,
    });
  }

  const lines: string[] = [];
  const cpu = cpus()[0]?.model ?? 'unknown';
  lines.push(
    '# Benchmarks',
    '',
    `Generated by \`npm run bench${quick ? ' -- --quick' : ''}\` on ${started.toISOString().slice(0, 10)}.`,
    `Machine: ${cpus().length} × ${cpu}, ${f0(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${process.platform}.`,
    'Client and server share the machine; a process may hold at most 20,000 open files. Every figure',
    'is measured beside its baseline in the same run; figures vary from run to run on a shared machine.',
    '',
  );
  if (ticks.length > 0) {
    lines.push(
      '## Processor tick',
      '',
      'One tick of the core over the in-process adapters with N sessions waiting, all connected, one',
      'admission per tick (so every position changes), and the default fan-out budget (5,000 messages',
      'a second, as on AWS). The front (100) hears every change; behind it a place is told at most every',
      '10 s, the never-told first, a budget a tick: the steady ticks at 10,000 tell the front and the',
      'refreshes; at 100,000 and 1,000,000 they go on telling a budget of the never-told.',
      'The processor keeps the line in memory while it holds the lease: "takeover" is its',
      'first tick, which reads the whole line as a processor taking the lease over does; "tick" is the',
      'median of the 5 steady ticks after it, whose cost follows the budget, not the line.',
      '',
      '| waiting | tick (ms) | takeover (ms) | positions sent a tick | target |',
      '| ---: | ---: | ---: | ---: | --- |',
      ...ticks.map((t) => {
        const inMemory = ticks.find((m) => !m.onDisk && m.waiting === t.waiting);
        const target = t.onDisk
          ? inMemory
            ? `≤ 2x in memory (${f2(t.tick.median / inMemory.tick.median)}x): ${mark(t.tick.median <= 2 * inMemory.tick.median)}`
            : ''
          : t.waiting === 1_000_000
            ? `< 10 ms: ${mark(t.tick.median < 10)}`
            : '';
        return `| ${f0(t.waiting)}${t.onDisk ? ' (on disk)' : ''} | ${f1(t.tick.median)} | ${f0(t.takeoverMs)} | ${f0(t.positionsSent)} | ${target} |`;
      }),
      '',
      '"On disk": the local runtime\'s store with `WR_DATA_DIR` (SQLite, every change written through and',
      'group-committed before anyone is answered); its takeover is the first tick after a restart.',
      '',
    );
  }
  if (draws.length > 0) {
    lines.push(
      '## The draw at a scheduled opening',
      '',
      'N visitors join after the schedule was set and wait in the pre-queue (in-process adapters, all',
      'connected). "First tick" finds the schedule and numbers the N arrivals; "pre-queue tick" is the',
      'median of 3 steady ticks before the opening (`prequeue` pushes within the budget); "draw tick" ranks',
      'every member by SHA-256 of the seed and its id and puts the line in that order; "tick after" is',
      'the median of 3 ticks after it; "takeover after" is a processor taking the lease over after the',
      'draw (the line read and sorted by the draw). Baseline: the plain tick and takeover at the same N',
      'above, in the same run.',
      '',
      '| in the pre-queue | first tick (ms) | pre-queue tick (ms) | draw tick (ms) | drawn | tick after (ms) | takeover after (ms) | plain takeover (ms) |',
      '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...draws.map((d) => {
        const plain = ticks.find((t) => !t.onDisk && t.waiting === d.waiting);
        return `| ${f0(d.waiting)} | ${f0(d.firstMs)} | ${f1(d.prequeue.median)} | ${f0(d.drawMs)} | ${f0(d.members)} | ${f1(d.after.median)} | ${f0(d.takeoverMs)} | ${plain ? f0(plain.takeoverMs) : '-'} |`;
      }),
      '',
      'The draw is made once, at the opening; a takeover after it sorts the line by rank (a string',
      'sort of every member), the cost that a draw adds to the handovers that follow while its members',
      'are in line.',
      '',
    );
  }
  if (dynamoTicks.length > 0) {
    const [small, large] = dynamoTicks;
    const ratio = small && large ? large.steady.readUnits / small.steady.readUnits : Number.NaN;
    lines.push(
      '## DynamoDB per processor tick',
      '',
      'The real DynamoDB store over dynalite, N sessions waiting and connected, one admission a tick, the',
      'AWS push budget (5,000 a second). The takeover tick reads the whole line from the `line` index; the',
      'steady ticks after it (mean of 5) keep the line in memory and write nothing per pushed position.',
      '',
      '| waiting | takeover: calls / read units | steady tick: calls | read units | write units | positions pushed |',
      '| ---: | ---: | ---: | ---: | ---: | ---: |',
      ...dynamoTicks.map(
        (t) =>
          `| ${f0(t.waiting)} | ${f0(t.takeover.calls)} / ${f1(t.takeover.readUnits)} | ${f1(t.steady.calls)} | ${f1(t.steady.readUnits)} | ${f1(t.steady.writeUnits)} | ${f0(t.steady.positionsSent)} |`,
      ),
      '',
      `Steady-tick read units at ${f0(large?.waiting ?? 0)} over ${f0(small?.waiting ?? 0)}: ${f2(ratio)}x; target ≤ 1.5x: ${mark(ratio <= 1.5)}.`,
      '',
    );
  }
  if (dynamoRate) {
    const r = dynamoRate;
    lines.push(
      '### Admission rate with the line on DynamoDB',
      '',
      `The same store, ${f0(r.waiting)} waiting, admitting at ${f0(r.admitPerMinute)} a minute for ${f0(r.seconds)} s of real time: the`,
      "processor's own loop (1 s ticks on a fixed grid; the token bucket holds one tick, so a tick slower",
      'than its second would show as admissions lost), every admission a signed pass, a conditional',
      'write and an outbox item, and 5,000 pushes a second.',
      '',
      '| waiting | rate/min | seconds | admitted | of the rate | ticks | mean tick (ms) | longest tick (ms) |',
      '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      `| ${f0(r.waiting)} | ${f0(r.admitPerMinute)} | ${f0(r.seconds)} | ${f0(r.admitted)} | ${f2(r.ratio)} | ${f0(r.ticks)} | ${f0(r.meanTickMs)} | ${f0(r.maxTickMs)} |`,
      '',
      `Within 5% of the rate: ${mark(Math.abs(1 - r.ratio) <= 0.05)}.`,
      '',
    );
  }
  if (arrivals.length > 0) {
    lines.push(
      '### Joins into the SQS FIFO arrival queue',
      '',
      'The real `join` (the session and its connection on DynamoDB, one `SendMessage` to',
      '`arrivals.fifo` over 32 message groups, then the `joined` mark), paced at a target rate for',
      "10 s, while the processor's own loop receives (up to ten receives of ten at once), numbers, deletes",
      'and merges the groups behind the 1 s settle window. DynamoDB (dynalite) and SQS (fauxqs) run in',
      'processes of their own; they and the two sides of the room share two cores, so',
      'where the achieved rate falls short of the target, that is this machine. fauxqs hands out one',
      'message per group per receive (SQS up to ten), so its receives carry fewer messages than',
      'SQS\'s would. "Out of order": pairs where one join returned before the other began and was',
      'numbered after it. "Lost": answered `joined` and never numbered. "Late": put behind the',
      'line\'s tail because the tail had passed their timestamp. "Busiest group at 1,667/s": the',
      'sends a second the busiest group would take on AWS at a million in ten minutes, from its share',
      'here (SQS takes 300 a second per partition). Joins in flight are capped at 200 (one per Lambda',
      'container); beyond what this machine numbers, arrivals wait in the queue, which is the p50/p99',
      'at the peak. 128 groups number faster on the emulator (it hands one message per group per',
      'receive; SQS hands up to ten), but the emulator reads its groups less evenly: a group left',
      'unread for 10 s is taken to be empty, and its next arrival comes late.',
      '',
      '| target joins/s | groups | achieved | joins | errors | SQS requests a join (send + receive + delete) | messages a receive | busiest group at 1,667/s (sends/s) | lost | out of order | late | join → numbered p50 / p99 (ms) | join → in line p50 / p99 (ms) |',
      '| ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...arrivals.map(
        (a) =>
          `| ${f0(a.targetPerSecond)} | ${f0(a.groups)} | ${f0(a.joinsPerSecond)} | ${f0(a.joins)} | ${f0(a.errors)} | ${f2(a.sqsPerJoin.total)} (${f2(a.sqsPerJoin.send)} + ${f2(a.sqsPerJoin.receive)} + ${f2(a.sqsPerJoin.delete)}) | ${f2(a.messagesPerReceive)} | ${f0(a.modelledPeakGroupPerSecond)} | ${f0(a.lost)} | ${f0(a.outOfOrder)} | ${f0(a.late)} | ${f0(a.latency.p50)} / ${f0(a.latency.p99)} | ${f0(a.inLineLatency.p50)} / ${f0(a.inLineLatency.p99)} |`,
      ),
      '',
      'Targets: at most 1.5 SQS requests a join at the peak, at most 100 sends a second per group',
      'at 1,667 joins a second, 0 lost, 0 out of order, join to numbered p50 at most 1.5 s.',
      '',
    );
  }
  if (gate) {
    const firstRatio = gate.firstSight.gate.perSecond / gate.firstSight.bare.perSecond;
    const repeatRatio = gate.repeated.gate.perSecond / gate.repeated.bare.perSecond;
    lines.push(
      '## Gate',
      '',
      'The gate decision (cookie parsing, pass check with its cache, the decision) against a bare',
      '`jose` `jwtVerify` of the same tokens. "First sight": every pass seen once. "Repeated":',
      `${gate.repeated.visitors} visitors each sending the same cookie ${gate.repeated.requestsEach} times, interleaved (pages and assets).`,
      '',
      '| mix | gate decisions/s | gate p50 / p99 (ms) | bare jwtVerify/s | bare p50 / p99 (ms) | ratio | target |',
      '| --- | ---: | ---: | ---: | ---: | ---: | --- |',
      `| first sight | ${f0(gate.firstSight.gate.perSecond)} | ${f3(gate.firstSight.gate.latencyMs.p50)} / ${f3(gate.firstSight.gate.latencyMs.p99)} | ${f0(gate.firstSight.bare.perSecond)} | ${f3(gate.firstSight.bare.latencyMs.p50)} / ${f3(gate.firstSight.bare.latencyMs.p99)} | ${f2(firstRatio)}x | ≥ 0.8x: ${mark(firstRatio >= 0.8)} |`,
      `| repeated cookie | ${f0(gate.repeated.gate.perSecond)} | ${f3(gate.repeated.gate.latencyMs.p50)} / ${f3(gate.repeated.gate.latencyMs.p99)} | ${f0(gate.repeated.bare.perSecond)} | ${f3(gate.repeated.bare.latencyMs.p50)} / ${f3(gate.repeated.bare.latencyMs.p99)} | ${f2(repeatRatio)}x | ≥ 5x: ${mark(repeatRatio >= 5)} |`,
      '',
      `Lambda@Edge bundle (ESM, minified, AWS SDK external): ${f0(gate.bundle.bytes)} bytes, ${f0(gate.bundle.gzipBytes)} gzipped; target < 100 KB: ${mark(gate.bundle.bytes < 100_000)}.`,
      '',
    );
  }
  if (sockets.length > 0) {
    lines.push(
      '## Fan-out, joins and memory over sockets',
      '',
      'The local runtime (`local/main.ts`, its own process) with N visitors joined over real sockets held',
      'by client processes (6,000 sockets each). Fan-out: at a rate of N a minute the whole line is its',
      "front (the next minute's admissions), so each tick admits a sixtieth and every waiting visitor",
      'gets a new `position`; the figure is messages received per second from the first to the',
      "last of one tick's burst, median over 5 ticks. Baseline: a bare `ws` server sending the same number",
      'of messages of the same size to the same number of sockets in a plain loop, measured the same way.',
      'Joins: a burst of new visitors sending `join` at once with N already waiting, first join sent to',
      "last `joined` received. Memory: the server's resident set after N joined, minus before any;",
      'the target is set at 10,000 and 18,000 visitors.',
      '',
      '| waiting | runtime msg/s | bare ws msg/s | ratio (≥ 0.7) | joins/s (≥ 5,000) | burst | RSS before → with visitors (MiB) | bytes per visitor (≤ 10 KB) |',
      '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...sockets.map((s) => {
        const inMemory = sockets.find((m) => !m.onDisk && m.waiting === s.waiting);
        const joins = s.onDisk
          ? `${f0(s.joins.perSecond)}${inMemory ? ` (≥ 0.5x in memory, ${f2(s.joins.perSecond / inMemory.joins.perSecond)}x: ${mark(s.joins.perSecond >= 0.5 * inMemory.joins.perSecond)})` : ''}`
          : `${f0(s.joins.perSecond)} (${mark(s.joins.perSecond >= 5000)})`;
        return `| ${f0(s.waiting)}${s.onDisk ? ' (on disk)' : ''} | ${f0(s.runtime.messagesPerSecond)} | ${f0(s.bare.messagesPerSecond)} | ${f2(s.ratio)} (${mark(s.ratio >= 0.7)}) | ${joins} | ${f0(s.joins.count)} | ${f0(s.memory.baseMiB)} → ${f0(s.memory.withVisitorsMiB)} | ${f0(s.memory.bytesPerVisitor)}${s.waiting >= 10_000 ? ` (${mark(s.memory.bytesPerVisitor <= 10_240)})` : ' (the fixed cost of a warm process still shows at this size)'} |`;
      }),
      '',
      '"On disk": the same with `WR_DATA_DIR` (SQLite, group commits); the fan-out writes nothing.',
      '',
    );
  }
  if (aws) lines.push(...awsSection(aws));
  lines.push(
    '## Reproduce',
    '',
    '```sh',
    'npm run bench              # everything, writes docs/BENCHMARKS.md (about 3 minutes)',
    'npm run bench -- --quick   # smaller sizes',
    'npm run bench -- --only gate,tick',
    'npm run bench -- --only dynamo  # DynamoDB reads and writes per tick at 10,000 and 100,000 waiting',
    'npm run bench -- --only arrivals  # joins into the SQS FIFO queue at 100 and 1,667 a second',
    'npm run bench -- --only aws  # AWS calls through start:aws-local (about 2 minutes)',
    '```',
    '',
  );
  await writeFile(values.out as string, lines.join('\n'));
  // Aligned as the linter wants it, so a fresh report never fails `npm run lint`.
  spawnSync('npx', ['biome', 'format', '--write', values.out as string], { stdio: 'ignore' });
  log(`wrote ${values.out}`);
}

const f2s = (n: number) => (Math.abs(n) >= 100 ? f0(n) : n.toFixed(2));

function countsRow(label: string, c: BillableCounts, extra: string[] = []): string {
  return `| ${[
    label,
    ...extra,
    f2s(c.dynamoCalls),
    f2s(c.dynamoReadUnits),
    f2s(c.dynamoWriteUnits),
    f2s(c.sqsRequests),
    f2s(c.ssmCalls),
    f2s(c.lambdaInvocations),
    c.lambdaGbSeconds.toFixed(3),
    f2s(c.apiMessages),
    f2s(c.postToConnection),
  ].join(' | ')} |`;
}

const COUNT_HEADERS =
  'DynamoDB calls | RRU | WRU (table + index) | SQS requests | SSM calls | Lambda invocations | Lambda GB-s | API messages | postToConnection';

function awsSection(aws: AwsResult): string[] {
  const idleMonthly = dollarsFor(scaleCounts(aws.asleep.perHour, 30 * 24));
  return [
    '## AWS calls per visitor and per tick',
    '',
    'The AWS build run by `npm run start:aws-local` (the real Lambda handlers over dynalite and the SSM',
    'and API Gateway stand-ins, every SDK call counted; DynamoDB units from `ConsumedCapacity`),',
    `ticking every ${aws.tickMs} ms. Asleep: nobody waiting for ${f0(aws.asleep.seconds)} s, the processor asleep and started only`,
    `by the schedule's watchdog (${aws.asleep.invocations} runs, ${aws.asleep.ticks} ticks). Then the same number of visitors join at once`,
    'twice, admitted at a fast rate (a short wait) and at a tenth of it (a long wait); between the two,',
    `the processor is measured awake with nobody waiting (${aws.awakeIdle.ticks} ticks, before it goes back to sleep).`,
    "Per-visitor figures leave out the awake processor's calls per tick with nobody waiting and its",
    'Lambda time. Lambda GB-s are this',
    "machine's durations against local stand-ins, not AWS's; docs/CAPACITY.md prices duration",
    'separately. Index write units are estimated (one per write that touches a waiting session).',
    'The limits per source address are on (a count at `$connect` and at `join`); every visitor here',
    'comes from 127.0.0.1, so the places a tick gives back are one write, where visitors on their own',
    'addresses cost one each.',
    '',
    `| per visitor | visitors | rate/min | mean wait (s) | ${COUNT_HEADERS} | $ per 100k (${AWS_PRICES.region}) |`,
    `| --- | ---: | ---: | ---: | ${COUNT_HEADERS.split(' | ')
      .map(() => '---:')
      .join(' | ')} | ---: |`,
    ...aws.phases.map(
      (p) =>
        `${countsRow(p.name, p.summary.perVisitor, [f0(p.visitors), f0(p.admitPerMinute), f1(p.meanWaitSeconds)])} $${p.summary.per100kVisitors.total.toFixed(2)} |`,
    ),
    `${countsRow('each further minute waiting', aws.perWaitingMinute, ['', '', ''])} $${dollarsFor(scaleCounts(aws.perWaitingMinute, 100_000)).total.toFixed(2)} |`,
    '',
    `| per tick | ${COUNT_HEADERS} |`,
    `| --- | ${COUNT_HEADERS.split(' | ')
      .map(() => '---:')
      .join(' | ')} |`,
    countsRow('awake, nobody waiting', aws.awakeIdle.perTick),
    ...aws.phases.map((p) => countsRow(`during the ${p.name}`, p.summary.perTick)),
    '',
    `| asleep, per hour | ${COUNT_HEADERS} |`,
    `| --- | ${COUNT_HEADERS.split(' | ')
      .map(() => '---:')
      .join(' | ')} |`,
    countsRow('nobody waiting, processor asleep', aws.asleep.perHour),
    '',
    `With nobody waiting, a month costs $${idleMonthly.total.toFixed(2)} at these prices (target: at most $5): Lambda $${idleMonthly.byService.lambda.toFixed(2)} (the schedule's watchdog runs, this machine's durations) and DynamoDB $${idleMonthly.byService.dynamodb.toFixed(2)}.`,
    '',
  ];
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
