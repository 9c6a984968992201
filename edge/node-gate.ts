/**
 * The gate as middleware for a Node.js HTTP server: the local runtime puts it in front of the
 * demo main site or the proxied upstream, with the same {@link decideGate} as the edge.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { VerifyKeys } from '../functions/core/tokens.ts';
import { type Clock, systemClock } from './flag-cache.ts';
import {
  createPassCheck,
  decideGate,
  type GateConfig,
  type GateRequest,
  GENERATED_RESPONSE_HEADERS,
} from './gate.ts';

export interface NodeGateOptions {
  config: GateConfig;
  /** The room's public keys, from `verifierFor(jwks)`. */
  verifyKeys: VerifyKeys;
  /** Whether the room is on; a throw or rejection counts as `config.defaultEnabled`. */
  isEnabled: () => boolean | Promise<boolean>;
  clock?: Clock;
}

/** Answers the request when the gate says so; resolves true when it did. */
export type NodeGate = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

/**
 * Creates the gate middleware. It resolves `true` when it has answered the request itself (a
 * redirect or a 503 is written and ended) and `false` when the request may go on to the main
 * site; it never reads the request body.
 */
export function createNodeGate(options: NodeGateOptions): NodeGate {
  const { config, verifyKeys } = options;
  const clock = options.clock ?? systemClock;
  const checkPass = createPassCheck(verifyKeys, config);

  return async (req, res) => {
    const now = Math.floor(clock.now() / 1000);
    const decision = await decideGate(gateRequestOf(req), {
      enabled: await enabledOrDefault(options.isEnabled, config.defaultEnabled),
      config,
      verify: (token) => checkPass(token, now),
      now,
    });
    if (decision.kind === 'pass') return false;

    const headers: Record<string, string> = { ...GENERATED_RESPONSE_HEADERS, ...decision.headers };
    if (decision.kind === 'redirect') {
      headers.Location = decision.location;
      if (decision.setCookie) headers['Set-Cookie'] = decision.setCookie;
      res.writeHead(decision.status, headers).end();
    } else {
      res.writeHead(decision.status, headers).end(decision.body);
    }
    return true;
  };
}

/**
 * The origin-form (`/path?query`) of a request target. An absolute-form target (`GET
 * http://host/path HTTP/1.1`, which any client may send) keeps what follows its authority byte
 * for byte; its host is ignored. It is not parsed as a URL: that would resolve dot segments,
 * plain and encoded (`/a/%2e%2e/.well-known/x` would become `/.well-known/x`), and the path
 * checked would not be the path the main site is sent. Null for a target that is neither (`*`,
 * an authority, another scheme).
 */
export function originFormOf(target: string): string | null {
  if (target.startsWith('/')) return target;
  const authority = /^https?:\/\/[^/?#]*/i.exec(target);
  if (!authority) return null;
  const rest = target.slice(authority[0].length);
  return rest.startsWith('/') ? rest : `/${rest}`;
}

/** Splits `req.url` into path and raw query; an absolute-form target keeps only its path. */
export function gateRequestOf(req: IncomingMessage): GateRequest {
  const raw = req.url ?? '/';
  const target = originFormOf(raw) ?? raw;
  const q = target.indexOf('?');
  return {
    method: req.method ?? 'GET',
    path: q === -1 ? target : target.slice(0, q),
    query: q === -1 ? '' : target.slice(q + 1),
    // Node joins repeated Cookie headers with "; " already.
    cookieHeader: req.headers.cookie,
  };
}

async function enabledOrDefault(
  isEnabled: () => boolean | Promise<boolean>,
  fallback: boolean,
): Promise<boolean> {
  try {
    const value = await isEnabled();
    return typeof value === 'boolean' ? value : fallback;
  } catch {
    return fallback;
  }
}
