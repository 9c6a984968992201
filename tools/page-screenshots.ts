/**
 * Takes the README's screenshots of the waiting-room page: a branded room with admission paused
 * and two visitors ahead, at phone and desktop width, in English and in German, into
 * `docs/screenshots/`. Needs the built page (`npm run build`) and a Chromium (the tests' one).
 *
 *   npx tsx tools/page-screenshots.ts [output directory]
 */
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { BrowserContext } from 'playwright-core';
import WebSocket from 'ws';
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
} finally {
  await browser.close();
  for (const socket of ahead) socket.close();
  await server.close();
}
