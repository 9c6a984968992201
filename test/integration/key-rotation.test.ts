/**
 * Key rotation end to end, through `npm run room -- rotate-key` (the CLI's own code path, the
 * admin endpoint): a visitor admitted before the rotation keeps going through the gate with
 * their pass and can resume with their ticket; the next visitor's pass is signed by the new
 * key and goes through at once; the JWKS lists current, next and retired; a second rotation
 * right away is refused and `--force` overrides it; a restart keeps the ring. The same on
 * start:aws-local, where the ring lives in the SSM stand-in and is rotated as on AWS.
 */
import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeProtectedHeader } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { newKeyRing, serializeKeyRing } from '../../functions/core/key-ring.ts';
import { generateSigningKey } from '../../functions/core/tokens.ts';
import { KEY_RING_FILE, LEGACY_KEY_FILE } from '../../local/keys.ts';
import { runRoomCli } from '../../tools/room.ts';
import { type RuntimeRoom, startRuntimeRoom, startTestRoom } from '../helpers/local-room.ts';
import { WsVisitor } from '../helpers/ws-visitor.ts';

const PAGE = '/tickets?show=evening';
const FAST = { WR_TICK_MS: '100', WR_ADMIT_PER_MINUTE: '6000' };

const closing: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closing.splice(0).reverse()) await close();
});

/** A data directory whose ring was made an hour ago, as in a room that has been running. */
async function dataDirWithOldRing(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'wr-rotate-'));
  const hourAgo = Math.floor(Date.now() / 1000) - 3600;
  const ring = newKeyRing(
    (await generateSigningKey()).pkcs8,
    (await generateSigningKey()).pkcs8,
    hourAgo,
  );
  await writeFile(join(dir, KEY_RING_FILE), serializeKeyRing(ring), { mode: 0o600 });
  return dir;
}

/** Joins and waits for admission: the pass and the ticket. */
async function admittedVisitor(wsUrl: string) {
  const visitor = await WsVisitor.connect(wsUrl);
  closing.push(() => visitor.close());
  visitor.send({ action: 'join', return: PAGE });
  const joined = await visitor.next('joined');
  const admitted = await visitor.next('admitted', { timeoutMs: 15_000 });
  return { ticket: joined.ticket, sessionId: joined.sessionId, pass: admitted.pass };
}

async function opensGate(url: string, pass: string): Promise<boolean> {
  const response = await fetch(`${url}${PAGE}`, {
    redirect: 'manual',
    headers: { cookie: `wr_pass=${pass}` },
  });
  return response.status === 200;
}

async function resumes(wsUrl: string, ticket: string, sessionId: string): Promise<boolean> {
  const visitor = await WsVisitor.connect(wsUrl);
  closing.push(() => visitor.close());
  visitor.send({ action: 'resume', ticket });
  const answer = await Promise.race([visitor.next('joined'), visitor.next('error')]);
  return answer.type === 'joined' && answer.sessionId === sessionId;
}

async function jwksKids(url: string): Promise<string[]> {
  const jwks = (await (await fetch(`${url}/.well-known/jwks.json`)).json()) as {
    keys: { kid: string }[];
  };
  return jwks.keys.map((k) => k.kid);
}

async function rotateKey(room: { url: string }, dataDir: string | null, ...flags: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runRoomCli(
    ['rotate-key', '--url', room.url, ...(dataDir ? ['--data-dir', dataDir] : []), ...flags],
    { out: (t) => out.push(t), err: (t) => err.push(t) },
  );
  return { code, out: out.join(''), err: err.join('') };
}

