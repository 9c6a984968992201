import type { Lease } from '../../core/lease.ts';

/**
 * The local runtime's lease: one process runs one room, so the only processor always holds it.
 */
export const processLease: Lease = {
  acquire: async () => true,
  release: async () => {},
};
