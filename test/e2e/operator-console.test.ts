/// <reference lib="dom" />
/**
 * The operator console in a real browser against a real local room: the token in the printed
 * address opens it (and leaves the address bar), the figures follow visitors as they join, and
 * a rate set in it reaches the room: at once for a normal rate, only after the confirmation
 * dialog for a pause.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CONSOLE_DIST } from '../../tools/console/main.ts';
import { type ConsoleServer, startConsoleServer } from '../../tools/console/server.ts';
import { createLocalSource } from '../../tools/console/sources.ts';
import { launchChromium } from '../helpers/browser.ts';
import { startTestRoom, type TestRoom } from '../helpers/local-room.ts';
import { WsVisitor } from '../helpers/ws-visitor.ts';

let browser: Browser;
let room: TestRoom;
let server: ConsoleServer;
let context: BrowserContext;
const visitors: WsVisitor[] = [];

beforeAll(async () => {
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
});

beforeEach(async () => {
  // Paused, so that the visitors stay in line and the figures are exact.
  room = await startTestRoom({ WR_ADMIT_PER_MINUTE: '0' });
  server = await startConsoleServer({
    source: createLocalSource(room.url, null),
    distDir: CONSOLE_DIST,
    port: 0,
  });
  context = await browser.newContext();
});

afterEach(async () => {
  await context?.close();
  await Promise.all(visitors.splice(0).map((v) => v.close()));
  await server?.close();
  await room?.close();
});

/** A page that records console errors, failed requests and CSP violations. */
async function openConsole(): Promise<{ page: Page; problems: string[] }> {
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(error.message));
  await page.goto(server.url);
  await page.locator('[data-stream="live"]').waitFor();
  return { page, problems };
}

function figure(page: Page, name: string) {
  return page.locator(`[data-figure="${name}"] .figure-value`);
}

async function join(count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const visitor = await WsVisitor.connect(room.wsUrl);
    visitor.send({ action: 'join' });
    await visitor.next('joined');
    visitors.push(visitor);
  }
}

async function roomRate(expected: number): Promise<number> {
  const deadline = Date.now() + 5000;
  let rate = (await room.room.status()).admitPerMinute;
  while (rate !== expected && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    rate = (await room.room.status()).admitPerMinute;
  }
  return rate;
}

describe('operator console', () => {
  it('opens with the printed address, drops the token from it, and refuses a page without it', async () => {
    // Act
    const { page, problems } = await openConsole();
    const stranger = await browser.newContext();
    const refused = await (await stranger.newPage()).goto(server.origin);
    await stranger.close();

    // Assess
    expect(page.url()).toBe(`${server.origin}/`);
    expect(refused?.status()).toBe(401);
    expect(problems).toEqual([]);
  });

  it('shows the line grow as visitors join', async () => {
    // Prepare
    const { page, problems } = await openConsole();
    await expect.poll(() => figure(page, 'waiting').textContent()).toBe('0');

    // Act
    await join(12);

    // Assess
    await expect.poll(() => figure(page, 'waiting').textContent(), { timeout: 8000 }).toBe('12');
    await expect.poll(() => figure(page, 'connections').textContent()).toBe('12');
    await expect.poll(() => figure(page, 'last-in-line').textContent()).toBe('Paused');
    expect(problems).toEqual([]);
  });

  it('sets a rate in the room without a confirmation', async () => {
    // Prepare
    const { page } = await openConsole();

    // Act
    await page.getByLabel('Admissions per minute').fill('90');
    await page.getByRole('button', { name: 'Set rate' }).click();

    // Assess
    expect(await roomRate(90)).toBe(90);
    await expect.poll(() => page.getByRole('status').textContent()).toContain('90 a minute');
    expect(await page.getByRole('dialog').count()).toBe(0);
  });

  it('pauses admission only after the confirmation dialog, and not when it is cancelled', async () => {
    // Prepare
    await join(3);
    const { page, problems } = await openConsole();
    await page.getByLabel('Admissions per minute').fill('30');
    await page.keyboard.press('Enter');
    expect(await roomRate(30)).toBe(30);
    const dialog = page.getByRole('dialog', { name: 'Pause admission?' });

    // Act: ask for 0 and cancel with Escape (the dialog has the focus, on Cancel).
    await page.getByLabel('Admissions per minute').fill('0');
    await page.keyboard.press('Enter');
    await dialog.waitFor();
    const focused = await page.evaluate(() => document.activeElement?.textContent?.trim());
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    const afterCancel = (await room.room.status()).admitPerMinute;

    // Act: ask again and confirm.
    await page.getByRole('button', { name: 'Pause admission…' }).click();
    await dialog.getByRole('button', { name: 'Pause admission' }).click();

    // Assess
    expect(focused).toBe('Cancel');
    expect(afterCancel).toBe(30);
    expect(await roomRate(0)).toBe(0);
    await expect.poll(() => figure(page, 'last-in-line').textContent()).toBe('Paused');
    expect(problems).toEqual([]);
  });
});
