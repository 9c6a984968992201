/**
 * The Lambda@Edge viewer-request adapter: CloudFront event in, {@link decideGate}, CloudFront
 * request or generated response out. Besides that it only finds out which origin a request is
 * for, and keeps that origin's flag, key set and pass check.
 */
import type { JSONWebKeySet } from 'jose';
import type { VerifiedPass } from '../functions/core/tokens.ts';
import type {
  CloudFrontHeaders,
  CloudFrontRequest,
  CloudFrontRequestEvent,
  CloudFrontRequestResult,
  CloudFrontResultResponse,
} from './cloudfront-types.ts';
import { type EdgeConfig, resolveForOrigin } from './edge-config.ts';
import { type Clock, createFlagCache, type FlagCache, systemClock } from './flag-cache.ts';
import {
  createPassCheck,
  decideGate,
  type GateConfig,
  type GateDecision,
  GENERATED_RESPONSE_HEADERS,
} from './gate.ts';
import { createKeySetCache, type KeySet, type KeySetSource, staticKeySet } from './key-set.ts';
import type { PassCheck } from './pass-cache.ts';

/**
 * How many origins (and as many flag and key-set sources) a container keeps. A distribution
 * answers to its own domain and its aliases only, so a container sees a handful; the bound only
 * keeps the memory of a long-lived container flat.
 */
export const MAX_ORIGINS_PER_CONTAINER = 16;

export type ViewerRequestHandler = (
  event: CloudFrontRequestEvent,
) => Promise<CloudFrontRequestResult>;

export interface EdgeGateHandlerOptions {
  /** The baked config, either form (see edge-config.ts). */
  config: EdgeConfig;
  /** Reads the flag document at an absolute URL; called through a cache with `gate.flagTtlMs`. */
  readFlag: (url: string) => Promise<boolean>;
  /** Reads the JWKS at an absolute URL (only with `jwksUrl`); called through the key-set cache. */
  readJwks: (url: string) => Promise<unknown>;
  clock?: Clock;
  /** Told about each failed flag read. */
  onFlagError?: (error: unknown, flagUrl: string) => void;
  /** Told about each failed or refused key-set read. */
  onJwksError?: (error: unknown, jwksUrl: string) => void;
}

/**
 * Creates the viewer-request handler for a baked {@link EdgeConfig}. Create it once per container
 * (at module level): the flags, key sets and pass checks live as long as the container does.
 *
 * The origin of a request is `config.gate.mainOrigin` when the config names one, else
 * {@link originFromHost} of its `Host` header. For each origin (at most
 * {@link MAX_ORIGINS_PER_CONTAINER} kept) the gate config is resolved and checked once, paths in
 * it resolved against that origin, and a pass check made per key set. A request whose origin
 * cannot be told gets {@link badHostResponse}: without an origin there is nowhere to redirect to.
 */
export function createEdgeGateHandler(options: EdgeGateHandlerOptions): ViewerRequestHandler {
  const { config } = options;
  const clock = options.clock ?? systemClock;
  const bakedKeys = config.jwks ? staticKeySet(config.jwks) : undefined;

  const flags = boundedMemo((url) =>
    createFlagCache({
      read: () => options.readFlag(url),
      ttlMs: config.gate.flagTtlMs,
      defaultValue: config.gate.defaultEnabled,
      clock,
      onReadError: (error) => options.onFlagError?.(error, url),
    }),
  );
  const keySets = boundedMemo((url) =>
    createKeySetCache({
      read: () => options.readJwks(url),
      clock,
      onReadError: (error) => options.onJwksError?.(error, url),
    }),
  );
  const gates = boundedMemo((origin) => {
    const resolved = resolveForOrigin(config, origin);
    const keys = resolved.jwksUrl === undefined ? bakedKeys : keySets(resolved.jwksUrl);
    if (!keys) throw new Error('the edge config gives neither jwks nor jwksUrl');
    return new OriginGate(resolved.gate, flags(resolved.flagUrl), keys);
  });

  return async (event) => {
    const request = requestOf(event);
    const origin = config.gate.mainOrigin ?? originFromHost(request.headers.host?.[0]?.value);
    if (origin === undefined) return badHostResponse();
    let gate: OriginGate;
    try {
      gate = gates(origin);
    } catch {
      // A host that makes no valid gate config (the config itself was checked at build time).
      return badHostResponse();
    }
    return gateRequest(request, gate, clock);
  };
}

export interface ViewerRequestHandlerOptions {
  config: GateConfig;
  /** The room's public keys. */
  jwks: JSONWebKeySet;
  /** Reads the on/off flag; called through a cache with `config.flagTtlMs`. */
  readFlag: () => Promise<boolean>;
  clock?: Clock;
  /** Told about each failed flag read. */
  onFlagError?: (error: unknown) => void;
}

/**
 * Creates a viewer-request handler for one fixed origin and key set (`config.mainOrigin`, the
 * `Host` header is not looked at). Create it once per container, like
 * {@link createEdgeGateHandler}.
 */
export function createViewerRequestHandler(
  options: ViewerRequestHandlerOptions,
): ViewerRequestHandler {
  const clock = options.clock ?? systemClock;
  const flag = createFlagCache({
    read: options.readFlag,
    ttlMs: options.config.flagTtlMs,
    defaultValue: options.config.defaultEnabled,
    clock,
    ...(options.onFlagError ? { onReadError: options.onFlagError } : {}),
  });
  const gate = new OriginGate(options.config, flag, staticKeySet(options.jwks));
  return async (event) => gateRequest(requestOf(event), gate, clock);
}

