/**
 * {@link SourcePlaces} in memory, for the local runtime: a count per source of the places it
 * holds. A room on disk rebuilds the counts at start from the places still in line.
 */
import type { SourcePlaces } from '../../core/ports.ts';

export class MemorySourcePlaces implements SourcePlaces {
  readonly #held = new Map<string, number>();
  readonly #max: number;

  /** `sourcesInLine`: the source of each place already in line (a restart). */
  constructor(max: number, sourcesInLine: Iterable<string> = []) {
    this.#max = max;
    for (const source of sourcesInLine) this.#held.set(source, (this.#held.get(source) ?? 0) + 1);
  }

  /** Places `source` holds now. */
  held(source: string): number {
    return this.#held.get(source) ?? 0;
  }

  async take(source: string): Promise<boolean> {
    const held = this.held(source);
    if (held >= this.#max) return false;
    this.#held.set(source, held + 1);
    return true;
  }

  async release(sources: readonly string[]): Promise<void> {
    for (const source of sources) {
      const held = this.held(source) - 1;
      if (held > 0) this.#held.set(source, held);
      else this.#held.delete(source);
    }
  }
}
