/**
 * The console page's state: the samples streamed by the console server (server-sent events),
 * whether the stream is live, and the operator's changes. No component logic lives here, so it
 * is tested without rendering.
 */
import {
  type ConsoleConfigAnswer,
  type ConsoleConfigChange,
  type ConsoleSample,
  type ConsoleSnapshot,
  type ConsoleTarget,
  EVENT_SAMPLE,
  EVENT_SNAPSHOT,
} from '../../../tools/console/protocol.ts';

/** What the page needs of `EventSource` (tests hand in a fake). */
export interface EventStream {
  addEventListener(type: string, listener: (event: MessageEvent<string>) => void): void;
  onerror: ((event: Event) => void) | null;
  readonly readyState: number;
  close(): void;
}

export type Fetch = (url: string, init?: RequestInit) => Promise<Response>;

export type StreamState = 'connecting' | 'live' | 'reconnecting' | 'unauthorized';

export type ChangeResult = { ok: true; sample: ConsoleSample } | { ok: false; error: string };

const HOUR_MS = 3_600_000;
const CLOSED = 2;

export interface ConsoleStateOptions {
  openStream: (url: string) => EventStream;
  fetch: Fetch;
  now?: () => number;
}

export class ConsoleState {
  target = $state<ConsoleTarget | null>(null);
  samples = $state.raw<ConsoleSample[]>([]);
  stream = $state<StreamState>('connecting');
  intervalMs = $state(2000);
  /** The page's clock, ticking every second (for "updated 3 s ago" and countdowns). */
  now = $state(0);
  readonly latest = $derived<ConsoleSample | null>(this.samples.at(-1) ?? null);
  /** The newest sample taken by the console itself (not a CloudWatch minute). */
  readonly live = $derived<ConsoleSample | null>(
    this.samples.findLast((s) => s.origin === 'live') ?? null,
  );
  /** Whether the figures are older than three samples' worth. */
  readonly stale = $derived(
    this.live !== null && this.now - this.live.at > Math.max(3 * this.intervalMs, 6000),
  );

  readonly #options: ConsoleStateOptions;
  #source: EventStream | null = null;
  #clock: ReturnType<typeof setInterval> | null = null;

  constructor(options: ConsoleStateOptions) {
    this.#options = options;
    this.now = (options.now ?? Date.now)();
  }

  start(): void {
    this.#clock = setInterval(() => {
      this.now = (this.#options.now ?? Date.now)();
    }, 1000);
    this.#open();
  }

  stop(): void {
    if (this.#clock) clearInterval(this.#clock);
    this.#source?.close();
  }

  #open(): void {
    const source = this.#options.openStream('/api/events');
    this.#source = source;
    source.addEventListener(EVENT_SNAPSHOT, (event) => {
      const snapshot = JSON.parse(event.data) as ConsoleSnapshot;
      this.target = snapshot.target;
      this.intervalMs = snapshot.intervalMs;
      this.samples = snapshot.samples;
      this.stream = 'live';
    });
    source.addEventListener(EVENT_SAMPLE, (event) => {
      this.add(JSON.parse(event.data) as ConsoleSample);
      this.stream = 'live';
    });
    source.onerror = () => {
      if (source.readyState !== CLOSED) {
        this.stream = 'reconnecting';
        return;
      }
      // The browser gives up on an answer that is not a stream (a 401 after a restart, whose
      // token is new): find out which, and try again later unless it is the token.
      void this.#options.fetch('/api/state').then(
        (response) => {
          if (response.status === 401) {
            this.stream = 'unauthorized';
            return;
          }
          this.stream = 'reconnecting';
          setTimeout(() => this.#open(), this.intervalMs);
        },
        () => {
          this.stream = 'reconnecting';
          setTimeout(() => this.#open(), this.intervalMs);
        },
      );
    };
  }

  /** Adds a sample (from the stream, or the answer to a change), keeping an hour. */
  add(sample: ConsoleSample): void {
    if (this.samples.some((s) => s.at === sample.at)) return;
    const oldest = sample.at - HOUR_MS;
    this.samples = [...this.samples.filter((s) => s.at >= oldest), sample];
  }

  /**
   * Sends a change to the room through the console server. The page asks the operator first
   * for what lets everyone in or stops admission, and says so with `confirm`.
   */
  async change(change: ConsoleConfigChange): Promise<ChangeResult> {
    try {
      const response = await this.#options.fetch('/api/config', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(change),
      });
      const body = (await response.json().catch(() => ({}))) as Partial<ConsoleConfigAnswer> & {
        error?: string;
      };
      if (!response.ok || !body.sample) {
        return { ok: false, error: body.error ?? `the console answered ${response.status}` };
      }
      this.add(body.sample);
      return { ok: true, sample: body.sample };
    } catch (error) {
      return { ok: false, error: `the console did not answer (${(error as Error).message})` };
    }
  }
}
