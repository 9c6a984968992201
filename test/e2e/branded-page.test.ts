/// <reference lib="dom" />
/**
 * The organiser's page in a real browser: the event's name, text, logo and colour from the
 * room's settings, and the page's words in the language the browser asks for.
 */
import { describe, expect, it } from 'vitest';
import { openPage, useChromium } from '../helpers/browser.ts';
import { startTestRoom, type TestRoom } from '../helpers/local-room.ts';

const LOGO =
  'data:image/svg+xml;base64,PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciIHZpZXdCb3g9IjAgMCA0MCA0MCIgd2lkdGg9IjQwIiBoZWlnaHQ9IjQwIj48cmVjdCB3aWR0aD0iNDAiIGhlaWdodD0iNDAiIHJ4PSI4IiBmaWxsPSIjMGI3YTc1Ii8+PC9zdmc+';

let room: TestRoom | undefined;
const chromium = useChromium({
  afterEach: async () => {
    await room?.close();
    room = undefined;
  },
});

async function brandedRoomWithTwoAhead(): Promise<TestRoom> {
  const r = await startTestRoom({
    WR_TICK_MS: '200',
    WR_ADMIT_PER_MINUTE: '0',
    WR_EVENT_NAME: 'Spring sale',
    WR_EVENT_TEXT: 'Doors open at 10:00. One order per visitor.',
    WR_EVENT_LOGO: LOGO,
    WR_BRAND_COLOR: '#0b7a75',
  });
  await chromium.lineUp(r.wsUrl, 2);
  return r;
}

describe("the organiser's page in Chromium", () => {
  it('shows the configured name, text, logo and colour, in German for a de-DE browser', async () => {
    // Prepare
    room = await brandedRoomWithTwoAhead();
    const { page, problems } = await openPage(await chromium.newContext({ locale: 'de-DE' }));

    // Act: the visitor's URL tries to rename and recolour the page.
    await page.goto(
      `${room.url}/waiting-room/?return=%2F&roomName=Hacked&brandColor=%23ff0000&lang=en`,
    );
    await page.locator('.position-number', { hasText: /^3$/ }).waitFor();

    // Assess
    await expect(page.locator('h1').textContent()).resolves.toBe('Spring sale');
    await expect(page.locator('.event-text').textContent()).resolves.toBe(
      'Doors open at 10:00. One order per visitor.',
    );
    await expect(page.locator('.position-lead').textContent()).resolves.toBe('Sie sind Nummer');
    await expect(page.locator('.position-tail').textContent()).resolves.toBe(
      'in der Warteschlange',
    );
    await expect(page.getByText('Geschätzte Wartezeit').isVisible()).resolves.toBe(true);
    await expect(page.getByText('vom Veranstalter angehalten').isVisible()).resolves.toBe(true);
    await expect(page.getByRole('progressbar').getAttribute('aria-label')).resolves.toBe(
      'Fortschritt bis zur Spitze der Warteschlange',
    );
    await expect(page.title()).resolves.toBe('Platz 3 in der Warteschlange · Spring sale');
    await expect(page.evaluate(() => document.documentElement.lang)).resolves.toBe('de');
    const stripe = await page
      .locator('.card')
      .evaluate((card) => getComputedStyle(card, '::before').backgroundColor);
    expect(stripe).toBe('rgb(11, 122, 117)');
    const logoWidth = await page
      .locator('img.logo')
      .evaluate((img) => (img as HTMLImageElement).naturalWidth);
    expect(logoWidth).toBeGreaterThan(0);
    expect(problems).toEqual([]);
  });

  it('speaks English to a browser whose languages the page does not speak', async () => {
    // Prepare
    room = await brandedRoomWithTwoAhead();
    const page = await (await chromium.newContext({ locale: 'ja-JP' })).newPage();

    // Act
    await page.goto(`${room.url}/waiting-room/`);
    await page.locator('.position-number', { hasText: /^3$/ }).waitFor();

    // Assess
    await expect(page.locator('.position-lead').textContent()).resolves.toBe('You are number');
    await expect(page.evaluate(() => document.documentElement.lang)).resolves.toBe('en');
    await expect(page.locator('h1').textContent()).resolves.toBe('Spring sale');
  });
});
