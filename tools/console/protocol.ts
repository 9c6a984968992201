/**
 * What the operator console's server sends its page (over server-sent events) and takes from it.
 * Shared by `tools/console/` and the page in `console/`: types only, so the page's bundle gets
 * nothing from here but the shapes.
 */

/**
 * A scheduled opening (`npm run room -- schedule`): until `opensAt` visitors gather in a
 * pre-queue, and are put in line in random order when it opens. Null while no schedule is set
 * (or the settings could not be read): the page shows nothing for it.
 */
export interface ScheduleFigures {
  /** When the room opens (epoch ms); it may have passed (the room is open since). */
  opensAt: number;
  /** Visitors gathered in the pre-queue so far; null while no source counts them apart. */
  prequeue: number | null;
}

/**
 * One look at the room. Figures the source cannot give are null (the page shows a dash): the
 * deployed room has no count of open connections, and without its table only CloudWatch's
 * minute figures.
 */
export interface ConsoleSample {
  /** When the sample was taken (epoch ms). */
  at: number;
  /** Where its figures come from: the room itself now, or CloudWatch's minute (history). */
  origin: 'live' | 'cloudwatch';
  /** Null when the settings could not be read (see `error`). */
  enabled: boolean | null;
  admitPerMinute: number | null;
  /** Numbered into the line, waiting. */
  waiting: number | null;
  /** Joined, not yet numbered into the line (they are in line too, at its end). */
  arriving: number | null;
  admittedLastMinute: number | null;
  /** Joins in the last minute (over the samples the console holds, so partial in its first). */
  joinsLastMinute: number | null;
  abandonedLastMinute: number | null;
  admittedTotal: number | null;
  abandonedTotal: number | null;
  connections: number | null;
  /**
   * Seconds until the last visitor in line is admitted at the configured rate ((waiting +
   * arriving) / rate);
   * null while admission is paused, the room is off, or a figure is missing.
   */
  lastInLineWaitSeconds: number | null;
  schedule: ScheduleFigures | null;
  /** The proof-of-work cost of a join (0: off); null when the settings could not be read. */
  powCost: number | null;
  /** The operator's words to everyone waiting; null: none (or the settings unread). */
  message: string | null;
  /** The closing words when the sale is over; null: open for sale (or the settings unread). */
  closed: string | null;
  /** Why the room could not be read (entirely or in part), or null. */
  error: string | null;
}

/** What the console watches, for its header. */
export interface ConsoleTarget {
  kind: 'local' | 'aws';
  /** E.g. `http://127.0.0.1:8080` or `eu-west-1 /waiting-room/config/`. */
  label: string;
  /** What the source cannot show and why (e.g. no table name: CloudWatch only). */
  notes: string[];
}

/** The first event of a stream: what is watched, the history held, and the sampling interval. */
export interface ConsoleSnapshot {
  target: ConsoleTarget;
  intervalMs: number;
  /** Oldest first; the last is the latest sample. */
  samples: ConsoleSample[];
}

/**
 * `POST /api/config`: a change of the room's settings (the admin endpoint's fields). A change
 * that `confirmationNeeded` (`confirmation.ts`) names must carry `confirm: true`, else 409 with
 * `confirmationRequired`: turning the room off, a rate of 0, a rate that lets the whole line in
 * within about a minute, one more than ten times the current rate and above 600 a minute, or
 * closing the sale.
 */
export interface ConsoleConfigChange {
  enabled?: boolean;
  admitPerMinute?: number;
  opensAt?: number | null;
  powCost?: number;
  message?: string | null;
  closed?: string | null;
  confirm?: boolean;
}

/** The answer to a change: the sample taken right after it. */
export interface ConsoleConfigAnswer {
  sample: ConsoleSample;
}

/** Server-sent event names. */
export const EVENT_SNAPSHOT = 'snapshot';
export const EVENT_SAMPLE = 'sample';
