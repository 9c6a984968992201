/**
 * The HTML report: one self-contained file (inline CSS and SVG, no script, nothing fetched)
 * with the summary, the invariants, and charts of admissions, the line and sampled positions.
 */

import type { Kinds, RehearsalReport } from './rehearsal-report.ts';
import type { Percentiles, SimulationReport } from './report.ts';
import { formatAwsUsage, type PowReport, type PrequeueReport } from './report.ts';

const escapeHtml = (text: unknown) =>
  String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const PALETTE = [
  '#2563eb',
  '#dc2626',
  '#059669',
  '#d97706',
  '#7c3aed',
  '#db2777',
  '#0891b2',
  '#65a30d',
  '#ea580c',
  '#4f46e5',
  '#0d9488',
  '#b91c1c',
  '#9333ea',
  '#ca8a04',
  '#0284c7',
  '#16a34a',
  '#c026d3',
  '#475569',
  '#e11d48',
  '#84cc16',
];

export interface ChartSeries {
  name: string;
  color: string;
  points: [number, number][];
  kind: 'line' | 'bars' | 'step' | 'dots';
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: ChartSeries[];
  width?: number;
  height?: number;
  /** Whether the legend lists the series (off for many sampled visitors). */
  legend?: boolean;
}

/** A "nice" step for about `count` ticks over `span`. */
function niceStep(span: number, count: number): number {
  if (span <= 0) return 1;
  const raw = span / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const scaled = raw / power;
  const nice = scaled <= 1 ? 1 : scaled <= 2 ? 2 : scaled <= 5 ? 5 : 10;
  return nice * power;
}

function formatTick(value: number): string {
  if (Math.abs(value) >= 10_000) return `${Math.round(value / 1000)}k`;
  if (Number.isInteger(value)) return String(value);
  return value.toFixed(1);
}

/** Draws an SVG chart: axes with nice ticks, then each series as bars, lines, steps or dots. */
export function svgChart(options: ChartOptions): string {
  const width = options.width ?? 900;
  const height = options.height ?? 300;
  const margin = { top: 16, right: 20, bottom: 44, left: 64 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const all = options.series.flatMap((s) => s.points);
  const xMax = all.reduce((m, [px]) => Math.max(px, m), 1);
  const yMaxRaw = all.reduce((m, [, py]) => Math.max(py, m), 1);
  const yStep = niceStep(yMaxRaw, 5);
  const yMax = Math.ceil(yMaxRaw / yStep) * yStep;
  const xStep = niceStep(xMax, 8);
  const x = (v: number) => margin.left + (v / xMax) * plotW;
  const y = (v: number) => margin.top + plotH - (v / yMax) * plotH;
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeHtml(options.title)}">`,
  );
  for (let v = 0; v <= yMax + 1e-9; v += yStep) {
    parts.push(
      `<line x1="${margin.left}" x2="${width - margin.right}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" class="grid"/>`,
      `<text x="${margin.left - 8}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" class="tick">${formatTick(v)}</text>`,
    );
  }
  for (let v = 0; v <= xMax + 1e-9; v += xStep) {
    parts.push(
      `<line x1="${x(v).toFixed(1)}" x2="${x(v).toFixed(1)}" y1="${margin.top + plotH}" y2="${margin.top + plotH + 5}" class="axis"/>`,
      `<text x="${x(v).toFixed(1)}" y="${margin.top + plotH + 18}" text-anchor="middle" class="tick">${formatTick(v)}</text>`,
    );
  }
  parts.push(
    `<line x1="${margin.left}" x2="${width - margin.right}" y1="${margin.top + plotH}" y2="${margin.top + plotH}" class="axis"/>`,
    `<line x1="${margin.left}" x2="${margin.left}" y1="${margin.top}" y2="${margin.top + plotH}" class="axis"/>`,
    `<text x="${margin.left + plotW / 2}" y="${height - 6}" text-anchor="middle" class="label">${escapeHtml(options.xLabel)}</text>`,
    `<text transform="translate(14 ${margin.top + plotH / 2}) rotate(-90)" text-anchor="middle" class="label">${escapeHtml(options.yLabel)}</text>`,
  );
  for (const s of options.series) {
    if (s.points.length === 0) continue;
    if (s.kind === 'bars') {
      const barW = Math.max(1, (plotW / xMax) * 0.8);
      for (const [px, py] of s.points) {
        if (py <= 0) continue;
        parts.push(
          `<rect x="${(x(px) - barW / 2).toFixed(1)}" y="${y(py).toFixed(1)}" width="${barW.toFixed(1)}" height="${(margin.top + plotH - y(py)).toFixed(1)}" fill="${s.color}" opacity="0.55"><title>${escapeHtml(`${s.name}: ${py} at ${px} s`)}</title></rect>`,
        );
      }
    } else if (s.kind === 'dots') {
      for (const [px, py] of s.points) {
        parts.push(
          `<circle cx="${x(px).toFixed(1)}" cy="${y(py).toFixed(1)}" r="2.5" fill="${s.color}"><title>${escapeHtml(`${s.name}: ${py} at ${px} s`)}</title></circle>`,
        );
      }
    } else {
      const d = s.points
        .map(([px, py], i) => {
          const prev = s.points[i - 1];
          const move = i === 0 ? 'M' : 'L';
          if (s.kind === 'step' && prev) {
            return `L${x(px).toFixed(1)},${y(prev[1]).toFixed(1)} L${x(px).toFixed(1)},${y(py).toFixed(1)}`;
          }
          return `${move}${x(px).toFixed(1)},${y(py).toFixed(1)}`;
        })
        .join(' ');
      parts.push(
        `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.8" stroke-linejoin="round"><title>${escapeHtml(s.name)}</title></path>`,
      );
    }
  }
  parts.push('</svg>');
  const legend =
    options.legend === false
      ? ''
      : `<div class="legend">${options.series
          .map((s) => `<span><i style="background:${s.color}"></i>${escapeHtml(s.name)}</span>`)
          .join('')}</div>`;
  return `<figure><figcaption>${escapeHtml(options.title)}</figcaption>${parts.join('')}${legend}</figure>`;
}

