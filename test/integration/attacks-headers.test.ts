/**
 * Security headers of the running local runtime: the waiting-room page's Content-Security-Policy
 * (exact directives), `nosniff` and a policy on every response the runtime writes itself, no
 * referrer from any response whose URL held a pass, and the pass cookie's attributes, with
 * `Secure` when the public origin is https even though the server itself speaks plain http.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIENT_DIST, startTestRoom, type TestRoom } from '../helpers/local-room.ts';
import { WsVisitor } from '../helpers/ws-visitor.ts';

const PAGE_POLICY =
  "default-src 'none'; script-src 'self'; worker-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
const DATA_POLICY =
  "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
const DEMO_POLICY =
  "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

let room: TestRoom;
const opened: WsVisitor[] = [];

beforeAll(async () => {
  room = await startTestRoom({ WR_TICK_MS: '100', WR_ADMIT_PER_MINUTE: '6000' });
});

afterAll(async () => {
  await Promise.all(opened.map((v) => v.close()));
  await room.close();
});

function get(r: TestRoom, path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${r.url}${path}`, { redirect: 'manual', ...init });
}

async function admittedIn(r: TestRoom, returnPath = '/tickets') {
  const visitor = await WsVisitor.connect(r.wsUrl);
  opened.push(visitor);
  visitor.send({ action: 'join', return: returnPath });
  return visitor.next('admitted');
}

/** `/path?query` of an absolute URL. */
const pathOf = (url: string) => {
  const parsed = new URL(url);
  return `${parsed.pathname}${parsed.search}`;
};

describe('the waiting-room page', () => {
  it('is served with a strict Content-Security-Policy, nosniff, no referrer and no framing', async () => {
    // Act
    const response = await get(room, '/waiting-room/');

    // Assess
    expect(response.status).toBe(200);
    expect(response.headers.get('content-security-policy')).toBe(PAGE_POLICY);
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    expect(response.headers.get('x-frame-options')).toBe('DENY');
  });

  it('needs nothing the policy forbids: no inline script or style, only its own assets', async () => {
    const html = await readFile(join(CLIENT_DIST, 'index.html'), 'utf8');

    const scripts = [...html.matchAll(/<script\b[^>]*>([\s\S]*?)<\/script>/g)];

    expect(scripts.length).toBeGreaterThan(0);
    for (const [tag, body] of scripts) {
      expect(tag).toMatch(/src="\/waiting-room\//);
      expect(body?.trim()).toBe('');
    }
    expect(html).not.toMatch(/<style\b|\sstyle="|\son[a-z]+="/i);
  });

  it('serves its script and style with their own types, nosniff and the same policy', async () => {
    const assets = await readdir(join(CLIENT_DIST, 'assets'));

    const responses = await Promise.all(assets.map((a) => get(room, `/waiting-room/assets/${a}`)));

    for (const [i, response] of responses.entries()) {
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(
        assets[i]?.endsWith('.js') ? /^text\/javascript/ : /^text\/css/,
      );
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('content-security-policy')).toBe(PAGE_POLICY);
    }
  });
});

describe('every other response the local runtime writes', () => {
  it.each([
    ['the page config', '/waiting-room/config.json', 200],
    ['the JWKS', '/.well-known/jwks.json', 200],
    ['the health check', '/__room/health', 200],
    ['the admin status, asked without the secret', '/__room/admin/status', 401],
    ['a missing page asset', '/waiting-room/nothing-here.js', 404],
    ['the socket path over plain HTTP', '/ws', 426],
    ['the old page path', '/waiting-room', 301],
  ])('%s carries nosniff and a policy that allows nothing', async (_, path, status) => {
    const response = await get(room, path);

    expect(response.status).toBe(status);
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('content-security-policy')).toBe(DATA_POLICY);
  });

  it("the gate's redirect to the waiting room carries nosniff and a policy too", async () => {
    const response = await get(room, '/tickets');

    expect(response.status).toBe(302);
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('content-security-policy')).toMatch(/^default-src 'none'/);
  });

  it("the gate's 503 to a POST without a pass carries nosniff and a policy", async () => {
    const response = await get(room, '/cart', { method: 'POST', body: 'x' });

    expect(response.status).toBe(503);
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('content-security-policy')).toMatch(/^default-src 'none'/);
  });

  it('a demo site page carries its own strict policy and nosniff', async () => {
    const { pass } = await admittedIn(room);

    const response = await get(room, '/tickets', { headers: { cookie: `wr_pass=${pass}` } });

    expect(response.status).toBe(200);
    expect(response.headers.get('content-security-policy')).toBe(DEMO_POLICY);
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
  });
});

describe('responses whose URL held a pass', () => {
  it('the redirect that strips a valid pass: no referrer, no caching, an HttpOnly Lax cookie', async () => {
    // Prepare
    const admitted = await admittedIn(room, '/tickets?show=evening');

    // Act
    const response = await get(room, pathOf(admitted.redirectUrl));

    // Assess
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe(`${room.url}/tickets?show=evening`);
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    expect(response.headers.get('cache-control')).toBe('no-store');
    const [cookie, ...more] = response.headers.getSetCookie();
    expect(more).toEqual([]);
    expect(cookie).toMatch(
      new RegExp(`^wr_pass=${admitted.pass}; Path=/; HttpOnly; SameSite=Lax; Max-Age=\\d+$`),
    );
  });

  it('the redirect to the waiting room for an invalid pass in the URL: no referrer', async () => {
    const response = await get(room, '/tickets?wr_pass=eyJhbGciOiJFUzI1NiJ9.e30.c2ln');

    expect(response.status).toBe(302);
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    expect(response.headers.getSetCookie()).toEqual([]);
  });

  it('a POST let through with its valid pass still in the query: the page sends no referrer', async () => {
    const { pass } = await admittedIn(room);

    const response = await get(room, `/tickets?wr_pass=${pass}`, { method: 'POST', body: 'x' });

    expect(response.status).toBe(200);
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
  });

  it('a page without a pass in its URL keeps its usual referrer policy', async () => {
    const { pass } = await admittedIn(room);

    const response = await get(room, '/tickets', { headers: { cookie: `wr_pass=${pass}` } });

    expect(response.headers.get('referrer-policy')).toBe('strict-origin-when-cross-origin');
  });
});

describe('the pass cookie behind an https public origin', () => {
  it('carries Secure although the local server itself speaks plain http', async () => {
    // Prepare
    const behindTls = await startTestRoom({
      WR_TICK_MS: '100',
      WR_ADMIT_PER_MINUTE: '6000',
      WR_PUBLIC_URL: 'https://shop.example.test',
    });
    try {
      const admitted = await admittedIn(behindTls, '/tickets');

      // Act
      const response = await get(behindTls, pathOf(admitted.redirectUrl));

      // Assess
      expect(new URL(admitted.redirectUrl).origin).toBe('https://shop.example.test');
      expect(response.status).toBe(302);
      expect(response.headers.get('location')).toBe('https://shop.example.test/tickets');
      expect(response.headers.getSetCookie()).toEqual([
        expect.stringMatching(
          /^wr_pass=[\w.-]+; Path=\/; HttpOnly; SameSite=Lax; Max-Age=\d+; Secure$/,
        ),
      ]);
    } finally {
      await behindTls.close();
    }
  });
});
