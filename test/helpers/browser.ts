/**
 * The Chromium the browser tests drive through playwright-core (which downloads no browser of
 * its own): `CHROMIUM_PATH` if set; else the system's (Debian's `/usr/bin/chromium`, which
 * `.ci/run` installs); else the Chromium that the npm package `@sparticuz/chromium` ships inside
 * itself, unpacked once into the temporary directory. So `npm install && npm test` works on a
 * machine with Node and nothing else.
 */
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type Browser,
  type BrowserContext,
  type BrowserContextOptions,
  chromium,
  type Page,
} from 'playwright-core';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { WsVisitor } from './ws-visitor.ts';

export const SYSTEM_CHROMIUM = '/usr/bin/chromium';
/** The packaged build: pinned, so its unpacked copy can be reused across runs. */
const PACKAGED_VERSION = '153.0.0';
const UNPACK_WAIT_MS = 180_000;

/**
 * Our own flags, never the package's defaults (those turn web security off, which would hide
 * exactly what the browser tests must see: CSP, same-origin rules, cookies).
 */
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
];

/** A regular file that may be executed (a hidden or half-written binary is not). */
function isExecutableFile(path: string): boolean {
  try {
    const stat = statSync(path);
    return stat.isFile() && (stat.mode & 0o111) !== 0;
  } catch {
    return false;
  }
}

/** Where the Chromium for the tests is, unpacking the packaged one if need be. */
export async function resolveChromium(): Promise<string> {
  const fromEnv = process.env.CHROMIUM_PATH?.trim();
  if (fromEnv) {
    if (!isExecutableFile(fromEnv)) {
      throw new Error(`CHROMIUM_PATH is set to ${fromEnv}, which is not an executable file`);
    }
    return fromEnv;
  }
  if (isExecutableFile(SYSTEM_CHROMIUM)) return SYSTEM_CHROMIUM;
  return unpackPackagedChromium();
}

/**
 * Unpacks `@sparticuz/chromium` into a directory of its own, once: test files running at the
 * same time wait for the first one (a directory made atomically is the lock), and a copy left
 * half-unpacked by an interrupted run is thrown away (only a finished one has its marker).
 */
async function unpackPackagedChromium(): Promise<string> {
  const dir = join(tmpdir(), `waiting-room-chromium-${PACKAGED_VERSION}`);
  const binary = join(dir, 'chromium');
  const done = join(dir, '.unpacked');
  const lock = `${dir}.lock`;
  const deadline = Date.now() + UNPACK_WAIT_MS;
  for (;;) {
    if (existsSync(done) && isExecutableFile(binary)) return binary;
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (Date.now() > deadline) {
        throw new Error(`gave up waiting for ${lock} (remove it if no test run is unpacking)`);
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  try {
    if (existsSync(done) && isExecutableFile(binary)) return binary;
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    // The package unpacks into the temporary directory of the moment: point it at ours.
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = dir;
    try {
      const { default: packaged } = await import('@sparticuz/chromium');
      const path = await packaged.executablePath();
      if (path !== binary) {
        throw new Error(`@sparticuz/chromium unpacked to ${path}, not ${binary}`);
      }
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
    }
    writeFileSync(done, `${PACKAGED_VERSION}\n`);
    return binary;
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: await resolveChromium(), args: FLAGS });
}

export interface ChromiumForTests {
  /** The file's browser (launched before its first test). */
  readonly browser: Browser;
  /** A fresh context (cookies, storage), closed after the test. */
  newContext(options?: BrowserContextOptions): Promise<BrowserContext>;
  /** `count` scripted visitors who join the line one after the other, closed after the test. */
  lineUp(wsUrl: string, count: number): Promise<WsVisitor[]>;
}

/**
 * One Chromium for a test file, launched before its tests and closed after them; the contexts
 * and scripted visitors a test opens are closed after it, and then `afterEach` runs (to stop the
 * room they talked to). Call once, at the top of the file.
 */
export function useChromium(options: { afterEach?: () => Promise<void> } = {}): ChromiumForTests {
  let browser: Browser | undefined;
  const contexts: BrowserContext[] = [];
  const visitors: WsVisitor[] = [];
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterEach(async () => {
    await Promise.all(contexts.splice(0).map((c) => c.close()));
    await Promise.all(visitors.splice(0).map((v) => v.close()));
    await options.afterEach?.();
  });
  afterAll(async () => {
    await browser?.close();
  });
  const chromium: ChromiumForTests = {
    get browser() {
      if (!browser) throw new Error('Chromium is launched before the first test (useChromium)');
      return browser;
    },
    async newContext(options) {
      const context = await chromium.browser.newContext(options);
      contexts.push(context);
      return context;
    },
    async lineUp(wsUrl, count) {
      const joined: WsVisitor[] = [];
      for (let i = 0; i < count; i++) {
        const visitor = await WsVisitor.connect(wsUrl);
        visitors.push(visitor);
        visitor.send({ action: 'join' });
        await visitor.next('joined');
        joined.push(visitor);
      }
      return joined;
    },
  };
  return chromium;
}

/**
 * A new page that records its console errors and uncaught errors (CSP violations among them) in
 * `problems`; with `failedResponses`, every answer of 400 or more too.
 */
export async function openPage(
  context: BrowserContext,
  options: { failedResponses?: boolean } = {},
): Promise<{ page: Page; problems: string[] }> {
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(error.message));
  if (options.failedResponses) {
    page.on('response', (response) => {
      if (response.status() >= 400) problems.push(`${response.status()} ${response.url()}`);
    });
  }
  return { page, problems };
}
