/**
 * In-process {@link ArrivalQueue} with the queue semantics the core relies on: one ordered
 * group, deduplication by session id while a message is queued, at-least-once delivery (a
 * received message not acknowledged within the visibility timeout comes back), and the group
 * blocked while its oldest message is in flight.
 */
import type { Arrival, ArrivalQueue, Clock, ReceivedArrival } from '../../core/ports.ts';

/** Width of `order`, so that orders sort as strings. */
export const ORDER_WIDTH = 40;

interface Entry {
  arrival: Arrival;
  order: string;
  receipt: string;
  invisibleUntil: number;
  acked: boolean;
}

/** An arrival still queued, as a durable copy keeps it. */
export interface QueuedArrival extends Arrival {
  order: string;
}

export class MemoryArrivalQueue implements ArrivalQueue {
  /** One order, handed out in it: nothing to settle. */
  readonly settleMs = 0;
  /** The only processor is this process's: no predecessor can hold arrivals in flight. */
  readonly holdAfterTakeoverMs = 0;
  /** Told each arrival queued and each one acknowledged (a durable copy keeps them). */
  onEnqueued: ((arrival: QueuedArrival) => void) | undefined;
  onAcknowledged: ((orders: string[]) => void) | undefined;
  #entries: Entry[] = [];
  #head = 0;
  readonly #queued = new Set<string>();
  #receipts = 0;
  #sequence = 0n;

  constructor(
    private readonly clock: Clock,
    private readonly visibilityTimeoutMs = 30_000,
  ) {}

  async enqueue(arrival: Arrival): Promise<void> {
    if (this.#queued.has(arrival.sessionId)) return;
    this.#queued.add(arrival.sessionId);
    this.#sequence += 1n;
    const order = this.#sequence.toString().padStart(ORDER_WIDTH, '0');
    this.#entries.push({
      arrival: { ...arrival },
      order,
      receipt: '',
      invisibleUntil: 0,
      acked: false,
    });
    this.onEnqueued?.({ ...arrival, order });
  }

  /**
   * Takes the arrivals a previous process left queued, in order (an empty queue only), and
   * goes on numbering after `lastOrder`, the highest order it ever gave (queued or numbered).
   */
  restore(queued: readonly QueuedArrival[], lastOrder: string | null): void {
    if (this.#entries.length > 0) throw new Error('restore into an empty queue only');
    const sorted = [...queued].sort((a, b) => (a.order < b.order ? -1 : 1));
    for (const { order, ...arrival } of sorted) {
      this.#queued.add(arrival.sessionId);
      this.#entries.push({ arrival, order, receipt: '', invisibleUntil: 0, acked: false });
    }
    const highest = [lastOrder, sorted.at(-1)?.order]
      .filter((o): o is string => !!o)
      .sort()
      .at(-1);
    if (highest !== undefined && /^\d+$/.test(highest)) this.#sequence = BigInt(highest);
  }

  async receive(max: number): Promise<ReceivedArrival[]> {
    const now = this.clock.now();
    const received: ReceivedArrival[] = [];
    for (let i = this.#head; i < this.#entries.length && received.length < max; i++) {
      const entry = this.#entries[i] as Entry;
      if (entry.acked) continue;
      // FIFO: a message in flight blocks everything behind it.
      if (entry.invisibleUntil > now) break;
      entry.receipt = `r${++this.#receipts}`;
      entry.invisibleUntil = now + this.visibilityTimeoutMs;
      received.push({
        ...entry.arrival,
        order: entry.order,
        acceptedAt: entry.arrival.joinedAt,
        receipt: entry.receipt,
      });
    }
    return received;
  }

  async acknowledge(arrivals: readonly ReceivedArrival[]): Promise<void> {
    const receipts = new Set(arrivals.map((a) => a.receipt));
    const acknowledged: string[] = [];
    for (let i = this.#head; i < this.#entries.length; i++) {
      const entry = this.#entries[i] as Entry;
      if (!receipts.has(entry.receipt)) continue;
      this.#queued.delete(entry.arrival.sessionId);
      entry.acked = true;
      acknowledged.push(entry.order);
    }
    if (acknowledged.length > 0) this.onAcknowledged?.(acknowledged);
    while (this.#entries[this.#head]?.acked) {
      this.#head += 1;
    }
    if (this.#head > 1024 && this.#head * 2 > this.#entries.length) {
      this.#entries = this.#entries.slice(this.#head);
      this.#head = 0;
    }
  }

  /** Messages not yet acknowledged. */
  get depth(): number {
    return this.#queued.size;
  }
}
