/** How the console writes its figures. */

const whole = new Intl.NumberFormat('en');

/** A count, or a dash when the source cannot tell. */
export function count(value: number | null | undefined): string {
  return value === null || value === undefined ? '—' : whole.format(Math.round(value));
}

/** A wait: "45 s", "12 min", "1 h 05 min", "2 d 3 h". */
export function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const minutes = Math.round(s / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ${String(minutes % 60).padStart(2, '0')} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

/** A countdown: "2:05:09" or "05:09". */
export function countdown(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const mm = String(m).padStart(2, '0');
  const ss = String(s).padStart(2, '0');
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

/** A clock time, "14:05". */
export function clock(at: number): string {
  const d = new Date(at);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}

/** A clock time with seconds, "14:05:09". */
export function clockSeconds(at: number): string {
  const d = new Date(at);
  return `${clock(at)}:${String(d.getSeconds()).padStart(2, '0')}`;
}

const dateTimeFormat = new Intl.DateTimeFormat('en', {
  weekday: 'short',
  day: 'numeric',
  month: 'short',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hourCycle: 'h23',
});

/** A date and time on this machine's clock, "Mon, 1 Jun, 09:00:00". */
export function dateTime(at: number): string {
  return dateTimeFormat.format(at);
}
