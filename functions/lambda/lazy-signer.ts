/**
 * A {@link Signer} whose key is loaded on first use (from SSM on AWS) and then kept for the
 * container's life; a failed load is tried again on the next use.
 */
import type { Signer } from '../core/ports.ts';
import { createSigner, type SignerOptions, type SigningKey } from '../core/tokens.ts';

export function createLazySigner(
  loadKey: () => Promise<SigningKey>,
  options: Omit<SignerOptions, 'key'>,
): Signer {
  let signer: Promise<Signer> | undefined;
  const ready = (): Promise<Signer> => {
    signer ??= loadKey()
      .then((key) => createSigner({ ...options, key }))
      .catch((error: unknown) => {
        signer = undefined;
        throw error;
      });
    return signer;
  };
  return {
    issuePass: async (sessionId, now) => (await ready()).issuePass(sessionId, now),
    issueTicket: async (sessionId, now) => (await ready()).issueTicket(sessionId, now),
    readTicket: async (ticket, now) => (await ready()).readTicket(ticket, now),
  };
}
