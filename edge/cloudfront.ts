/**
 * The Lambda@Edge viewer-request adapter: CloudFront event in, {@link decideGate}, CloudFront
 * request or generated response out. Nothing else happens here.
 */
import type { JSONWebKeySet } from 'jose';
import { verifierFor } from '../functions/core/tokens.ts';
import type {
  CloudFrontHeaders,
  CloudFrontRequestEvent,
  CloudFrontRequestResult,
  CloudFrontResultResponse,
} from './cloudfront-types.ts';
import { type Clock, createFlagCache, systemClock } from './flag-cache.ts';
import { createPassCheck, decideGate, type GateConfig, type GateDecision } from './gate.ts';

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

export type ViewerRequestHandler = (
  event: CloudFrontRequestEvent,
) => Promise<CloudFrontRequestResult>;

/**
 * Creates the viewer-request handler. Create it once per container (at module level): the key
 * set and the flag cache live as long as the container does.
 */
export function createViewerRequestHandler(
  options: ViewerRequestHandlerOptions,
): ViewerRequestHandler {
  const { config } = options;
  const clock = options.clock ?? systemClock;
  const checkPass = createPassCheck(verifierFor(options.jwks), config);
  const flag = createFlagCache({
    read: options.readFlag,
    ttlMs: config.flagTtlMs,
    defaultValue: config.defaultEnabled,
    clock,
    ...(options.onFlagError ? { onReadError: options.onFlagError } : {}),
  });

  return async (event) => {
    const request = event.Records[0]?.cf.request;
    if (!request) throw new Error('not a CloudFront request event');
    const now = Math.floor(clock.now() / 1000);
    const decision = await decideGate(
      {
        method: request.method,
        path: request.uri,
        query: request.querystring,
        cookieHeader: cookieHeaderOf(request.headers),
      },
      { enabled: await flag.get(), config, verify: (token) => checkPass(token, now), now },
    );
    return decision.kind === 'pass' ? request : toCloudFrontResponse(decision);
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
  for (const [name, value] of Object.entries(decision.headers)) {
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