/**
 * The main site's origin for a request's `Host` header: `https://` + the host (lowercased, a
 * default port dropped), or undefined when there is no usable host (none, empty, or anything but
 * a host name or IP literal with an optional port).
 *
 * The header is trustworthy here: CloudFront picks the distribution for a request by its `Host`,
 * and only delivers requests for the distribution's own domain (`d...cloudfront.net`) or one of
 * its alternate domain names (aliases) to it; at viewer request, the gate therefore only ever
 * sees one of those, and a viewer cannot make it read from, or redirect to, any other host.
 * Always https, even for a viewer that came in over http: the behavior redirects plain http to
 * https, passes are issued for the https origin, and the gate's own reads must be over TLS.
 */
export function originFromHost(host: string | undefined): string | undefined {
  if (!host || host.length > 261 || !/^[A-Za-z0-9.:[\]-]+$/.test(host)) return undefined;
  const candidate = `https://${host}`;
  if (!URL.canParse(candidate)) return undefined;
  const url = new URL(candidate);
  return url.hostname.length > 0 ? url.origin : undefined;
}

/**
 * What a request without a usable `Host` gets: 400, not a redirect, because the gate cannot
 * name the origin to send the visitor to (nor check a pass, whose `aud` is that origin). Fails
 * closed: nothing reaches the main site. Real browsers always send `Host`, and CloudFront itself
 * only routes a request here by it, so in practice only hand-made requests can see this.
 */
export function badHostResponse(): CloudFrontResultResponse {
  return {
    status: '400',
    statusDescription: 'Bad Request',
    headers: {
      'cache-control': [{ key: 'Cache-Control', value: 'no-store' }],
      'content-type': [{ key: 'Content-Type', value: 'text/plain; charset=utf-8' }],
    },
    bodyEncoding: 'text',
    body: 'Bad Request: the request names no host this site answers to.\n',
  };
}

/** Joins every `cookie` entry: CloudFront keeps each `Cookie` header the viewer sent apart. */
export function cookieHeaderOf(headers: CloudFrontHeaders): string | undefined {
  const entries = headers.cookie;
  if (!entries || entries.length === 0) return undefined;
  return entries.map((entry) => entry.value).join('; ');
}

/** Maps a redirect or deny decision to a CloudFront generated response. */
export function toCloudFrontResponse(
  decision: Exclude<GateDecision, { kind: 'pass' }>,
): CloudFrontResultResponse {
  const headers: CloudFrontHeaders = {};
  if (decision.kind === 'redirect') {
    headers.location = [{ key: 'Location', value: decision.location }];
    if (decision.setCookie)
      headers['set-cookie'] = [{ key: 'Set-Cookie', value: decision.setCookie }];
  }
  for (const [name, value] of Object.entries({
    ...GENERATED_RESPONSE_HEADERS,
    ...decision.headers,
  })) {
    headers[name.toLowerCase()] = [{ key: name, value }];
  }
  if (decision.kind === 'redirect') {
    return { status: '302', statusDescription: 'Found', headers };
  }
  return {
    status: String(decision.status),
    statusDescription: 'Service Unavailable',
    headers,
    bodyEncoding: 'text',
    body: decision.body,
  };
}

/** The gate of one origin: its config, its flag, its key set and a pass check per key set. */
class OriginGate {
  private current: { keySet: KeySet; check: PassCheck } | undefined;

  constructor(
    readonly config: GateConfig,
    readonly flag: FlagCache,
    private readonly keySets: KeySetSource,
  ) {}

  /**
   * Verifies a pass with the current key set. The key set is only asked for when there is a
   * token to check, so requests without a pass never wait for it; with none read yet, no pass
   * verifies (fail closed). A new key set gets a new pass check, with an empty cache: a pass
   * verified under keys since withdrawn is checked again.
   */
  async verify(token: string, now: number): Promise<VerifiedPass | null> {
    const keySet = await this.keySets.get();
    if (!keySet) return null;
    if (this.current?.keySet !== keySet) {
      this.current = { keySet, check: createPassCheck(keySet.keys, this.config) };
    }
    return this.current.check(token, now);
  }
}

async function gateRequest(
  request: CloudFrontRequest,
  gate: OriginGate,
  clock: Clock,
): Promise<CloudFrontRequestResult> {
  const now = Math.floor(clock.now() / 1000);
  const decision = await decideGate(
    {
      method: request.method,
      path: request.uri,
      query: request.querystring,
      cookieHeader: cookieHeaderOf(request.headers),
    },
    {
      enabled: await gate.flag.get(),
      config: gate.config,
      verify: (token) => gate.verify(token, now),
      now,
    },
  );
  return decision.kind === 'pass' ? request : toCloudFrontResponse(decision);
}

function requestOf(event: CloudFrontRequestEvent): CloudFrontRequest {
  const request = event.Records[0]?.cf.request;
  if (!request) throw new Error('not a CloudFront request event');
  return request;
}

/**
 * Memoises `create` per key, keeping at most {@link MAX_ORIGINS_PER_CONTAINER} entries (the oldest
 * goes first). A `create` that throws stores nothing.
 */
function boundedMemo<V>(create: (key: string) => V): (key: string) => V {
  const entries = new Map<string, V>();
  return (key) => {
    const hit = entries.get(key);
    if (hit !== undefined) return hit;
    const value = create(key);
    if (entries.size >= MAX_ORIGINS_PER_CONTAINER) {
      const oldest = entries.keys().next();
      if (!oldest.done) entries.delete(oldest.value);
    }
    entries.set(key, value);
    return value;
  };
}
