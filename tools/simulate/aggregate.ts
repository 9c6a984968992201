/**
 * The parent's view of the run: every visitor's trace, live counters for the progress display,
 * and per-second series for the report, all fed one event at a time.
 */
import { RECEIVED_KINDS, type TraceEvent, type VisitorPlan, type VisitorTrace } from './events.ts';

export interface LiveCounts {
  connected: number;
  waiting: number;
  admitted: number;
  abandoned: number;
  lost: number;
  failed: number;
  errors: number;
  received: number;
  sent: number;
}

export interface SecondSeries {
  /** Seconds from the start of the run. */
  second: number[];
  connected: number[];
  waiting: number[];
  admittedPerSecond: number[];
  receivedPerSecond: number[];
  sentPerSecond: number[];
  errorsPerSecond: number[];
}

/** Where a visitor stands in the live counts. */
enum Standing {
  New = 0,
  InLine = 1,
  Admitted = 2,
  Abandoned = 3,
  Lost = 4,
  Failed = 5,
  Opened = 6,
}

export class Aggregator {
  readonly traces: VisitorTrace[];
  readonly counts: LiveCounts = {
    connected: 0,
    waiting: 0,
    admitted: 0,
    abandoned: 0,
    lost: 0,
    failed: 0,
    errors: 0,
    received: 0,
    sent: 0,
  };
  /** Error counts by kind: a server error code, `socket: <message>`, `unexpected close`... */
  readonly errorsByCode = new Map<string, number>();
  #standing: Uint8Array;
  #connectedDelta: number[] = [];
  #waitingDelta: number[] = [];
  #admitted: number[] = [];
  #received: number[] = [];
  #sent: number[] = [];
  #errors: number[] = [];
  #lastSecond = 0;

  constructor(
    plans: readonly VisitorPlan[],
    /** Start of the run (epoch ms): second 0 of the series. */
    readonly t0: number,
  ) {
    this.traces = plans.map((plan) => ({ plan, events: [] }));
    this.#standing = new Uint8Array(plans.length);
  }

  #bump(series: number[], second: number, by = 1): void {
    series[second] = (series[second] ?? 0) + by;
    if (second > this.#lastSecond) this.#lastSecond = second;
  }

  #error(kind: string, second: number): void {
    this.counts.errors += 1;
    this.errorsByCode.set(kind, (this.errorsByCode.get(kind) ?? 0) + 1);
    this.#bump(this.#errors, second);
  }

  #stand(index: number, to: Standing, second: number): void {
    const from = this.#standing[index] as Standing;
    if (from === to) return;
    this.#standing[index] = to;
    if (from === Standing.InLine) {
      this.counts.waiting -= 1;
      this.#bump(this.#waitingDelta, second, -1);
    }
    if (to === Standing.InLine) {
      this.counts.waiting += 1;
      this.#bump(this.#waitingDelta, second, 1);
    }
    if (to === Standing.Admitted) this.counts.admitted += 1;
    if (to === Standing.Abandoned) this.counts.abandoned += 1;
    if (to === Standing.Lost) this.counts.lost += 1;
    if (to === Standing.Failed) this.counts.failed += 1;
    if (from === Standing.Lost) this.counts.lost -= 1;
  }

  add(index: number, event: TraceEvent): void {
    const trace = this.traces[index];
    if (!trace) return;
    trace.events.push(event);
    const second = Math.max(0, Math.floor((event.t - this.t0) / 1000));
    const standing = this.#standing[index] as Standing;
    if (RECEIVED_KINDS.has(event.k)) {
      this.counts.received += 1;
      this.#bump(this.#received, second);
    }
    switch (event.k) {
      case 'open':
        this.counts.connected += 1;
        this.#bump(this.#connectedDelta, second, 1);
        break;
      case 'close':
        this.counts.connected -= 1;
        this.#bump(this.#connectedDelta, second, -1);
        if (!event.expected) this.#error('unexpected close', second);
        break;
      case 'send':
        this.counts.sent += 1;
        this.#bump(this.#sent, second);
        break;
      case 'joined':
        if (standing === Standing.New || standing === Standing.Lost) {
          this.#stand(index, Standing.InLine, second);
        }
        break;
      case 'admitted':
        if (standing !== Standing.Admitted) {
          this.#stand(index, Standing.Admitted, second);
          this.#bump(this.#admitted, second);
        }
        break;
      case 'open-room':
        this.#stand(index, Standing.Opened, second);
        break;
      case 'abandon':
        this.#stand(index, Standing.Abandoned, second);
        break;
      case 'error':
        this.#error(event.code, second);
        if (event.code === 'invalid_ticket' && standing === Standing.InLine) {
          this.#stand(index, Standing.Lost, second);
        }
        break;
      case 'garbled':
        this.#error('garbled message', second);
        break;
      case 'socket-error':
        this.#error(`socket: ${event.message.slice(0, 60)}`, second);
        break;
      case 'give-up':
        this.#stand(index, standing === Standing.New ? Standing.Failed : Standing.Lost, second);
        break;
      default:
        break;
    }
  }

  /** Messages received in the last whole second before `now`. */
  receivedPerSecondAt(now: number): number {
    const second = Math.floor((now - this.t0) / 1000) - 1;
    return second >= 0 ? (this.#received[second] ?? 0) : 0;
  }

  /** The per-second series up to `until` (epoch ms). */
  series(until: number): SecondSeries {
    const length = Math.max(this.#lastSecond, Math.floor((until - this.t0) / 1000)) + 1;
    const out: SecondSeries = {
      second: [],
      connected: [],
      waiting: [],
      admittedPerSecond: [],
      receivedPerSecond: [],
      sentPerSecond: [],
      errorsPerSecond: [],
    };
    let connected = 0;
    let waiting = 0;
    for (let s = 0; s < length; s += 1) {
      connected += this.#connectedDelta[s] ?? 0;
      waiting += this.#waitingDelta[s] ?? 0;
      out.second.push(s);
      out.connected.push(connected);
      out.waiting.push(waiting);
      out.admittedPerSecond.push(this.#admitted[s] ?? 0);
      out.receivedPerSecond.push(this.#received[s] ?? 0);
      out.sentPerSecond.push(this.#sent[s] ?? 0);
      out.errorsPerSecond.push(this.#errors[s] ?? 0);
    }
    return out;
  }
}
