/**
 * Serves the built waiting-room page (client/dist) under `/waiting-room/`, plus the
 * `config.json` the page reads to find its WebSocket and the main site.
 */
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';
import type { PageBranding } from '../functions/core/page-branding.ts';
import { BASE_HEADERS, sendText } from './http-util.ts';

export const PAGE_PREFIX = '/waiting-room/';

/** Content types of the files a Vite build holds. */
export const FILE_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/** What the page reads from `config.json`: its socket, the main site and the organiser's branding. */
export interface PageConfig extends PageBranding {
  wsUrl: string | null;
  mainOrigin: string;
}

/**
 * The page's Content-Security-Policy: its own scripts and styles, its own workers (the proof of
 * work's solvers), its own socket, nothing else.
 * Images: its own origin and `data:`, so that the organiser's logo can come inline in
 * `config.json`; a logo on another origin is refused by the settings and by this policy alike.
 */
export function pageSecurityPolicy(wsOrigin: string | null): string {
  const connect = ["'self'", ...(wsOrigin ? [wsOrigin] : [])].join(' ');
  return [
    "default-src 'none'",
    "script-src 'self'",
    // The proof-of-work solver's Web Workers: the page's own files, never a blob or data URL.
    "worker-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    `connect-src ${connect}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

export interface BuiltFilesOptions {
  /** The Content-Security-Policy of every file served. */
  csp: string;
  /** `Cache-Control` of what is not a content-hashed asset (those are kept for good). */
  cacheControl: string;
  /** Whether the hashed assets may be kept by shared caches too (`public`) or only the browser. */
  shared: boolean;
  /** The 404 text for a file not there (say, the page not built yet). */
  notFound?: (relative: string) => string;
}

/**
 * Serves a Vite build (`dist`): files read once and kept, nothing outside the directory, the
 * content-hashed `assets/` cached for good and the rest as `cacheControl` says. Takes the path
 * below the build's mount point, still URL-encoded.
 */
export function createBuiltFiles(distDir: string, options: BuiltFilesOptions) {
  const root = resolve(distDir);
  const cache = new Map<string, Buffer>();
  return async (req: IncomingMessage, res: ServerResponse, encoded: string): Promise<void> => {
    let relative: string;
    try {
      relative = decodeURIComponent(encoded) || 'index.html';
    } catch {
      sendText(res, 400, 'Bad path');
      return;
    }
    const file = resolve(join(root, relative));
    if (!file.startsWith(root + sep)) {
      sendText(res, 404, 'Not found');
      return;
    }
    let body = cache.get(file);
    if (!body) {
      try {
        body = await readFile(file);
      } catch {
        sendText(res, 404, options.notFound?.(relative) ?? 'Not found');
        return;
      }
      cache.set(file, body);
    }
    // Only Vite's content-hashed assets may be cached for good; everything else as told.
    const hashed = relative.startsWith('assets/');
    res.writeHead(200, {
      ...BASE_HEADERS,
      'content-type': FILE_TYPES[extname(file)] ?? 'application/octet-stream',
      'cache-control': hashed
        ? `${options.shared ? 'public' : 'private'}, max-age=31536000, immutable`
        : options.cacheControl,
      'content-security-policy': options.csp,
      'referrer-policy': 'no-referrer',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
}

export function createPageServer(distDir: string, pageConfig: PageConfig) {
  const csp = pageSecurityPolicy(pageConfig.wsUrl ? new URL(pageConfig.wsUrl).origin : null);
  const configBody = Buffer.from(JSON.stringify(pageConfig));
  // The page itself must always be fresh.
  const serveFile = createBuiltFiles(distDir, { csp, cacheControl: 'no-cache', shared: true });

  return async (req: IncomingMessage, res: ServerResponse, pathname: string): Promise<void> => {
    const encoded = pathname.slice(PAGE_PREFIX.length);
    if (encoded === 'config.json') {
      res.writeHead(200, {
        ...BASE_HEADERS,
        'content-type': FILE_TYPES['.json'] as string,
        'cache-control': 'no-cache',
      });
      res.end(configBody);
      return;
    }
    await serveFile(req, res, encoded);
  };
}
