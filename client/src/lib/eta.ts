import { type PageTexts, pageTexts } from './i18n.ts';

const ENGLISH = pageTexts(['en']);

/**
 * Puts an estimated wait into calm, rounded words in the page's language: "less than a minute",
 * "about 3 minutes", "about 1 hour 15 minutes" ("etwa 3 Minuten", "alrededor de 1 hora").
 * `null` means the organiser has paused admission.
 */
export function etaInWords(etaSeconds: number | null, texts: PageTexts = ENGLISH): string {
  const { t, duration } = texts;
  if (etaSeconds === null) return t.etaPaused;
  if (!Number.isFinite(etaSeconds) || etaSeconds < 60) return t.etaUnderAMinute;
  const minutes = Math.round(etaSeconds / 60);
  if (minutes < 60) return t.etaAbout(duration(minutes, 'minute'));
  if (minutes >= 24 * 60) return t.etaOverADay;
  // Past an hour, five-minute steps: more precision would only promise what nobody can keep.
  const rounded = Math.round(minutes / 5) * 5;
  const hours = duration(Math.floor(rounded / 60), 'hour');
  const rest = rounded % 60;
  return t.etaAbout(rest === 0 ? hours : t.hoursAndMinutes(hours, duration(rest, 'minute')));
}
