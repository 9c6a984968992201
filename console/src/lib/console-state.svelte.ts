/**
 * The console page's state: the samples streamed by the console server (server-sent events read
 * through `fetch`, so that they carry the token), whether the stream is live, and the operator's
 * changes. No component logic lives here, so it is tested without rendering.
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
import { readEvents, SseParser } from './sse.ts';

export type Fetch = (url: string, init?: RequestInit) => Promise<Response>;

/**
 * `no-token`: the page was opened without the printed address; `unauthorized`: its token was
 * refused (the console was restarted, with a new one).
 */
export type StreamState = 'connecting' | 'live' | 'reconnecting' | 'no-token' | 'unauthorized';

export type ChangeResult =
  | { ok: true; sample: ConsoleSample }
  | { ok: false; error: string; confirmationRequired: boolean };

const HOUR_MS = 3_600_000;
/** Reconnecting waits the sampling interval, doubling after each failure up to this. */
const MAX_BACKOFF_MS = 30_000;

export interface ConsoleStateOptions {
  fetch: Fetch;
  /** The access token (see `token.ts`); null: the page was opened without it. */
  token: string | null;
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
  #clock: ReturnType<typeof setInterval> | null = null;
  #retry: ReturnType<typeof setTimeout> | null = null;
  #abort: AbortController | null = null;
  #failures = 0;
  #stopped = false;

  constructor(options: ConsoleStateOptions) {
    this.#options = options;
    this.now = (options.now ?? Date.now)();
  }

  start(): void {
    this.#stopped = false;
    this.#clock = setInterval(() => {
      this.now = (this.#options.now ?? Date.now)();
    }, 1000);
    void this.#connect();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#clock) clearInterval(this.#clock);
    if (this.#retry) clearTimeout(this.#retry);
    this.#abort?.abort();
  }

  #headers(extra: Record<string, string> = {}): Record<string, string> {
    return { authorization: `Bearer ${this.#options.token ?? ''}`, ...extra };
  }

  /** Reads the stream until it ends or fails, then tries again after a growing pause. */
  async #connect(): Promise<void> {
    if (this.#options.token === null) {
      this.stream = 'no-token';
      return;
    }
    const abort = new AbortController();
    this.#abort = abort;
    const parser = new SseParser();
    try {
      const response = await this.#options.fetch('/api/events', {
        headers: this.#headers({ accept: 'text/event-stream' }),
        cache: 'no-store',
        signal: abort.signal,
      });
      if (response.status === 401) {
        // A new start has a new token: trying again cannot help.
        this.stream = 'unauthorized';
        return;
      }
      if (!response.ok || !response.body) throw new Error(`answered ${response.status}`);
      await readEvents(response.body, parser, (event) => {
        if (event.event === EVENT_SNAPSHOT) {
          const snapshot = JSON.parse(event.data) as ConsoleSnapshot;
          this.target = snapshot.target;
          this.intervalMs = snapshot.intervalMs;
          this.samples = snapshot.samples;
          this.#failures = 0;
          this.stream = 'live';
        } else if (event.event === EVENT_SAMPLE) {
          this.add(JSON.parse(event.data) as ConsoleSample);
          this.stream = 'live';
        }
      });
    } catch {
      // The console stopped, or the connection broke: as for an ended stream, try again.
    }
    if (this.#stopped) return;
    this.stream = 'reconnecting';
    const delay = Math.min(
      MAX_BACKOFF_MS,
      (parser.retryMs ?? this.intervalMs) * 2 ** Math.min(this.#failures, 5),
    );
    this.#failures += 1;
    this.#retry = setTimeout(() => void this.#connect(), delay);
  }

  /** Adds a sample (from the stream, or the answer to a change), keeping an hour. */
  add(sample: ConsoleSample): void {
    if (this.samples.some((s) => s.at === sample.at)) return;
    const oldest = sample.at - HOUR_MS;
    this.samples = [...this.samples.filter((s) => s.at >= oldest), sample];
  }

  /**
   * Sends a change to the room through the console server. The page asks the operator first
   * for what `confirmationNeeded` names, and says so with `confirm`; a 409 says the server
   * judged it so (on a sample the page had not yet).
   */
  async change(change: ConsoleConfigChange): Promise<ChangeResult> {
    try {
      const response = await this.#options.fetch('/api/config', {
        method: 'POST',
        headers: this.#headers({ 'content-type': 'application/json' }),
        body: JSON.stringify(change),
      });
      const body = (await response.json().catch(() => ({}))) as Partial<ConsoleConfigAnswer> & {
        error?: string;
        confirmationRequired?: boolean;
      };
      if (response.status === 401) this.stream = 'unauthorized';
      if (!response.ok || !body.sample) {
        return {
          ok: false,
          error: body.error ?? `the console answered ${response.status}`,
          confirmationRequired: body.confirmationRequired === true,
        };
      }
      this.add(body.sample);
      return { ok: true, sample: body.sample };
    } catch (error) {
      return {
        ok: false,
        error: `the console did not answer (${(error as Error).message})`,
        confirmationRequired: false,
      };
    }
  }
}