describe('npm run room -- rotate-key on npm start', () => {
  it('cuts no pass and no ticket, signs new passes with the new key at once, and publishes current, next and retired', async () => {
    // Prepare
    const dir = await dataDirWithOldRing();
    const room = await startTestRoom({ ...FAST, WR_DATA_DIR: dir });
    closing.push(() => room.close());
    const before = await admittedVisitor(room.wsUrl);
    const [oldCurrent, oldNext] = await jwksKids(room.url);

    // Act
    const rotation = await rotateKey(room, dir);
    const after = await admittedVisitor(room.wsUrl);

    // Assess
    expect(rotation).toMatchObject({ code: 0, err: '' });
    expect(rotation.out).toContain('Rotated');
    expect(await opensGate(room.url, before.pass)).toBe(true);
    expect(await resumes(room.wsUrl, before.ticket, before.sessionId)).toBe(true);
    expect(decodeProtectedHeader(before.pass).kid).toBe(oldCurrent);
    expect(decodeProtectedHeader(after.pass).kid).toBe(oldNext);
    expect(decodeProtectedHeader(after.ticket).kid).toBe(oldNext);
    expect(await opensGate(room.url, after.pass)).toBe(true);
    const kids = await jwksKids(room.url);
    expect(kids).toHaveLength(3);
    expect(kids.slice(0, 1)).toEqual([oldNext]);
    expect(kids[2]).toBe(oldCurrent);
    expect(room.errors).toEqual([]);
  }, 40_000);

  it('refuses a second rotation at once, and --force does it with a warning', async () => {
    // Prepare
    const dir = await dataDirWithOldRing();
    const room = await startTestRoom({ ...FAST, WR_DATA_DIR: dir });
    closing.push(() => room.close());
    await rotateKey(room, dir);
    const kidsBefore = await jwksKids(room.url);

    // Act
    const refused = await rotateKey(room, dir);
    const kidsAfterRefusal = await jwksKids(room.url);
    const forced = await rotateKey(room, dir, '--force');

    // Assess
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/refused.*next key was published .* ago/);
    expect(kidsAfterRefusal).toEqual(kidsBefore);
    expect(forced.code).toBe(0);
    expect(forced.out).toContain('Warning: the new current key was published only');
    expect(await jwksKids(room.url)).toHaveLength(4);
  }, 30_000);

  it('keeps the ring across a restart, in a file only its owner reads, and tickets of the old key resume', async () => {
    // Prepare
    const dir = await dataDirWithOldRing();
    const first = await startTestRoom({ ...FAST, WR_DATA_DIR: dir });
    const visitor = await admittedVisitor(first.wsUrl);
    await rotateKey(first, dir);
    const kids = await jwksKids(first.url);
    await first.close();

    // Act
    const second = await startTestRoom({ ...FAST, WR_DATA_DIR: dir });
    closing.push(() => second.close());

    // Assess
    expect(await jwksKids(second.url)).toEqual(kids);
    // Its port differs, so passes of the first (their `aud`) are not for it; tickets are.
    expect(await resumes(second.wsUrl, visitor.ticket, visitor.sessionId)).toBe(true);
    expect(second.room.key.kid).toBe(kids[0]);
    expect((await stat(join(dir, KEY_RING_FILE))).mode & 0o777).toBe(0o600);
  }, 30_000);

  it('takes a signing-key.pem of an older version as the current key of a new ring', async () => {
    // Prepare
    const dir = await mkdtemp(join(tmpdir(), 'wr-rotate-'));
    const legacy = await generateSigningKey();
    await writeFile(join(dir, LEGACY_KEY_FILE), legacy.pkcs8, { mode: 0o600 });

    // Act
    const room = await startTestRoom({ ...FAST, WR_DATA_DIR: dir });
    closing.push(() => room.close());

    // Assess
    const kids = await jwksKids(room.url);
    expect(kids).toHaveLength(2);
    expect(kids[0]).toBe(legacy.kid);
    expect(JSON.parse(await readFile(join(dir, KEY_RING_FILE), 'utf8'))).toMatchObject({
      format: 'waiting-room-key-ring/1',
      current: { pem: legacy.pkcs8 },
    });
  });

  it('refuses to rotate a key pinned by WR_KEY_FILE, naming the variable', async () => {
    // Prepare
    const dir = await mkdtemp(join(tmpdir(), 'wr-rotate-'));
    const room = await startTestRoom({ ...FAST, WR_KEY_FILE: join(dir, 'pinned.pem') });
    closing.push(() => room.close());

    // Act
    const refused = await rotateKey(room, null, '--force');

    // Assess
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('pinned by WR_KEY_FILE');
    expect(await jwksKids(room.url)).toHaveLength(1);
  });
});

describe('npm run room -- rotate-key on start:aws-local (the ring in SSM, as deployed)', () => {
  let room: RuntimeRoom;

  it('rotates the ring in SSM and publishes it; passes and tickets issued before keep working', async () => {
    // Prepare
    room = await startRuntimeRoom('aws-local', FAST);
    closing.push(() => room.close());
    const before = await admittedVisitor(room.wsUrl);
    const [oldCurrent, oldNext] = await jwksKids(room.url);

    // Act: the ring was made at start, so only --force rotates it now.
    const refused = await rotateKey(room, null);
    const forced = await rotateKey(room, null, '--force');
    const later = await admittedVisitor(room.wsUrl);

    // Assess
    expect(refused.code).toBe(1);
    expect(forced.code).toBe(0);
    const kids = await jwksKids(room.url);
    expect(kids).toEqual([oldNext, expect.any(String), oldCurrent]);
    expect(await opensGate(room.url, before.pass)).toBe(true);
    expect(await resumes(room.wsUrl, before.ticket, before.sessionId)).toBe(true);
    // The functions' containers read the new ring within a minute; either key is published.
    expect([oldCurrent, oldNext]).toContain(decodeProtectedHeader(later.pass).kid);
    expect(await opensGate(room.url, later.pass)).toBe(true);
  }, 60_000);

  it('refuses to rotate a key pinned by WR_KEY_FILE, as npm start does', async () => {
    // Prepare
    const dir = await mkdtemp(join(tmpdir(), 'wr-rotate-'));
    room = await startRuntimeRoom('aws-local', { ...FAST, WR_KEY_FILE: join(dir, 'pinned.pem') });
    closing.push(() => room.close());
    const before = await jwksKids(room.url);

    // Act
    const refused = await rotateKey(room, null, '--force');

    // Assess
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('pinned by WR_KEY_FILE');
    expect(await jwksKids(room.url)).toEqual(before);
  }, 60_000);
});
