/**
 * Puts an estimated wait into calm, rounded words: "less than a minute", "about 3 minutes",
 * "about 1 hour 15 minutes". `null` means the organiser has paused admission.
 */
export function etaInWords(etaSeconds: number | null): string {
  if (etaSeconds === null) return 'paused by the organiser';
  if (!Number.isFinite(etaSeconds) || etaSeconds < 60) return 'less than a minute';
  const minutes = Math.round(etaSeconds / 60);
  if (minutes < 60) return minutes === 1 ? 'about 1 minute' : `about ${minutes} minutes`;
  if (minutes >= 24 * 60) return 'more than a day';
  // Past an hour, five-minute steps: more precision would only promise what nobody can keep.
  const rounded = Math.round(minutes / 5) * 5;
  const hours = Math.floor(rounded / 60);
  const rest = rounded % 60;
  const hourText = hours === 1 ? '1 hour' : `${hours} hours`;
  return rest === 0 ? `about ${hourText}` : `about ${hourText} ${rest} minutes`;
}
