/// <reference lib="dom" />
/**
 * One place per person in a real browser: the site links to the waiting room with its signed
 * identity token; the page joins with it and takes it out of the address bar, a second browser
 * of the same person continues the same place, and a bad token is refused with a clear message.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { openPage, useChromium } from '../helpers/browser.ts';
import { startTestRoom, type TestRoom } from '../helpers/local-room.ts';

const site = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' });

let room: TestRoom | undefined;
let dir: string | undefined;
const chromium = useChromium({
  afterEach: async () => {
    await room?.close();
    room = undefined;
    if (dir) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  },
});

function token(sub: string, key = site.privateKey): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: 'ES256' })
    .setSubject(sub)
    .setAudience('waiting-room')
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(key);
}

async function roomWithSiteKey(): Promise<TestRoom> {
  dir = await mkdtemp(join(tmpdir(), 'wr-e2e-identity-'));
  const file = join(dir, 'site.pem');
  await writeFile(file, site.publicKey.export({ type: 'spki', format: 'pem' }));
  const r = await startTestRoom({
    WR_TICK_MS: '200',
    WR_ADMIT_PER_MINUTE: '0',
    WR_IDENTITY_PUBLIC_KEY_FILE: file,
  });
  await chromium.lineUp(r.wsUrl, 1);
  return r;
}

describe('one place per person in Chromium', () => {
  it("joins with the site's token, takes it out of the address, and keeps one place across two browsers", async () => {
    // Prepare
    room = await roomWithSiteKey();
    const alice = await token('alice');
    const link = `${room.url}/waiting-room/?return=%2Ftickets&identity=${alice}`;
    const first = await openPage(await chromium.newContext());
    const second = await openPage(await chromium.newContext());

    // Act
    await first.page.goto(link);
    await first.page.locator('.position-number', { hasText: /^2$/ }).waitFor();
    const address = first.page.url();
    await second.page.goto(link);
    await second.page.locator('.position-number', { hasText: /^2$/ }).waitFor();

    // Assess
    expect(address).toBe(`${room.url}/waiting-room/?return=%2Ftickets`);
    // The same place moved to the second browser; the first says so.
    await first.page.getByRole('button').filter({ hasText: /here/i }).waitFor();
    expect((await room.room.status()).waiting + (await room.room.status()).arriving).toBe(2);
    expect([...first.problems, ...second.problems]).toEqual([]);
  }, 60_000);

  it('says where to go when the token is refused, and takes no place', async () => {
    // Prepare
    room = await roomWithSiteKey();
    const forged = await token('mallory', stranger.privateKey);
    const { page, problems } = await openPage(await chromium.newContext());

    // Act
    await page.goto(`${room.url}/waiting-room/?identity=${forged}`);
    const notice = page.getByText(/follow its link again/);
    await notice.waitFor();

    // Assess
    await expect(page.locator('.spinner').count()).resolves.toBe(0);
    expect((await room.room.status()).waiting + (await room.room.status()).arriving).toBe(1);
    expect(problems).toEqual([]);
  }, 60_000);
});
