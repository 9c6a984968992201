/// <reference lib="dom" />
/**
 * The visitor's whole journey in a real browser, on both runtimes (`npm start`, and the AWS
 * build through `start:aws-local`): ask for a page of the main site, wait in line watching the
 * position fall, get admitted, and land on that page with the pass in a cookie.
 */
import type { BrowserContext, Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { adminFetch } from '../../local/admin-secret.ts';
import { openPage as openRecordedPage, useChromium } from '../helpers/browser.ts';
import { RUNTIMES, type RuntimeRoom, startRuntimeRoom } from '../helpers/local-room.ts';

let room: RuntimeRoom | undefined;
const chromium = useChromium({
  afterEach: async () => {
    await room?.close();
    room = undefined;
  },
});

/** Puts `count` scripted visitors in line before the browser arrives. */
async function fillLine(r: RuntimeRoom, count: number): Promise<void> {
  await chromium.lineUp(r.wsUrl, count);
}

async function setRate(r: RuntimeRoom, admitPerMinute: number): Promise<void> {
  await adminFetch(r.url, 'config', {
    method: 'POST',
    body: JSON.stringify({ admitPerMinute }),
  });
}

/** A page that records every console error, CSP violation and failed response. */
function openPage(ctx: BrowserContext): Promise<{ page: Page; problems: string[] }> {
  return openRecordedPage(ctx, { failedResponses: true });
}

/** Runs in every page: reports each position the page shows to the test (across navigations). */
const REPORT_POSITIONS = () => {
  let last: number | null = null;
  new MutationObserver(() => {
    const text = document.querySelector('.position-number')?.textContent;
    const value = text ? Number(text.replace(/\D/g, '')) : Number.NaN;
    if (Number.isNaN(value) || value === last) return;
    last = value;
    (window as unknown as { reportPosition: (p: number) => void }).reportPosition(value);
  }).observe(document, { subtree: true, childList: true, characterData: true });
};

function positionShown(page: Page, position: number) {
  return page.locator('.position-number', { hasText: new RegExp(`^${position}$`) }).waitFor();
}

describe.each(RUNTIMES)('a visitor in Chromium, on the %s runtime', (runtime) => {
  it('waits in line, watches the position fall and arrives at the page first asked for', async () => {
    // Prepare: three visitors ahead, admission paused.
    room = await startRuntimeRoom(runtime, { WR_TICK_MS: '200', WR_ADMIT_PER_MINUTE: '0' });
    await fillLine(room, 3);
    const context = await chromium.newContext();
    const shown: number[] = [];
    await context.exposeFunction('reportPosition', (position: number) => shown.push(position));
    await context.addInitScript(REPORT_POSITIONS);
    const { page, problems } = await openPage(context);

    // Act
    await page.goto(`${room.url}/tickets?show=evening`);
    const waitingRoomUrl = new URL(page.url());
    await positionShown(page, 4);
    await page.screenshot({ path: `test-results/waiting-room-${runtime}.png` });
    await setRate(room, 120);
    await page.waitForURL(`${room.url}/tickets?show=evening`, {
      timeout: 20_000 + room.settleMs,
    });

    // Assess
    expect(waitingRoomUrl.pathname).toBe('/waiting-room/');
    expect(waitingRoomUrl.searchParams.get('return')).toBe('/tickets?show=evening');
    expect(shown[0]).toBe(4);
    expect(shown).toEqual([...shown].sort((a, b) => b - a));
    expect(shown.length).toBeGreaterThanOrEqual(2);
    expect(page.url()).not.toContain('wr_pass');
    await expect(page.locator('h1').textContent()).resolves.toBe('Choose your seats');
    await expect(page.getByTestId('demo-note').textContent()).resolves.toContain(
      'with a waiting-room pass',
    );
    const cookies = await context.cookies(room.url);
    const pass = cookies.find((c) => c.name === 'wr_pass');
    expect(pass).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/' });
    expect(problems).toEqual([]);
  });

  it('keeps the one place through a reload and in a second tab, which the first can take back', async () => {
    // Prepare
    room = await startRuntimeRoom(runtime, { WR_TICK_MS: '200', WR_ADMIT_PER_MINUTE: '0' });
    await fillLine(room, 2);
    const context = await chromium.newContext();
    const { page, problems } = await openPage(context);
    await page.goto(`${room.url}/about`);
    await positionShown(page, 3);

    // Act
    await page.reload();
    await positionShown(page, 3);
    const { page: secondTab } = await openPage(context);
    await secondTab.goto(`${room.url}/about`);
    await positionShown(secondTab, 3);

    const elsewhere = page.getByText('Your place continues in another tab or window');
    await elsewhere.waitFor();
    await page.getByRole('button', { name: 'Continue here instead' }).click();
    await positionShown(page, 3);
    await secondTab.getByText('Your place continues in another tab or window').waitFor();

    // Assess
    const status = await room.status();
    expect(status.waiting + status.arriving).toBe(3);
    await expect(page.getByText('Live').first().isVisible()).resolves.toBe(true);
    await expect(elsewhere.isVisible()).resolves.toBe(false);
    expect(problems).toEqual([]);
  });
});
