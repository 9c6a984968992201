import type { Lease } from '../../core/lease.ts';

/**
 * The local runtime's lease: one process runs one room, so its only processor always holds it
 * (taken at the first call, renewed after).
 */
export function createProcessLease(): Lease {
  let held = false;
  return {
    acquire: async () => {
      const grant = held ? 'renewed' : 'taken';
      held = true;
      return grant;
    },
    release: async () => {
      held = false;
    },
    // Nothing wakes a local processor: it runs for as long as its process, and never sleeps.
    setAsleep: async () => null,
  };
}
