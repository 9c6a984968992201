/**
 * The local room configuration: what `npm run room` changes through the admin endpoint. On AWS
 * the same values live in SSM Parameter Store.
 */
import type { ConfigSource, RoomConfig } from '../../core/ports.ts';

export class MemoryConfigSource implements ConfigSource {
  #config: RoomConfig;

  constructor(initial: RoomConfig) {
    this.#config = { ...initial };
  }

  async get(): Promise<RoomConfig> {
    return { ...this.#config };
  }

  /** The current value, synchronously (the local gate reads it on every request). */
  current(): RoomConfig {
    return { ...this.#config };
  }

  /** Applies an operator's change; the processor picks it up on its next tick. */
  set(change: Partial<RoomConfig>): RoomConfig {
    this.#config = { ...this.#config, ...change };
    return this.current();
  }
}
