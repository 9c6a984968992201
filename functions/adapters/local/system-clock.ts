import type { Clock } from '../../core/ports.ts';

/** The real clock. Tests hand the core a manual one instead. */
export const systemClock: Clock = { now: () => Date.now() };
