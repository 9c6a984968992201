/**
 * What the Lambda@Edge gate is built with. Lambda@Edge has no environment variables, so this is
 * baked into the bundle at deploy time (see {@link ./build.ts}) and checked again at cold start.
 */
import type { JSONWebKeySet } from 'jose';
import * as v from 'valibot';
import { type GateConfig, GateConfigSchema } from './gate.ts';

// Plain http only to the machine itself, so that a bundle can be run in a test without a network.
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

const FlagUrlSchema = v.pipe(
  v.string(),
  v.check((s) => {
    if (!URL.canParse(s)) return false;
    const url = new URL(s);
    return (
      url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname))
    );
  }, 'must be an absolute https URL (http only to a loopback host)'),
);

const JwksSchema = v.object({
  keys: v.pipe(
    v.array(v.looseObject({ kty: v.string() })),
    v.minLength(1, 'needs at least one public key'),
  ),
});

const EdgeConfigSchema = v.object({
  gate: GateConfigSchema,
  /** The room's public keys; the private key never reaches the edge. */
  jwks: JwksSchema,
  /** Where the flag document `{ "enabled": boolean }` is read from. */
  flagUrl: FlagUrlSchema,
});

export interface EdgeConfig {
  gate: GateConfig;
  jwks: JSONWebKeySet;
  flagUrl: string;
}

/** Validates an edge config; throws an Error naming the first bad field. */
export function parseEdgeConfig(raw: unknown): EdgeConfig {
  const result = v.safeParse(EdgeConfigSchema, raw);
  if (result.success) return result.output as EdgeConfig;
  const issue = result.issues[0];
  const where = issue ? v.getDotPath(issue) : null;
  throw new Error(`invalid edge config${where ? ` at ${where}` : ''}: ${issue?.message}`);
}