const ms = (x: number | null) =>
  x === null
    ? '&ndash;'
    : x >= 10_000
      ? `${(x / 1000).toFixed(1)}&nbsp;s`
      : `${Math.round(x)}&nbsp;ms`;

function serverRtt(values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  const p50 = sorted[Math.floor((sorted.length - 1) / 2)] ?? null;
  return `p50 ${ms(p50)}, max ${ms(sorted.at(-1) ?? null)}`;
}

function latencyRow(name: string, p: Percentiles): string {
  return `<tr><th>${escapeHtml(name)}</th><td>${p.count}</td><td>${ms(p.p50)}</td><td>${ms(p.p90)}</td><td>${ms(p.p99)}</td><td>${ms(p.max)}</td></tr>`;
}

const STYLE = `
:root{--fg:#111827;--muted:#6b7280;--line:#e5e7eb;--bg:#f8fafc;--ok:#047857;--bad:#b91c1c}
*{box-sizing:border-box}body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
main{max-width:1000px;margin:0 auto;padding:28px 20px 60px}h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:32px 0 10px}
.sub{color:var(--muted);margin:0 0 18px}.verdict{display:inline-block;padding:4px 12px;border-radius:999px;font-weight:600;color:#fff}
.verdict.ok{background:var(--ok)}.verdict.bad{background:var(--bad)}.verdict.warn{background:#b45309}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(140px,1fr));gap:10px;margin-top:16px}
.card{background:#fff;border:1px solid var(--line);border-radius:10px;padding:10px 14px}.card b{display:block;font-size:22px}.card span{color:var(--muted);font-size:13px}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid var(--line);border-radius:10px;overflow:hidden}
th,td{text-align:left;padding:7px 12px;border-bottom:1px solid var(--line);vertical-align:top}thead th{background:#f1f5f9;font-size:13px;color:#334155}
tbody th{font-weight:500}td.num,th.num{text-align:right}.pass{color:var(--ok);font-weight:600}.fail{color:var(--bad);font-weight:600}
ul.examples{margin:4px 0 0;padding-left:18px;color:#374151;font-size:13px}
figure{margin:0 0 18px;background:#fff;border:1px solid var(--line);border-radius:10px;padding:12px 12px 8px}
figcaption{font-weight:600;margin:0 0 6px 4px}svg{width:100%;height:auto;display:block}
.grid{stroke:#eef2f7}.axis{stroke:#94a3b8}.tick{font-size:11px;fill:#64748b}.label{font-size:12px;fill:#334155}
.legend{display:flex;flex-wrap:wrap;gap:6px 16px;font-size:12px;color:#334155;margin:4px 4px 0}.legend i{display:inline-block;width:12px;height:3px;margin-right:6px;vertical-align:middle}
.note{color:var(--muted);font-size:13px}code{background:#eef2f7;padding:1px 5px;border-radius:4px}
`;

