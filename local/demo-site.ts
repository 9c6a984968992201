/**
 * The demo main site served when `WR_UPSTREAM` is unset: a small shop with a few pages, so a
 * visitor can be seen going back to the exact page and query they first asked for.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BASE_HEADERS, urlHoldsPass } from './http-util.ts';

interface Page {
  title: string;
  body: string;
}

const pages: Record<string, Page> = {
  '/': {
    title: 'Aurora Live: tickets on sale now',
    body: `<p class="lead">The Aurora world tour comes to town. Tickets are on sale now.</p>
<p><a class="button" href="/tickets?show=evening">Buy tickets for the evening show</a></p>
<p><a href="/tickets?show=matinee">Matinee tickets</a> · <a href="/about">About the tour</a></p>`,
  },
  '/tickets': {
    title: 'Choose your seats',
    body: `<p class="lead">Pick a section. Seats are held for you for 10 minutes.</p>
<ul class="seats"><li>Floor: standing</li><li>Lower bowl: rows A to K</li><li>Upper bowl: rows L to Z</li></ul>
<p><a class="button" href="/tickets/checkout">Continue to checkout</a></p>`,
  },
  '/tickets/checkout': {
    title: 'Checkout',
    body: '<p class="lead">Review your order and pay. (This is a demo: nothing is charged.)</p>',
  },
  '/about': {
    title: 'About the tour',
    body: '<p class="lead">Twenty cities, one night each. This page is part of the demo site.</p>',
  },
};

const STYLE = `body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1b1f24;background:#f6f7f9}
header{background:#1b1f24;color:#fff;padding:14px 24px}header a{color:#fff;text-decoration:none;font-weight:700}
main{max-width:720px;margin:32px auto;padding:0 20px}h1{font-size:28px;margin:0 0 12px}.lead{font-size:18px}
.button{display:inline-block;background:#0b5fff;color:#fff;padding:10px 18px;border-radius:8px;text-decoration:none}
.note{margin-top:32px;padding:12px 16px;background:#fff;border:1px solid #dfe3e8;border-radius:8px;font-size:14px;color:#4a5563}
code{background:#eef1f4;padding:1px 5px;border-radius:4px}`;

/** The demo site's stylesheet and icon; served like any page, behind the gate. */
export const DEMO_STYLE_PATH = '/demo/site.css';
const DEMO_ICON_PATH = '/demo/icon.svg';
const ICON =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="4" fill="#0b5fff"/><path d="M4 11l4-7 4 7z" fill="#fff"/></svg>';

/** Serves a demo page; unknown paths get a 404 page. */
export function serveDemoSite(req: IncomingMessage, res: ServerResponse, url: URL): void {
  const asset =
    url.pathname === DEMO_STYLE_PATH
      ? { type: 'text/css; charset=utf-8', body: STYLE }
      : url.pathname === DEMO_ICON_PATH
        ? { type: 'image/svg+xml', body: ICON }
        : null;
  if (asset) {
    res.writeHead(200, {
      ...BASE_HEADERS,
      'content-type': asset.type,
      'cache-control': 'private, max-age=300',
    });
    res.end(asset.body);
    return;
  }
  const page = pages[url.pathname];
  const status = page ? 200 : 404;
  const { title, body } = page ?? {
    title: 'Page not found',
    body: '<p class="lead">There is no such page on the demo site. <a href="/">Home</a></p>',
  };
  const hasPass = /(?:^|;\s*)wr_pass=/.test(req.headers.cookie ?? '');
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>${title}</title><link rel="stylesheet" href="${DEMO_STYLE_PATH}">
<link rel="icon" href="${DEMO_ICON_PATH}" type="image/svg+xml"></head>
<body><header><a href="/">Aurora Live</a></header><main><h1>${title}</h1>${body}
<p class="note" data-testid="demo-note">Demo main site behind the waiting room. You are viewing
<code>${escapeHtml(url.pathname + url.search)}</code>${hasPass ? ' with a waiting-room pass.' : '.'}</p>
</main></body></html>`;
  res.writeHead(status, {
    ...BASE_HEADERS,
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'content-security-policy':
      "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    // A request the gate let through with its pass still in the query (a POST, say).
    'referrer-policy': urlHoldsPass(req.url) ? 'no-referrer' : 'strict-origin-when-cross-origin',
  });
  res.end(req.method === 'HEAD' ? undefined : html);
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
