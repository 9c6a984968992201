/**
 * Takes the README's screenshots of the waiting-room page: a branded room with admission paused
 * and two visitors ahead, at phone and desktop width, in English and in German, into
 * `docs/screenshots/`. Then the fair launch's states, in English at both widths, with the page
 * served as usual but its socket answered by a scripted fake room (`page.routeWebSocket`): the
 * pre-queue's countdown (at a fixed clock), the browser check and its failure, an operator's
 * notice over a drawn place, and a closed sale. Needs the built page (`npm run build`) and a
 * Chromium (the tests' one).
 *
 *   npx tsx tools/page-screenshots.ts [output directory]
 */
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { createChallenge } from 'altcha-lib';
import { deriveKey } from 'altcha-lib/algorithms/pbkdf2';
import type { Browser, BrowserContext, Page, WebSocketRoute } from 'playwright-core';
import WebSocket from 'ws';
import { commitmentOf } from '../functions/core/draw.ts';
import { POW_ALGORITHM, POW_ITERATIONS, POW_KEY_LENGTH } from '../functions/core/proof-of-work.ts';
import { readLocalConfig } from '../local/config.ts';
import { startLocalServer } from '../local/server.ts';
import { launchChromium } from '../test/helpers/browser.ts';

const outDir = process.argv[2] ?? 'docs/screenshots';
const logo = readFileSync(fileURLToPath(new URL('./aurora-logo.svg', import.meta.url)));

const SHOTS = [
  { name: 'phone', width: 390, height: 844, scale: 1.5 },
  { name: 'desktop', width: 1280, height: 800, scale: 1 },
] as const;
const LOCALES = [
  { code: 'en', locale: 'en-GB' },
  { code: 'de', locale: 'de-DE' },
] as const;

/** A visitor who joins over a bare socket and stays in line until the script ends. */
async function joinLine(url: string): Promise<WebSocket> {
  const socket = new WebSocket(url, { origin: url.replace(/^ws/, 'http').replace(/\/ws$/, '') });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  const joined = new Promise<void>((resolve) => {
    socket.on('message', (data) => {
      if (String(data).includes('"joined"')) resolve();
    });
  });
  socket.send(JSON.stringify({ action: 'join' }));
  await joined;
  return socket;
}

/** What the fake room answers to each frame the page sends (parsed). */
type FakeRoom = (message: Record<string, unknown>, send: (reply: object) => void) => void;

interface FairShot {
  name: string;
  room: FakeRoom;
  /** Resolves once the page shows the state. */
  ready: (page: Page) => Promise<void>;
  /** The page's clock, for a countdown that reads the same in every run. */
  fixedTime?: Date;
  /** Opens the fair-draw disclosure on the desktop shot. */
  openDraw?: boolean;
  colorSchemes?: readonly ('light' | 'dark')[];
}

const OPENS_AT = new Date('2026-03-14T10:00:00Z');
const SEED = '9b2e4d6f8a0c1e3f5a7b9c1d3e5f7a9b1c3d5e7f9a1b3c5d7e9f1a3b5c7d9e1f';
/** The seed's real commitment: the page checks the one against the other. */
const COMMITMENT = commitmentOf(SEED);

/**
 * A challenge made as the room makes them, whose signed data says 20,000 attempts on average
 * (so the page's bar moves as for a medium cost), but whose answer lies at the 10 millionth
 * counter: no browser finds it while the shot is taken.
 */
async function slowChallenge(): Promise<Record<string, unknown>> {
  const challenge = await createChallenge({
    algorithm: POW_ALGORITHM,
    cost: POW_ITERATIONS,
    keyLength: POW_KEY_LENGTH,
    counter: 10_000_000,
    data: { attempts: 20_000 },
    deriveKey,
  });
  return JSON.parse(JSON.stringify(challenge)) as Record<string, unknown>;
}

function joinedThen(...then: object[]): FakeRoom {
  return (message, send) => {
    if (message.action !== 'join' && message.action !== 'resume') return;
    send({ type: 'joined', ticket: 'T-shot', sessionId: 'S-shot' });
    for (const reply of then) send(reply);
  };
}

