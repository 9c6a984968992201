/**
 * The processor's lease: the right to run the room's ticks for a short while, held by one
 * processor at a time (a conditional write on AWS). A holder renews it before every tick and
 * stops as soon as a renewal is refused, so two processors never tick the same room at once
 * for longer than one tick that overran the lease.
 */
export interface Lease {
  /**
   * Takes the lease, or renews it if this holder already has it, until `now + durationMs`.
   * Resolves `renewed` when nobody else held it since this holder last did (what this holder
   * remembers of the room is still current), `taken` when it is new to this holder or someone
   * else held it meanwhile, and false (changing nothing) while another holder's lease has not
   * expired.
   */
  acquire(now: number, durationMs: number): Promise<LeaseGrant>;
  /** Gives the lease up at once if this holder has it; does nothing otherwise. */
  release(): Promise<void>;
  /**
   * Marks the room's processor asleep (nobody in line: no processor runs until an arrival
   * wakes one through {@link ProcessorWaker}) or awake. Only the holder marks; taking or
   * renewing the lease leaves the mark as it is. Marking asleep at `now` answers since when the
   * room has been asleep: `now`, or earlier if it already was and no arrival woke it since
   * (null: not known, or not the holder).
   */
  setAsleep(asleep: boolean, now: number): Promise<number | null>;
}

/** What {@link Lease.acquire} got. */
export type LeaseGrant = 'taken' | 'renewed' | false;
