import * as v from 'valibot';
import {
  BrandColorSchema,
  EventLogoSchema,
  EventTextSchema,
  NO_BRANDING,
  type PageBranding,
  RoomNameSchema,
} from '../../../functions/core/page-branding.ts';

/**
 * The runtime settings the server publishes next to the page as `config.json`: where the socket
 * and the main site are, and the organiser's branding (`functions/core/page-branding.ts`). They
 * come from the operator's configuration only; nothing in the page's URL changes them.
 */
export interface RoomConfig extends PageBranding {
  /** The WebSocket URL; null means the page's own origin at `/ws`. */
  wsUrl: string | null;
  /** The main site's origin, where visitors go once admitted. Empty when unknown. */
  mainOrigin: string;
}

export const DEFAULT_CONFIG: RoomConfig = { wsUrl: null, mainOrigin: '', ...NO_BRANDING };

// Each field falls back on its own: one bad value must not cost the page its other settings.
// The branding fields are checked with the very rules the server's settings passed.
const ConfigSchema = v.object({
  wsUrl: v.fallback(
    v.nullable(v.pipe(v.string(), v.trim(), v.minLength(1), v.maxLength(2048))),
    null,
  ),
  mainOrigin: v.fallback(v.pipe(v.string(), v.maxLength(2048)), ''),
  roomName: v.fallback(RoomNameSchema, ''),
  eventText: v.fallback(EventTextSchema, ''),
  eventLogo: v.fallback(EventLogoSchema, ''),
  brandColor: v.fallback(BrandColorSchema, ''),
});

/** Reads a `config.json` body; whatever is missing or wrong takes its default. */
export function parseConfig(data: unknown): RoomConfig {
  const result = v.safeParse(ConfigSchema, data);
  return result.success ? result.output : { ...DEFAULT_CONFIG };
}

/** The subset of `fetch` that loading the config needs, so a test can hand in its own. */
export type FetchJson = (
  url: string,
  init: { cache: 'no-store'; signal: AbortSignal },
) => Promise<{ ok: boolean; json(): Promise<unknown> }>;

/**
 * Fetches and reads `config.json`. Never rejects: a network error, a non-2xx answer, a body that
 * is not JSON or a server that takes longer than `timeoutMs` all give the defaults (same-origin `/ws`).
 */
export async function loadConfig(
  fetchJson: FetchJson,
  url: string,
  timeoutMs = 5000,
): Promise<RoomConfig> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    const response = await fetchJson(url, { cache: 'no-store', signal: controller.signal });
    if (!response.ok) return { ...DEFAULT_CONFIG };
    return parseConfig(await response.json());
  } catch {
    return { ...DEFAULT_CONFIG };
  } finally {
    clearTimeout(timer);
  }
}

/** The part of `location` that decides the socket URL. */
export interface PageLocation {
  protocol: string;
  host: string;
}

/**
 * The WebSocket URL to use. Without a configured one: `/ws` on the page's own origin, `wss:` when
 * the page came over https. A configured one may be absolute (`wss://…`, or `https://…`, taken as
 * `wss://…`) or a path on the page's origin; one that is not usable gives the default.
 */
export function resolveSocketUrl(config: RoomConfig, page: PageLocation): string {
  const secure = page.protocol === 'https:';
  const sameOrigin = `${secure ? 'wss:' : 'ws:'}//${page.host}/ws`;
  if (config.wsUrl === null) return sameOrigin;
  let url: URL;
  try {
    url = new URL(config.wsUrl, `${secure ? 'https:' : 'http:'}//${page.host}/`);
  } catch {
    return sameOrigin;
  }
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  return url.protocol === 'ws:' || url.protocol === 'wss:' ? url.href : sameOrigin;
}

/**
 * The path to go back to once admitted: the page's `return` query parameter as given (the server
 * sanitises it), or `/` when there is none.
 */
export function readReturnPath(search: string): string {
  const value = new URLSearchParams(search).get('return');
  return value === null || value === '' ? '/' : value;
}

/** The site's identity token the page was linked with (`?identity=...`), or null. */
export function readIdentity(search: string): string | null {
  const value = new URLSearchParams(search).get('identity');
  return value === null || value === '' || value.length > 4096 ? null : value;
}

/** The page's address without its identity token (which must not stay in the history). */
export function withoutIdentity(location: Pick<Location, 'pathname' | 'search' | 'hash'>): string {
  const params = new URLSearchParams(location.search);
  params.delete('identity');
  const search = params.toString();
  return `${location.pathname}${search ? `?${search}` : ''}${location.hash}`;
}

/** The main site's host for display ("shop.example.com"), or null when the origin is unusable. */
export function displayHost(origin: string): string | null {
  if (origin === '') return null;
  try {
    return new URL(origin).host || null;
  } catch {
    return null;
  }
}