async function fairLaunchShots(browser: Browser, base: string): Promise<void> {
  const challenge = await slowChallenge();
  const shots: FairShot[] = [
    {
      name: 'prequeue',
      fixedTime: new Date(OPENS_AT.getTime() - (2 * 3600 + 14 * 60 + 35) * 1000),
      room: joinedThen({
        type: 'prequeue',
        opensAt: OPENS_AT.getTime() / 1000,
        waiting: 18_342,
        commitment: COMMITMENT,
      }),
      ready: (page) => page.locator('[role="timer"]').waitFor(),
      openDraw: true,
      colorSchemes: ['light', 'dark'],
    },
    {
      name: 'checking',
      room: (message, send) => {
        if (message.action === 'join') send({ type: 'challenge', challenge });
      },
      // The page's real solver, in its Web Workers, until the bar shows a good part done.
      ready: async (page) => {
        await page.waitForFunction(
          () => {
            const bar = document.querySelector('[role="progressbar"][aria-valuenow]');
            return Number(bar?.getAttribute('aria-valuenow')) >= 30;
          },
          null,
          { timeout: 60_000 },
        );
      },
    },
    {
      name: 'check-failed',
      room: (message, send) => {
        if (message.action !== 'join') return;
        send(
          message.proof
            ? { type: 'error', code: 'invalid_proof', message: 'proof refused' }
            : { type: 'challenge', challenge: { algorithm: 'SHA-256', cost: 1 } },
        );
      },
      ready: (page) => page.getByRole('button', { name: 'Try again' }).waitFor(),
    },
    {
      name: 'notice',
      room: joinedThen(
        {
          type: 'notice',
          message:
            'Standing tickets for the London shows are sold out. Seated tickets remain for every date.',
        },
        // The visitor was in the pre-queue, so the page checks the seed against what it saw.
        {
          type: 'prequeue',
          opensAt: OPENS_AT.getTime() / 1000,
          waiting: 18_342,
          commitment: COMMITMENT,
        },
        {
          type: 'position',
          position: 1284,
          waiting: 5210,
          etaSeconds: 1500,
          nextUpdateSeconds: 10,
          draw: { commitment: COMMITMENT, seed: SEED },
        },
      ),
      ready: async (page) => {
        await page.locator('.position-number').waitFor();
        await page.locator('[data-draw-check]').waitFor({ state: 'attached' });
      },
      openDraw: true,
    },
    {
      name: 'closed',
      room: (message, send) => {
        if (message.action === 'join') {
          send({
            type: 'closed',
            message:
              'Every ticket for the World Tour 2026 has been sold. Thank you for waiting with us.\nReturns are offered on the official resale page from 1 April.',
          });
        }
      },
      ready: (page) => page.locator('.closed-text').waitFor(),
    },
  ];
  for (const shot of shots) {
    for (const colorScheme of shot.colorSchemes ?? (['light'] as const)) {
      for (const size of SHOTS) {
        const context = await browser.newContext({
          locale: 'en-GB',
          timezoneId: 'Europe/London',
          viewport: { width: size.width, height: size.height },
          deviceScaleFactor: size.scale,
          colorScheme,
        });
        const page = await context.newPage();
        if (shot.fixedTime) await page.clock.setFixedTime(shot.fixedTime);
        await page.routeWebSocket(/\/ws$/, (ws: WebSocketRoute) => {
          ws.onMessage((frame) => {
            shot.room(JSON.parse(String(frame)) as Record<string, unknown>, (reply) =>
              ws.send(JSON.stringify(reply)),
            );
          });
        });
        await page.goto(`${base}/waiting-room/?return=%2Ftickets%3Fshow%3Devening`);
        const suffix = colorScheme === 'dark' ? '-dark' : '';
        const path = `${outDir}/fair-${shot.name}-${size.name}${suffix}.png`;
        try {
          await shot.ready(page);
        } catch {
          // A browser whose solver cannot start (no Web Crypto, no workers) fails the check.
          console.warn(`${path}: the page never showed the state, no screenshot`);
          await context.close();
          continue;
        }
        if (shot.openDraw && size.name === 'desktop') {
          await page.locator('details').evaluate((details) => details.setAttribute('open', ''));
        }
        await page.screenshot({ path, fullPage: true });
        console.log(path);
        await context.close();
      }
    }
  }
}

const port = 18_000 + Math.floor(Math.random() * 1000);
const server = await startLocalServer(
  readLocalConfig({
    HOST: '127.0.0.1',
    PORT: String(port),
    WR_DATA_DIR: ':memory:',
    WR_ADMIT_PER_MINUTE: '0',
    // The main site's address the page shows; the page itself is opened on loopback.
    WR_PUBLIC_URL: 'https://tickets.aurora-live.example',
    WR_ALLOWED_ORIGINS: `http://localhost:${port}`,
    WR_SOURCE_LIMITS: 'off',
    WR_EVENT_NAME: 'Aurora Live: World Tour 2026',
    WR_EVENT_TEXT:
      'Tickets for every show go on sale at 10:00. Everyone in line before then gets the same fair chance.',
    WR_EVENT_LOGO: `data:image/svg+xml;base64,${logo.toString('base64')}`,
    WR_BRAND_COLOR: '#0b7a75',
  }),
  { clientDir: fileURLToPath(new URL('../client/dist/', import.meta.url)) },
);
const base = `http://localhost:${port}`;
const ahead = [
  await joinLine(`ws://localhost:${port}/ws`),
  await joinLine(`ws://localhost:${port}/ws`),
];
const browser = await launchChromium();
// Every shot resumes the first one's place (its ticket in localStorage), so all show the same line.
let storageState: Awaited<ReturnType<BrowserContext['storageState']>> | undefined;
try {
  await mkdir(outDir, { recursive: true });
  for (const { code, locale } of LOCALES) {
    for (const shot of SHOTS) {
      const context = await browser.newContext({
        locale,
        viewport: { width: shot.width, height: shot.height },
        deviceScaleFactor: shot.scale,
        colorScheme: 'light',
        ...(storageState ? { storageState } : {}),
      });
      const page = await context.newPage();
      await page.goto(`${base}/waiting-room/?return=%2Ftickets%3Fshow%3Devening`);
      await page.locator('.position-number').waitFor();
      await page.locator('.status[data-state="live"]').waitFor();
      const path = `${outDir}/waiting-room-${shot.name}-${code}.png`;
      await page.screenshot({ path, fullPage: true });
      storageState ??= await context.storageState();
      console.log(path);
      await context.close();
    }
  }
  await fairLaunchShots(browser, base);
} finally {
  await browser.close();
  for (const socket of ahead) socket.close();
  await server.close();
}