function prequeueSection(p: PrequeueReport): string {
  const row = (name: string, value: string) =>
    `<tr><th>${escapeHtml(name)}</th><td>${value}</td></tr>`;
  const seedNote =
    p.seedMatchesCommitment === null
      ? 'not told (no member heard a position)'
      : p.seedMatchesCommitment
        ? 'SHA-256 of the seed is the commitment'
        : '<span class="fail">SHA-256 of the seed is NOT the commitment</span>';
  return `<h2>Pre-queue and draw</h2>
<table><tbody>
${row('opening', `${escapeHtml(p.opensAt ?? 'never heard of')}${p.opensAtSecond === null ? '' : ` (${escapeHtml(p.opensAtSecond)} s into the run)`}, scheduled by the ${escapeHtml(p.scheduledBy)}`)}
${row('members', `${p.members} in the pre-queue (${p.membersAdmitted} admitted), ${p.laterJoins} later joins, ${p.undetermined} crossing the opening undetermined`)}
${row('prequeue messages', `${p.prequeueMessages}; ${p.churnedBeforeOpening} members dropped their socket before the opening and came back`)}
${row('commitment', `<code>${escapeHtml(p.commitment ?? '–')}</code>`)}
${row('seed', `<code>${escapeHtml(p.seed ?? '–')}</code>: ${seedNote}`)}
${row('members admitted', `${escapeHtml(p.firstMemberAdmittedAfterS ?? '–')} s to ${escapeHtml(p.lastMemberAdmittedAfterS ?? '–')} s after the opening`)}
</tbody></table>
<p class="note">Anyone can check the order: <code>printf '%s:%s' "$seed" "$sessionId" | sha256sum</code> for each member, sorted.</p>`;
}

function powSection(p: PowReport): string {
  const other = Object.entries(p.replaysOther);
  return `<h2>Proof of work</h2>
<table><thead><tr><th></th><th>count</th><th>p50</th><th>p90</th><th>p99</th><th>max</th></tr></thead><tbody>
${latencyRow('solve time (simulator)', p.solveMs)}
${latencyRow('waiting for a solver', p.queuedMs)}
</tbody></table>
<p class="note">${p.challenges} challenges${p.costSet === null ? '' : ` (cost ${escapeHtml(p.costSet)} set for the run)`}, ${p.solved} solved, ${p.failed} failed; <code>invalid_proof</code> ${p.invalidProof}; replayed proofs refused ${p.replaysRefused} of ${p.replaysPlanned} planned${other.length === 0 ? '' : ` (otherwise ${other.map(([r, n]) => `${escapeHtml(r)} ${n}`).join(', ')})`}.</p>`;
}

