/**
 * The live display: a cli-progress bar with the counts as payload on a terminal, plain lines
 * every few seconds otherwise (CI logs), or nothing.
 */
import cliProgress from 'cli-progress';
import type { LiveCounts } from './aggregate.ts';
import type { ProgressMode } from './options.ts';

export interface ProgressSnapshot extends LiveCounts {
  users: number;
  elapsedSeconds: number;
  messagesPerSecond: number;
}

export interface ProgressDisplay {
  update(snapshot: ProgressSnapshot): void;
  stop(): void;
}

/** One plain line for logs. */
export function progressLine(s: ProgressSnapshot): string {
  return `[${s.elapsedSeconds.toFixed(0).padStart(4)} s] admitted ${s.admitted}/${s.users}  connected ${s.connected}  waiting ${s.waiting}  abandoned ${s.abandoned}  lost ${s.lost}  errors ${s.errors}  ${s.messagesPerSecond} msg/s`;
}

export function createProgressDisplay(
  mode: ProgressMode,
  total: number,
  stream: NodeJS.WriteStream = process.stdout,
): ProgressDisplay {
  const resolved = mode === 'auto' ? (stream.isTTY ? 'bar' : 'lines') : mode;
  if (resolved === 'none') return { update() {}, stop() {} };
  if (resolved === 'lines') {
    let lastAt = -Infinity;
    let last: ProgressSnapshot | null = null;
    return {
      update(snapshot) {
        last = snapshot;
        if (snapshot.elapsedSeconds - lastAt < 5) return;
        lastAt = snapshot.elapsedSeconds;
        stream.write(`${progressLine(snapshot)}\n`);
      },
      stop() {
        if (last && last.elapsedSeconds !== lastAt) stream.write(`${progressLine(last)}\n`);
      },
    };
  }
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format:
        'admitted {bar} {value}/{total} | conn {connected} | waiting {waiting} | abandoned {abandoned} | lost {lost} | errors {errors} | {rate} msg/s | {elapsed}s',
      barsize: 24,
      hideCursor: true,
      clearOnComplete: false,
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, payload(null));
  return {
    update(snapshot) {
      bar.update(snapshot.admitted, payload(snapshot));
    },
    stop() {
      bar.stop();
    },
  };
}

function payload(s: ProgressSnapshot | null): Record<string, number | string> {
  return {
    connected: s?.connected ?? 0,
    waiting: s?.waiting ?? 0,
    abandoned: s?.abandoned ?? 0,
    lost: s?.lost ?? 0,
    errors: s?.errors ?? 0,
    rate: s?.messagesPerSecond ?? 0,
    elapsed: s ? s.elapsedSeconds.toFixed(0) : '0',
  };
}
