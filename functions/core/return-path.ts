/**
 * The waiting room only ever sends a visitor back to a path on the main site's own origin.
 * Everything that could leave it (scheme-relative `//host`, `/\host`, absolute URLs, encoded
 * slashes that a browser or proxy decodes later, control characters) becomes `/`.
 */
import { MAX_RETURN_LENGTH } from './protocol.ts';

export const DEFAULT_RETURN_PATH = '/';

// Control characters, DEL, and backslash: a browser treats `\` like `/`, so `/\evil` is `//evil`.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const FORBIDDEN = /[\u0000-\u001f\u007f\\]/;

/**
 * Returns the path, query and fragment-free part of `raw` when it names a path on `mainOrigin`,
 * normalised as the URL parser sees it; otherwise `/`.
 */
export function safeReturnPath(raw: unknown, mainOrigin: string): string {
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > MAX_RETURN_LENGTH) {
    return DEFAULT_RETURN_PATH;
  }
  if (!raw.startsWith('/') || raw.startsWith('//') || FORBIDDEN.test(raw)) {
    return DEFAULT_RETURN_PATH;
  }
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    return DEFAULT_RETURN_PATH;
  }
  // `/%2F%2Fevil.example` decodes to `///evil.example`; refuse anything that would become
  // scheme-relative or hold a control character once some later hop decodes it.
  if (decoded.startsWith('//') || FORBIDDEN.test(decoded)) return DEFAULT_RETURN_PATH;
  let url: URL;
  try {
    url = new URL(raw, mainOrigin);
  } catch {
    return DEFAULT_RETURN_PATH;
  }
  if (url.origin !== new URL(mainOrigin).origin) return DEFAULT_RETURN_PATH;
  const path = `${url.pathname}${url.search}`;
  return path.startsWith('//') ? DEFAULT_RETURN_PATH : path;
}

/** The absolute main-site URL of a return path, optionally with extra query parameters. */
export function mainSiteUrl(
  mainOrigin: string,
  returnPath: string,
  params: Record<string, string> = {},
): string {
  const url = new URL(safeReturnPath(returnPath, mainOrigin), mainOrigin);
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
  return url.toString();
}