function rehearsalSection(r: RehearsalReport): string {
  const row = (name: string, value: string) =>
    `<tr><th>${escapeHtml(name)}</th><td>${value}</td></tr>`;
  const kinds = (k: Kinds) => {
    const entries = Object.entries(k);
    return entries.length === 0
      ? 'none'
      : entries.map(([kind, n]) => `${escapeHtml(kind)} ${n}`).join(', ');
  };
  const { joins, admissions: a, promises: p } = r;
  return `<h2>Rehearsal</h2>
<table><tbody>
${row('room', `${escapeHtml(r.room.runtime)} at <code>${escapeHtml(r.room.wsUrl)}</code>, started in ${escapeHtml(r.room.startupSeconds)} s; log <code>${escapeHtml(r.room.logFile)}</code>`)}
${row('faults on', `<code>${escapeHtml(r.faultsOn)}</code>`)}
${row('crowd', `${r.crowd.users} visitors, ${r.crowd.burst} at once, the rest over ${escapeHtml(r.crowd.rampSeconds)} s; churn ${escapeHtml(r.crowd.churn)}`)}
${row('joins', `${joins.sent} sent; ${joins.visitorsRetried} visitors tried more than once; ${joins.gaveUp} gave up<br>refused: ${kinds(joins.refused)}; handshakes refused: ${kinds(joins.handshakesRefused)}<br>retried: ${kinds(joins.retried)}`)}
${row('resumes', `refused: ${kinds(joins.resumesRefused)}; retried: ${kinds(joins.resumesRetried)}`)}
${row('admissions', `${escapeHtml(a.observedPerMinute ?? '–')}/min observed (peak ${a.peakInAMinute} in any 60 s) against ${a.configuredPerMinute}/min configured${a.ratio === null ? '' : ` (${Math.round(a.ratio * 100)}&nbsp;%)`}; ${a.admitted} admitted`)}
${row('promises', `${p.positions} positions: kept ${p.kept}, <span class="${p.broken > 0 ? 'fail' : ''}">broken ${p.broken}</span>, unjudged ${p.unjudged} (left on purpose ${p.unjudgedLeftOnPurpose}, run ended ${p.unjudgedRunEnded}); grace ${p.graceMs / 1000} s`)}
${row('AWS faults struck', r.awsErrors === null ? 'usage not read' : kinds(r.awsErrors.faultsStruck))}
${row('Lambda errors', r.awsErrors === null ? 'usage not read' : kinds(r.awsErrors.lambdaErrors))}
${row('invariants', r.invariants.broken.length === 0 ? `all ${r.invariants.of} held` : `<span class="fail">broken: ${r.invariants.broken.join(', ')}</span>`)}
</tbody></table>
<p class="note">A position promises news within its <code>nextUpdateSeconds</code>: the promise is kept when the visitor hears from the room again (any message) within that plus the grace. Times below run from a visitor's arrival (its first connection attempt).</p>
<table><thead><tr><th></th><th>count</th><th>p50</th><th>p90</th><th>p99</th><th>max</th></tr></thead><tbody>
${latencyRow('arrival → joined', r.timeToJoinedMs)}
${latencyRow('arrival → first position', r.timeToFirstPositionMs)}
${latencyRow('burst: arrival → joined', r.burstTimeToJoinedMs)}
${latencyRow('burst: arrival → first position', r.burstTimeToFirstPositionMs)}
</tbody></table>`;
}

