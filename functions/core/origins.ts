/**
 * Which web pages may open the room's WebSocket. A browser names the page's origin in the
 * upgrade's `Origin` header, and a page on another site could otherwise make its visitors'
 * browsers take places in line: only the main site's origin (where the waiting-room page is
 * served) and the operator's `WR_ALLOWED_ORIGINS` are let in. An upgrade without `Origin` is not
 * a browser page (the simulator, a native app) and is let in; `null` (a sandboxed or file page)
 * is not.
 */

/** An origin as browsers send it: scheme, host, port (default ports left out), lowercase. */
export function normalizeOrigin(value: string): string | null {
  const trimmed = value.trim();
  if (!URL.canParse(trimmed)) return null;
  const url = new URL(trimmed);
  if (!/^https?:$/.test(url.protocol)) return null;
  if (url.pathname !== '/' || url.search || url.hash || url.username || url.password) return null;
  return url.origin;
}

/**
 * Reads a comma-separated list of origins (empty: none); throws an error naming the first bad
 * entry.
 */
export function parseOriginList(raw: string): string[] {
  const origins: string[] = [];
  for (const entry of raw.split(',').map((s) => s.trim())) {
    if (entry === '') continue;
    const origin = normalizeOrigin(entry);
    if (origin === null) {
      throw new Error(
        `"${entry}" is not an origin (scheme, host and port, such as https://shop.example.com)`,
      );
    }
    origins.push(origin);
  }
  return origins;
}

/** Whether an upgrade whose `Origin` header is `origin` (undefined: none) may connect. */
export function isOriginAllowed(origin: string | undefined, allowed: readonly string[]): boolean {
  if (origin === undefined || origin === '') return true;
  const normalized = normalizeOrigin(origin);
  return normalized !== null && allowed.includes(normalized);
}
