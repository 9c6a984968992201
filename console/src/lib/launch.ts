/**
 * What the console's launch card shows of the fair-launch settings in a sample: the opening
 * (a countdown while it is ahead), the proof-of-work cost, the operator's message and whether
 * the sale is closed. Kept out of the component so it is tested without rendering. Every text
 * here is shown as text (Svelte escapes it), never as HTML.
 */
import type { ConsoleSample } from '../../../tools/console/protocol.ts';
import { count, countdown } from './format.ts';

export interface LaunchView {
  /** False while the settings could not be read: every figure is a dash. */
  known: boolean;
  opening: {
    value: string;
    /** When it opens (epoch ms), for the detail line; null: no schedule. */
    at: number | null;
    /** Still ahead: the countdown runs and visitors gather in the pre-queue. */
    ahead: boolean;
  };
  /** Visitors in the pre-queue (a dash when uncounted), while an opening is ahead. */
  prequeue: string;
  pow: { value: string; on: boolean };
  sale: { value: string; closed: boolean; words: string | null };
  message: string | null;
}

const DASH = '—';

export function launchView(sample: ConsoleSample | null, now: number): LaunchView {
  const known = sample !== null && sample.enabled !== null;
  if (!known || !sample) {
    return {
      known: false,
      opening: { value: DASH, at: null, ahead: false },
      prequeue: DASH,
      pow: { value: DASH, on: false },
      sale: { value: DASH, closed: false, words: null },
      message: null,
    };
  }
  const opensAt = sample.schedule?.opensAt ?? null;
  const ahead = opensAt !== null && opensAt > now;
  return {
    known: true,
    opening: {
      value: opensAt === null ? 'Open' : ahead ? countdown(opensAt - now) : 'Open',
      at: opensAt,
      ahead,
    },
    prequeue: count(sample.schedule?.prequeue),
    pow: {
      value: sample.powCost === null ? DASH : sample.powCost === 0 ? 'Off' : count(sample.powCost),
      on: (sample.powCost ?? 0) > 0,
    },
    sale: {
      value: sample.closed === null ? 'Open' : 'Closed',
      closed: sample.closed !== null,
      words: sample.closed,
    },
    message: sample.message,
  };
}