/** Renders the whole report as one HTML document. */
export function renderHtmlReport(report: SimulationReport): string {
  const { config, counts, invariants, latencyMs, throughput, run, timeseries } = report;
  const ok = invariants.ok;
  const incomplete = counts.unjoined > 0 || run.problems.length > 0;
  const cards: [string, string | number][] = [
    ['visitors', config.users],
    ['admitted', counts.admitted],
    ['abandoned on purpose', counts.abandonedOnPurpose],
    ['waiting at the stop', counts.waitingAtStop],
    ['lost', counts.lost],
    ['never joined', counts.unjoined],
    ['elapsed', `${run.elapsedSeconds} s`],
    ['admitted / min', throughput.admittedPerMinuteObserved ?? '–'],
    ['peak messages / s', throughput.peakReceivedPerSecond],
    ['errors', Object.values(report.errorsByCode).reduce((a, b) => a + b, 0)],
  ];
  const invariantRows = invariants.results
    .map(
      (r) =>
        `<tr><td>${r.id}</td><td>${escapeHtml(r.name)}${
          r.examples.length > 0
            ? `<ul class="examples">${r.examples.map((e) => `<li>${escapeHtml(e.detail)}</li>`).join('')}</ul>`
            : ''
        }</td><td class="${r.ok ? 'pass' : 'fail'}">${r.ok ? 'PASS' : 'FAIL'}</td><td class="num">${r.violations}</td></tr>`,
    )
    .join('');
  // Per-second counts sit in the middle of their second; levels hold at the end of it.
  const rates = (values: number[]) => values.map((v, i) => [i + 0.5, v] as [number, number]);
  const levels = (values: number[]) => [
    [0, 0] as [number, number],
    ...values.map((v, i) => [i + 1, v] as [number, number]),
  ];
  const admissions = svgChart({
    title: 'Admissions per second',
    xLabel: 'seconds since the first arrival',
    yLabel: 'admissions / s',
    series: [
      {
        name: 'admitted received',
        color: '#2563eb',
        kind: 'bars',
        points: rates(timeseries.admittedPerSecond),
      },
      {
        name: 'admitted by pass iat (the room’s stamp)',
        color: '#dc2626',
        kind: 'line',
        points: rates(timeseries.admittedPerSecondByIat),
      },
    ],
  });
  const lineSeries: ChartSeries[] = [
    {
      name: 'waiting (as visitors see it)',
      color: '#2563eb',
      kind: 'line',
      points: levels(timeseries.waiting),
    },
    {
      name: 'connected sockets',
      color: '#059669',
      kind: 'line',
      points: levels(timeseries.connected),
    },
  ];
  if (report.server && report.server.length > 0) {
    lineSeries.push({
      name: 'waiting (room admin status)',
      color: '#d97706',
      kind: 'dots',
      points: report.server
        .filter((s) => s.second >= 0)
        .map((s) => [s.second, s.waiting + s.arriving]),
    });
  }
  const waiting = svgChart({
    title: 'The line over time',
    xLabel: 'seconds since the first arrival',
    yLabel: 'visitors',
    series: lineSeries,
  });
  const positions = svgChart({
    title: `Position against time, ${report.positionSamples.length} sampled visitors`,
    xLabel: 'seconds since the first arrival',
    yLabel: 'position',
    series: report.positionSamples.map((s, i) => ({
      name: `${s.visitor} (${s.outcome})`,
      color: PALETTE[i % PALETTE.length] as string,
      kind: 'step',
      points: s.points,
    })),
  });
  const messages = svgChart({
    title: 'Messages per second',
    xLabel: 'seconds since the first arrival',
    yLabel: 'messages / s',
    height: 220,
    series: [
      {
        name: 'received by visitors',
        color: '#7c3aed',
        kind: 'line',
        points: rates(timeseries.receivedPerSecond),
      },
      {
        name: 'sent by visitors',
        color: '#0891b2',
        kind: 'line',
        points: rates(timeseries.sentPerSecond),
      },
    ],
  });
  const errors = Object.entries(report.errorsByCode);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>Waiting-room simulation: ${escapeHtml(config.users)} visitors</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<h1>Waiting-room simulation</h1>
<p class="sub">${escapeHtml(config.users)} visitors against <code>${escapeHtml(config.url)}</code>, ramp ${escapeHtml(config.rampSeconds)} s, churn ${escapeHtml(config.churn)}, abandon ${escapeHtml(config.abandon)}, recheck ${escapeHtml(config.recheck)}; ${escapeHtml(config.workers)} worker(s); seed ${escapeHtml(config.seed)}. Started ${escapeHtml(run.startedAt)}, stopped (${escapeHtml(run.stopReason)}) after ${escapeHtml(run.elapsedSeconds)} s.</p>
<span class="verdict ${ok ? (incomplete ? 'warn' : 'ok') : 'bad'}">${ok ? (incomplete ? 'No invariant broken; the run is incomplete' : 'All invariants held') : 'Invariants broken'}</span>
${run.problems.length > 0 ? `<ul class="examples">${run.problems.map((p) => `<li>${escapeHtml(p)}</li>`).join('')}</ul>` : ''}
<div class="cards">${cards.map(([label, value]) => `<div class="card"><b>${escapeHtml(value)}</b><span>${escapeHtml(label)}</span></div>`).join('')}</div>

<h2>Invariants</h2>
<table><thead><tr><th>#</th><th>invariant</th><th>result</th><th class="num">visitors</th></tr></thead><tbody>${invariantRows}</tbody></table>
<p class="note">FIFO is judged by the pass <code>iat</code> (the room's stamp, whole seconds): if A's <code>joined</code> arrived before B sent <code>join</code>, B's <code>iat</code> must not be earlier than A's. Receipt order of <code>admitted</code> on different sockets is not the room's order; ${escapeHtml(invariants.receiptOrderWarnings)} visitor(s) connected throughout got theirs before someone ahead of them (largest gap ${escapeHtml(invariants.receiptOrderMaxMs)} ms): a warning, not a failure.</p>

<h2>Charts</h2>
${admissions}
${waiting}
${positions}
${messages}

<h2>Latency</h2>
<table><thead><tr><th></th><th>count</th><th>p50</th><th>p90</th><th>p99</th><th>max</th></tr></thead><tbody>
${latencyRow('join sent → joined', latencyMs.join)}
${latencyRow('reconnect open → resumed', latencyMs.resume)}
${latencyRow('admission (pass iat) → admitted received', latencyMs.admission)}
${latencyRow('admitted received − first of the same tick', latencyMs.admissionSpreadInTick)}
</tbody></table>
<p class="note">${escapeHtml(latencyMs.note)}.</p>

<h2>Summary</h2>
<table><tbody>
<tr><th>joined</th><td>${counts.joined} of ${counts.users} (${counts.unstarted} not started, ${counts.unjoined} never joined)</td></tr>
<tr><th>outcomes</th><td>admitted ${counts.admitted}, abandoned on purpose ${counts.abandonedOnPurpose} (of ${counts.abandonPlanned} planned), waiting at the stop ${counts.waitingAtStop}, expired ${counts.expired}, sent in with the room off ${counts.opened}, lost ${counts.lost}</td></tr>
<tr><th>churn</th><td>${counts.churnDone} of ${counts.churnPlanned} planned dropped and came back (${counts.reconnects} reconnects)</td></tr>
<tr><th>rechecks</th><td>${counts.recheckSamePass} of ${counts.rechecks} got the same pass again</td></tr>
<tr><th>admitted per minute</th><td>${throughput.admittedPerMinuteObserved ?? '&ndash;'} observed; at most ${throughput.peakAdmittedInAMinute} in any 60 s (by pass iat)</td></tr>
<tr><th>messages</th><td>${throughput.messagesReceived} received (peak ${throughput.peakReceivedPerSecond}/s), ${throughput.messagesSent} sent (peak ${throughput.peakSentPerSecond}/s)</td></tr>
<tr><th>errors</th><td>${errors.length === 0 ? 'none' : errors.map(([code, n]) => `${escapeHtml(code)}: ${n}`).join('<br>')}</td></tr>
<tr><th>memory</th><td>parent peak ${run.parentPeakRssMb} MB${run.workers.map((w) => `; worker ${w.worker} (${w.visitors} visitors) peak ${w.peakRssMb} MB`).join('')}</td></tr>
<tr><th>simulator event-loop delay</th><td>parent max ${run.parentLoopDelayMaxMs} ms${run.workers.map((w) => `; worker ${w.worker} p99 ${w.loopDelayP99Ms} ms, max ${w.loopDelayMaxMs} ms`).join('')}</td></tr>
${
  report.server && report.server.length > 0
    ? `<tr><th>room status round trip</th><td>${serverRtt(report.server.map((s) => s.rttMs))} over ${report.server.length} polls of the admin status (how responsive the room's event loop was)</td></tr>`
    : ''
}
<tr><th>source addresses</th><td>${config.sourceAddresses.length === 0 ? 'system default' : escapeHtml(config.sourceAddresses.join(', '))}</td></tr>
</tbody></table>
${report.prequeue ? prequeueSection(report.prequeue) : ''}
${report.pow ? powSection(report.pow) : ''}
${report.rehearsal ? rehearsalSection(report.rehearsal) : ''}
${report.aws ? `<h2>AWS calls</h2>\n<pre>${escapeHtml(formatAwsUsage(report.aws.summary).join('\n'))}</pre>` : ''}
</main>
</body>
</html>
`;
}
