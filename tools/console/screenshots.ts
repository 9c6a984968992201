/**
 * `npx tsx tools/console/screenshots.ts`: the console's screenshots in docs/screenshots/ (laptop
 * 1280x800 and phone 390x844, light and dark), against a real local room holding a few hundred
 * visitors in line with some admitted. The hour before the console started is a simulated
 * launch (a ramp of joins, admission at 120 a minute, a pause), handed in as the history a
 * deployed room gets from CloudWatch; everything from "now" is the live room.
 */
import { mkdirSync } from 'node:fs';
import { adminFetch } from '../../local/admin-secret.ts';
import { launchChromium } from '../../test/helpers/browser.ts';
import { startTestRoom } from '../../test/helpers/local-room.ts';
import { WsVisitor } from '../../test/helpers/ws-visitor.ts';
import { lastInLineWaitSeconds, MINUTE_MS } from './history.ts';
import { CONSOLE_DIST } from './main.ts';
import type { ConsoleSample } from './protocol.ts';
import { startConsoleServer } from './server.ts';
import { createLocalSource } from './sources.ts';

const OUT = new URL('../../docs/screenshots/', import.meta.url);

/** A launch's last hour, minute by minute, ending with the line the live room now holds. */
function simulatedHour(end: number, waitingNow: number): ConsoleSample[] {
  const minutes: {
    rate: number;
    joins: number;
    admitted: number;
    abandoned: number;
    waiting: number;
  }[] = [];
  let waiting = 0;
  for (let minute = 1; minute < 60; minute += 1) {
    const rate = minute >= 36 && minute <= 41 ? 0 : 120;
    const joins = Math.round(
      minute < 8 ? 22 * minute : Math.max(60, 176 - (minute - 8) * 2.2) + ((minute * 7) % 11),
    );
    const admitted = Math.min(rate, waiting + joins);
    const abandoned = Math.round(waiting * 0.01 + ((minute * 3) % 5));
    waiting = Math.max(0, waiting + joins - admitted - abandoned);
    minutes.push({ rate, joins, admitted, abandoned, waiting });
  }
  // The last ten minutes lead into the line the live room holds.
  const gap = waitingNow - waiting;
  return minutes.map((m, i) => {
    const blend = Math.max(0, (i - (minutes.length - 10)) / 10);
    const shown = Math.max(0, Math.round(m.waiting + gap * blend));
    return {
      at: end - (minutes.length - i) * MINUTE_MS,
      origin: 'cloudwatch' as const,
      enabled: true,
      admitPerMinute: m.rate,
      waiting: shown,
      arriving: null,
      admittedLastMinute: m.admitted,
      joinsLastMinute: m.joins,
      abandonedLastMinute: m.abandoned,
      admittedTotal: null,
      abandonedTotal: null,
      connections: null,
      lastInLineWaitSeconds: lastInLineWaitSeconds(shown, m.rate, true),
      schedule: null,
      powCost: null,
      message: null,
      closed: null,
      error: null,
    };
  });
}

async function main() {
  mkdirSync(OUT, { recursive: true });
  const room = await startTestRoom({ WR_ADMIT_PER_MINUTE: '0', WR_ABANDON_AFTER_SECONDS: '2' });
  const visitors: WsVisitor[] = [];
  for (let i = 0; i < 460; i++) {
    const visitor = await WsVisitor.connect(room.wsUrl);
    visitor.send({ action: 'join' });
    visitors.push(visitor);
  }
  await Promise.all(visitors.map((v) => v.next('joined', { since: 0 })));
  // A few leave (abandoned after the grace), then admission runs at 120 a minute.
  await Promise.all(visitors.slice(100, 112).map((v) => v.close()));
  await adminFetch(room.url, 'config', {
    method: 'POST',
    body: JSON.stringify({ admitPerMinute: 120 }),
  });
  const local = createLocalSource(room.url, null);
  const server = await startConsoleServer({
    source: { ...local, history: async (_since, until) => simulatedHour(until, 440) },
    distDir: CONSOLE_DIST,
    port: 0,
  });
  // A minute of the live room, with a few more arrivals.
  for (let s = 0; s < 30; s++) {
    const visitor = await WsVisitor.connect(room.wsUrl);
    visitor.send({ action: 'join' });
    visitors.push(visitor);
    await new Promise((r) => setTimeout(r, 1000));
  }
  const browser = await launchChromium();
  try {
    for (const scheme of ['light', 'dark'] as const) {
      for (const [device, viewport] of [
        ['laptop', { width: 1280, height: 800 }],
        ['phone', { width: 390, height: 844 }],
      ] as const) {
        const context = await browser.newContext({
          viewport,
          colorScheme: scheme,
          deviceScaleFactor: 1,
        });
        const page = await context.newPage();
        await page.goto(server.url);
        await page.locator('[data-stream="live"]').waitFor();
        await page.waitForTimeout(2500);
        const path = new URL(`console-${device}-${scheme}.png`, OUT);
        await page.screenshot({ path: path.pathname, fullPage: device === 'phone' });
        process.stdout.write(`${path.pathname}\n`);
        await context.close();
      }
    }
  } finally {
    await browser.close();
    await server.close();
    await Promise.all(visitors.map((v) => v.close()));
    await room.close();
  }
}

await main();
