/// <reference lib="dom" />
/**
 * A fair launch in a real browser, set up the way an operator does it (the admin endpoint that
 * `npm run room -- schedule | pow | rate | message | close` calls), on both runtimes: a visitor
 * who asks for a page of the main site before the opening pays the proof of work in the page's
 * Web Workers, counts down in the pre-queue, gets a place in the draw that the page checks
 * itself against the commitment it saw before, and arrives at the page first asked for; a
 * waiting visitor sees the operator's message as a banner, then the closed sale.
 *
 * The opening is scheduled an hour ahead and moved to "now" by the operator once the visitor is
 * in the pre-queue (the draw keeps its seed and commitment when the opening moves earlier), so
 * no step races a clock.
 */
import { createHash } from 'node:crypto';
import type { BrowserContext, Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import type { ServerMessage } from '../../functions/core/protocol.ts';
import { adminFetch } from '../../local/admin-secret.ts';
import { openPage, useChromium } from '../helpers/browser.ts';
import { RUNTIMES, type RuntimeRoom, startRuntimeRoom } from '../helpers/local-room.ts';
import { WsVisitor } from '../helpers/ws-visitor.ts';

/** A small cost, so that the page's solve is quick on any machine. */
const POW_COST = 300;
const HOUR_MS = 3_600_000;

let room: RuntimeRoom | undefined;
const probes: WsVisitor[] = [];
const chromium = useChromium({
  afterEach: async () => {
    await Promise.all(probes.splice(0).map((p) => p.close()));
    await room?.close();
    room = undefined;
  },
});

/** A change through the room's admin endpoint, as `npm run room` makes it. */
async function operator(r: RuntimeRoom, change: Record<string, unknown>): Promise<void> {
  const response = await adminFetch(r.url, 'config', {
    method: 'POST',
    body: JSON.stringify(change),
  });
  expect(response.status).toBe(200);
}

/** The first message of one of `types` that `visitor` receives after `since`. */
async function firstOf(
  visitor: WsVisitor,
  types: ServerMessage['type'][],
  since: number,
): Promise<ServerMessage> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const found = visitor.received.slice(since).find((r) => types.includes(r.message.type));
    if (found) return found.message;
    if (Date.now() > deadline) throw new Error(`no ${types.join(' or ')} within 10 s`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/**
 * Scripted visitors join until one is asked for a proof of work: the cost set through the admin
 * endpoint has then reached the room's join handler (on start:aws-local through SSM and the
 * processor's mirror, a few seconds). Those who got a place before that are early visitors of
 * the pre-queue like any other.
 */
async function untilProofAsked(r: RuntimeRoom): Promise<void> {
  const deadline = Date.now() + 15_000 + r.settleMs;
  for (;;) {
    const probe = await WsVisitor.connect(r.wsUrl);
    probes.push(probe);
    probe.send({ action: 'join' });
    if ((await firstOf(probe, ['challenge', 'joined'], 0)).type === 'challenge') return;
    if (Date.now() > deadline) throw new Error('the proof-of-work cost never reached the join');
  }
}

/** Every frame the page's sockets send and receive, parsed, across navigations. */
function recordFrames(page: Page): { sent: unknown[]; received: ServerMessage[] } {
  const frames = { sent: [] as unknown[], received: [] as ServerMessage[] };
  page.on('websocket', (socket) => {
    socket.on('framesent', ({ payload }) => frames.sent.push(JSON.parse(String(payload))));
    socket.on('framereceived', ({ payload }) =>
      frames.received.push(JSON.parse(String(payload)) as ServerMessage),
    );
  });
  return frames;
}

/**
 * Runs in every page: tells the test when the browser check's progress bar is put in the page
 * (the check may take less time than a test takes to look).
 */
const REPORT_CHECKING = () => {
  new MutationObserver((records) => {
    for (const record of records) {
      for (const node of record.addedNodes) {
        if (!(node instanceof Element)) continue;
        const bar = node.matches('[role="progressbar"]')
          ? node
          : node.querySelector('[role="progressbar"]');
        const label = bar?.getAttribute('aria-label');
        if (label) (window as unknown as { reportBar: (l: string) => void }).reportBar(label);
      }
    }
  }).observe(document, { subtree: true, childList: true });
};

async function recordedContext(): Promise<{ context: BrowserContext; bars: string[] }> {
  const context = await chromium.newContext();
  const bars: string[] = [];
  await context.exposeFunction('reportBar', (label: string) => bars.push(label));
  await context.addInitScript(REPORT_CHECKING);
  return { context, bars };
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

describe.each(RUNTIMES)('a fair launch in Chromium, on the %s runtime', (runtime) => {
  it('has a visitor pay the proof of work, count down in the pre-queue, check the draw and arrive at the page first asked for', async () => {
    // Prepare: two early visitors; an opening an hour ahead, a small cost, admission paused.
    room = await startRuntimeRoom(runtime, { WR_TICK_MS: '200', WR_ADMIT_PER_MINUTE: '0' });
    await chromium.lineUp(room.wsUrl, 2);
    await operator(room, { opensAt: Date.now() + HOUR_MS, powCost: POW_COST });
    await untilProofAsked(room);
    const { context, bars } = await recordedContext();
    const { page, problems } = await openPage(context, { failedResponses: true });
    const frames = recordFrames(page);

    // Act: the visitor arrives and waits in the pre-queue.
    await page.goto(`${room.url}/tickets?show=evening`);
    const waitingRoomUrl = new URL(page.url());
    const countdown = page.getByRole('timer');
    await countdown.waitFor({ timeout: 20_000 + room.settleMs });
    const countdownWords = await countdown.textContent();
    const commitmentShown = await page.locator('.fair-draw code').first().textContent();
    await page.screenshot({ path: `test-results/fair-launch-prequeue-${runtime}.png` });

    // Act: the operator opens the line now; the page gets its drawn place.
    await operator(room, { opensAt: Date.now() + 1000 });
    await page.getByText('How your place was drawn').click({ timeout: 20_000 + room.settleMs });
    const checked = page.getByText(
      'Checked by your browser: the seed matches the fingerprint published before the opening.',
    );
    await checked.waitFor();
    const [, seedShown] = await page.locator('.fair-draw code').allTextContents();
    const place = Number(await page.locator('.position-number').textContent());
    const status = await room.status();
    await page.screenshot({ path: `test-results/fair-launch-drawn-${runtime}.png` });

    // Act: the operator lets the line in.
    await operator(room, { admitPerMinute: 600 });
    await page.waitForURL(`${room.url}/tickets?show=evening`, { timeout: 20_000 + room.settleMs });

    // Assess: sent to the waiting room with the path asked for.
    expect(waitingRoomUrl.pathname).toBe('/waiting-room/');
    expect(waitingRoomUrl.searchParams.get('return')).toBe('/tickets?show=evening');
    // The browser check was shown, and the place was taken with the challenge's proof.
    expect(bars).toContain('Browser check');
    const challenge = frames.received.find((m) => m.type === 'challenge');
    const joins = frames.sent.filter((f) => (f as { action?: string }).action === 'join');
    expect(challenge).toBeDefined();
    // One place asked for: the same join key on both.
    const joinKey = (joins[0] as { joinKey?: string }).joinKey;
    expect(joinKey).toMatch(/^[\w-]{22}$/);
    expect(joins).toEqual([
      { action: 'join', return: '/tickets?show=evening', joinKey },
      {
        action: 'join',
        return: '/tickets?show=evening',
        joinKey,
        proof: { challenge: expect.any(Object), solution: expect.any(Object) },
      },
    ]);
    expect((joins[1] as { proof: { challenge: unknown } }).proof.challenge).toEqual(
      challenge?.type === 'challenge' && challenge.challenge,
    );
    // The pre-queue's countdown and the commitment published before the opening.
    expect(countdownWords).toMatch(/^The line opens in (59 minutes|1 hour)/);
    const prequeue = frames.received.find((m) => m.type === 'prequeue');
    expect(prequeue?.type === 'prequeue' && prequeue.commitment).toBe(commitmentShown);
    // A place among those drawn, from a seed that hashes to that commitment.
    expect(status.draw).toMatchObject({ commitment: commitmentShown, seed: seedShown });
    expect(sha256Hex(seedShown ?? '')).toBe(commitmentShown);
    expect(status.draw?.members).toBeGreaterThanOrEqual(3);
    expect(place).toBeGreaterThanOrEqual(1);
    expect(place).toBeLessThanOrEqual(status.draw?.members ?? 0);
    // Let in with the pass, at the page first asked for.
    expect(page.url()).not.toContain('wr_pass');
    await expect(page.locator('h1').textContent()).resolves.toBe('Choose your seats');
    const cookies = await context.cookies(room.url);
    expect(cookies.find((c) => c.name === 'wr_pass')).toMatchObject({ httpOnly: true });
    expect(problems).toEqual([]);
    expect(room.errors).toEqual([]);
  }, 120_000);

  it("shows a waiting visitor the operator's message as a banner, then the closed sale", async () => {
    // Prepare: admission paused, so the visitor stays in line.
    room = await startRuntimeRoom(runtime, { WR_TICK_MS: '200', WR_ADMIT_PER_MINUTE: '0' });
    const { page, problems } = await openPage(await chromium.newContext(), {
      failedResponses: true,
    });
    await page.goto(`${room.url}/about`);
    await page.locator('.position-number', { hasText: /^1$/ }).waitFor();
    const message = 'Doors open at 10:00 UTC. One pair per <b>customer</b>.';

    // Act
    await operator(room, { message });
    const banner = page.getByText('Message from the organiser');
    await banner.waitFor({ timeout: 10_000 + room.settleMs });
    const bannerText = await page.locator('.banner').textContent();
    await operator(room, { closed: 'Sold out. Thank you for waiting!' });
    const ended = page.getByRole('heading', { name: 'The sale has ended' });
    await ended.waitFor({ timeout: 10_000 + room.settleMs });
    await page.reload();
    await ended.waitFor({ timeout: 10_000 + room.settleMs });

    // Assess: the operator's words as plain text, then the sale's end with its words.
    expect(bannerText).toContain(message);
    await expect(page.locator('.banner b').count()).resolves.toBe(0);
    await expect(
      page.getByText('Sold out. Thank you for waiting!', { exact: true }).isVisible(),
    ).resolves.toBe(true);
    await expect(banner.isVisible()).resolves.toBe(false);
    await expect(page.locator('.position-number').count()).resolves.toBe(0);
    expect(page.url()).toContain('/waiting-room/');
    expect(problems).toEqual([]);
    expect(room.errors).toEqual([]);
  }, 90_000);
});
