/// <reference lib="dom" />
/**
 * The operator console in a real browser against a real local room: the printed address (token
 * in its fragment) opens it and the token leaves the address bar (no cookie is set); a page
 * without it says where to find it and gets nothing from the API; the figures follow visitors as
 * they join; and a rate set in it reaches the room: at once for a normal rate, only after the
 * confirmation dialog for a pause or a rate that lets the whole line in; and the launch card
 * shows the fair-launch settings, the operator's words as plain text.
 */
import type { Page } from 'playwright-core';
import { beforeEach, describe, expect, it } from 'vitest';
import { adminFetch } from '../../local/admin-secret.ts';
import { CONSOLE_DIST } from '../../tools/console/main.ts';
import { type ConsoleServer, startConsoleServer } from '../../tools/console/server.ts';
import { createLocalSource } from '../../tools/console/sources.ts';
import { openPage, useChromium } from '../helpers/browser.ts';
import { startTestRoom, type TestRoom } from '../helpers/local-room.ts';

let room: TestRoom | undefined;
let server: ConsoleServer | undefined;
const chromium = useChromium({
  afterEach: async () => {
    await server?.close();
    await room?.close();
    server = undefined;
    room = undefined;
  },
});

/** The room and console of the current test (set in beforeEach). */
const current = () => ({ room: room as TestRoom, server: server as ConsoleServer });

beforeEach(async () => {
  // Paused, so that the visitors stay in line and the figures are exact.
  room = await startTestRoom({ WR_ADMIT_PER_MINUTE: '0' });
  server = await startConsoleServer({
    source: createLocalSource(room.url, null),
    distDir: CONSOLE_DIST,
    port: 0,
  });
});

/** The console at its printed address, live, in a fresh context. */
async function openConsole(): Promise<{ page: Page; problems: string[] }> {
  const { page, problems } = await openPage(await chromium.newContext());
  await page.goto(current().server.url);
  await page.locator('[data-stream="live"]').waitFor();
  return { page, problems };
}

function figure(page: Page, name: string) {
  return page.locator(`[data-figure="${name}"] .figure-value`);
}

/** A change through the room's admin endpoint, as `npm run room` makes it. */
async function adminChange(change: Record<string, unknown>): Promise<void> {
  const response = await adminFetch(current().room.url, 'config', {
    method: 'POST',
    body: JSON.stringify(change),
  });
  expect(response.status).toBe(200);
}

async function join(count: number): Promise<void> {
  await chromium.lineUp(current().room.wsUrl, count);
}

async function roomRate(expected: number): Promise<number> {
  const deadline = Date.now() + 5000;
  let rate = (await current().room.room.status()).admitPerMinute;
  while (rate !== expected && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    rate = (await current().room.room.status()).admitPerMinute;
  }
  return rate;
}

describe('operator console', () => {
  it('opens with the printed address, takes the token out of it, sets no cookie, and keeps working after a reload', async () => {
    // Act
    const { page, problems } = await openConsole();
    const address = page.url();
    await page.reload();
    await page.locator('[data-stream="live"]').waitFor();

    // Assess
    expect(current().server.url).toContain('/#token=');
    expect(address).toBe(`${current().server.origin}/`);
    expect(page.url()).toBe(`${current().server.origin}/`);
    expect(await page.context().cookies()).toEqual([]);
    expect(problems).toEqual([]);
  });

  it('tells a page opened without the token where to find it, and its API answers 401', async () => {
    // Prepare
    const { page, problems } = await openPage(await chromium.newContext());

    // Act
    await page.goto(current().server.origin);
    const alert = page.getByRole('alert');
    await alert.waitFor();
    const api = await page.evaluate(async () =>
      Promise.all(['/api/state', '/api/events'].map(async (path) => (await fetch(path)).status)),
    );

    // Assess
    expect(await alert.textContent()).toContain(
      'Open the address that npm run room -- console printed',
    );
    expect(api).toEqual([401, 401]);
    expect(await page.locator('[data-figure="waiting"] .figure-value').textContent()).toBe('—');
    expect(problems.filter((p) => !p.includes('401'))).toEqual([]);
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
    // Prepare: a rate, then three in line (a rate of 3 or more would let them all in at once).
    const { page, problems } = await openConsole();
    await page.getByLabel('Admissions per minute').fill('30');
    await page.keyboard.press('Enter');
    expect(await roomRate(30)).toBe(30);
    await join(3);
    const dialog = page.getByRole('dialog', { name: 'Pause admission?' });

    // Act: ask for 0 and cancel with Escape (the dialog has the focus, on Cancel).
    await page.getByLabel('Admissions per minute').fill('0');
    await page.keyboard.press('Enter');
    await dialog.waitFor();
    const focused = await page.evaluate(() => document.activeElement?.textContent?.trim());
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    const afterCancel = (await current().room.room.status()).admitPerMinute;

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

  it('asks before a rate that lets the whole line in within a minute, and sets it once confirmed', async () => {
    // Prepare
    await join(3);
    const { page, problems } = await openConsole();
    await expect.poll(() => figure(page, 'waiting').textContent(), { timeout: 8000 }).toBe('3');
    const dialog = page.getByRole('dialog', { name: 'Let the whole line in?' });

    // Act
    await page.getByLabel('Admissions per minute').fill('5');
    await page.getByRole('button', { name: 'Set rate' }).click();
    await dialog.waitFor();
    const beforeConfirm = (await current().room.room.status()).admitPerMinute;
    await dialog.getByRole('button', { name: 'Set 5 a minute' }).click();

    // Assess
    expect(beforeConfirm).toBe(0);
    expect(await roomRate(5)).toBe(5);
    await expect.poll(() => page.getByRole('status').textContent()).toContain('5 a minute');
    expect(problems).toEqual([]);
  });

  it('shows the launch card: a countdown to the opening, the pow cost, the message as plain text and a closed sale', async () => {
    // Prepare
    const opensAt = Date.now() + 2 * 3_600_000;
    await adminChange({
      opensAt,
      powCost: 50_000,
      message: '<img src=x onerror=alert(1)> Doors open soon',
      closed: 'Sold out, thank you',
    });

    // Act
    const { page, problems } = await openConsole();

    // Assess
    await expect
      .poll(() => figure(page, 'opens-in').textContent(), { timeout: 8000 })
      .toMatch(/^[12]:\d\d:\d\d$/);
    expect(await figure(page, 'pow').textContent()).toBe('50,000');
    expect(await figure(page, 'sale').textContent()).toBe('Closed');
    expect(await page.locator('[data-figure="message"] p').textContent()).toBe(
      '<img src=x onerror=alert(1)> Doors open soon',
    );
    expect(await page.locator('[data-figure="message"] img').count()).toBe(0);
    expect(problems).toEqual([]);
  });
});
