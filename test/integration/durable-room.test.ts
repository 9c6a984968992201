/**
 * The local runtime's room on disk: what a restart on the same data directory takes up (the
 * line, positions, passes, the bucket, arrivals not yet numbered, the disconnected visitors'
 * grace), and the data directories it refuses.
 */
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { openDurableRoom } from '../../functions/adapters/local/durable-room.ts';
import {
  DATABASE_FILE,
  DataDirError,
  openRoomFile,
  SCHEMA_VERSION,
} from '../../functions/adapters/local/room-file.ts';
import {
  POW_CHALLENGE_TTL_SECONDS,
  POW_CLOCK_SKEW_SECONDS,
} from '../../functions/core/proof-of-work.ts';
import type { ServerMessage } from '../../functions/core/protocol.ts';
import { newSession } from '../../functions/core/session.ts';
import { adminFetch } from '../../local/admin-secret.ts';
import { runRoomCli } from '../../tools/room.ts';
import {
  closeDurableRooms,
  createDurableHarness,
  durableData,
  freshDataDir,
  removeDurableRooms,
} from '../helpers/durable-harness.ts';
import { startTestRoom } from '../helpers/local-room.ts';
import { createHarness, joinedOf, ManualClock, ROOM_ID } from '../helpers/room-harness.ts';
import { WsVisitor } from '../helpers/ws-visitor.ts';

afterEach(async () => {
  await removeDurableRooms();
});

type Room = Awaited<ReturnType<typeof createDurableHarness>>;

/** The last position each connection was told. */
function lastPosition(room: Room, connectionId: string): number | undefined {
  const positions = room.notifier
    .messages(connectionId)
    .filter((m): m is Extract<ServerMessage, { type: 'position' }> => m.type === 'position');
  return positions.at(-1)?.position;
}

describe('the room kept on disk, restarted', () => {
  it('takes up the line in the same order with the same positions, and hands back the same pass', async () => {
    // Prepare: 5 visitors, one admitted (60 a minute, one a tick), 4 told their positions.
    const dir = freshDataDir();
    const clock = new ManualClock();
    const before = await createDurableHarness({ clock }, dir);
    const tickets: string[] = [];
    for (let i = 0; i < 5; i++) {
      tickets.push(joinedOf(await before.send(`c${i}`, { action: 'join' })).ticket);
    }
    await before.tick();
    const admitted = before.notifier.messages('c0').find((m) => m.type === 'admitted');
    const told = [1, 2, 3, 4].map((i) => lastPosition(before, `c${i}`));
    const bucket = await before.store.getRoomState();
    await closeDurableRooms();

    // Act: a new process on the same directory, 5 s later; everyone comes back.
    clock.advance(5000);
    const after = await createHarness(
      { clock, config: { admitPerMinute: 0 }, idPrefix: 'n' },
      durableData(dir),
    );
    const resumed: ServerMessage[][] = [];
    for (let i = 0; i < 5; i++) {
      resumed.push(await after.send(`r${i}`, { action: 'resume', ticket: tickets[i] }));
    }
    await after.tick();

    // Assess
    expect(told).toEqual([1, 2, 3, 4]);
    expect(resumed[0]).toContainEqual(admitted);
    expect([1, 2, 3, 4].map((i) => lastPosition(after, `r${i}`))).toEqual([1, 2, 3, 4]);
    expect((await after.store.getRoomState()).refilledAt).toBeGreaterThanOrEqual(
      bucket.refilledAt as number,
    );
    expect(await after.store.counts()).toMatchObject({ waiting: 4, admitted: 1 });
  });

  it('numbers an arrival the crash caught unnumbered, and places a new one behind it', async () => {
    // Prepare: two visitors in line, then one joined but not yet numbered when the process died.
    const dir = freshDataDir();
    const clock = new ManualClock();
    const before = await createDurableHarness({ clock, config: { admitPerMinute: 0 } }, dir);
    await before.send('c0', { action: 'join' });
    await before.send('c1', { action: 'join' });
    await before.tick();
    const caught = joinedOf(await before.send('c2', { action: 'join' }));
    await closeDurableRooms();

    // Act
    clock.advance(2000);
    const after = await createHarness(
      { clock, config: { admitPerMinute: 0 }, idPrefix: 'n' },
      durableData(dir),
    );
    await after.send('r2', { action: 'resume', ticket: caught.ticket });
    const fresh = joinedOf(await after.send('new', { action: 'join' }));
    await after.tick();

    // Assess
    const line = (await after.store.readLine()).map((s) => s.id);
    expect(line).toEqual([
      expect.any(String),
      expect.any(String),
      caught.sessionId,
      fresh.sessionId,
    ]);
    expect(lastPosition(after, 'r2')).toBe(3);
    expect(lastPosition(after, 'new')).toBe(4);
  });

  it('counts a restart against nobody: connected visitors get the grace afresh, the time down is not counted', async () => {
    // Prepare: a 120 s grace; one visitor left 100 s before the crash, one was connected.
    const dir = freshDataDir();
    const clock = new ManualClock();
    const before = await createDurableHarness(
      { clock, config: { admitPerMinute: 0 }, abandonAfterMs: 120_000 },
      dir,
    );
    await before.send('left', { action: 'join' });
    await before.send('stayed', { action: 'join' });
    await before.tick();
    await before.disconnect('left');
    clock.advance(100_000);
    await before.tick();
    await closeDurableRooms();

    // Act: down for 5 minutes; then 15 s of ticks, then 10 s more.
    clock.advance(300_000);
    const after = await createHarness(
      { clock, config: { admitPerMinute: 0 }, abandonAfterMs: 120_000, idPrefix: 'n' },
      durableData(dir),
    );
    for (let i = 0; i < 15; i++) await after.tick();
    const within = await after.store.counts();
    for (let i = 0; i < 10; i++) await after.tick();
    const past = await after.store.counts();

    // Assess: the one who left had 20 s of grace left after the restart; the other one 120 s.
    expect(within).toMatchObject({ waiting: 2, abandoned: 0 });
    expect(past).toMatchObject({ waiting: 1, abandoned: 1 });
  });

  it('forgets finished sessions on disk as in memory', async () => {
    // Prepare: a pass of 60 s.
    const dir = freshDataDir();
    const clock = new ManualClock();
    const room = await createDurableHarness({ clock, passTtlSeconds: 60 }, dir);
    await room.send('c0', { action: 'join' });
    await room.tick();

    // Act: long after the pass expired, someone else joins (a change that forgets).
    clock.advance(120_000);
    await room.send('c1', { action: 'join' });
    await closeDurableRooms();
    const reopened = openRoomFile(dir, ROOM_ID);
    const { sessions } = reopened.read();
    await reopened.close();

    // Assess
    expect(sessions.map((s) => s.state)).toEqual(['arriving']);
  });
});

describe('spent proofs of work in the room kept on disk', () => {
  /** The expiry `proof-of-work.ts` spends a proof until, for a challenge made at `at` (ms). */
  const spentUntil = (at: number) =>
    (Math.floor(at / 1000) + POW_CHALLENGE_TTL_SECONDS + POW_CLOCK_SKEW_SECONDS) * 1000;

  it('are kept in memory: a restart refuses every proof whose challenge was made before it', async () => {
    // Prepare: one proof spent, one made but not spent, before the process stopped.
    const dir = freshDataDir();
    const clock = new ManualClock();
    const first = openRoomFile(dir, ROOM_ID);
    const before = openDurableRoom(first, clock);
    const spent = await before.store.spendProof('spent', spentUntil(clock.now()));
    const replayed = await before.store.spendProof('spent', spentUntil(clock.now()));
    const madeBefore = spentUntil(clock.now());
    await first.close();

    // Act
    clock.advance(2000);
    const file = openRoomFile(dir, ROOM_ID);
    const after = openDurableRoom(file, clock);
    const oldSpent = await after.store.spendProof('spent', madeBefore);
    const oldUnspent = await after.store.spendProof('unspent', madeBefore);
    const fresh = await after.store.spendProof('fresh', spentUntil(clock.now()));
    await file.close();

    // Assess
    expect([spent, replayed]).toEqual([true, false]);
    expect([oldSpent, oldUnspent, fresh]).toEqual([false, false, true]);
  });
});

describe('a data directory the room cannot use', () => {
  it('stops saving at the first write the disk refuses, fails who waits, and keeps what was committed', async () => {
    // Prepare: a database allowed only a few more pages (a full disk).
    const dir = freshDataDir();
    const file = openRoomFile(dir, ROOM_ID, { maxBytes: 64 * 1024 });
    const room = openDurableRoom(file, new ManualClock());
    const failures: Error[] = [];
    file.journal.onFailure = (error) => failures.push(error);
    await room.store.create(newSession('kept', 'c0', '/', 0));

    // Act: sessions with large return paths until the disk is full.
    let refused: unknown;
    for (let i = 0; i < 200 && !refused; i++) {
      await room.store
        .create(newSession(`s${i}`, `c${i + 1}`, `/${'x'.repeat(2000)}`, 0))
        .catch((error: unknown) => {
          refused = error;
        });
    }
    const later = room.store.create(newSession('later', 'c-later', '/', 0));

    // Assess
    expect(String(refused)).toMatch(/could not save to disk: .*full/);
    expect(failures).toHaveLength(1);
    await expect(later).rejects.toThrow(/could not save to disk/);
    await file.close();
    const reopened = openRoomFile(dir, ROOM_ID);
    expect(reopened.read().sessions.map((s) => s.id)).toContain('kept');
    await reopened.close();
  });

  it('is refused, naming why: a file in the way', () => {
    // Prepare
    const dir = freshDataDir();
    writeFileSync(join(dir, 'not-a-dir'), 'x');

    // Act
    const opening = () => openRoomFile(join(dir, 'not-a-dir', 'room'), ROOM_ID);

    // Assess
    expect(opening).toThrow(DataDirError);
    expect(opening).toThrow(/cannot create the directory/);
  });

  it('is refused while another room process uses it', async () => {
    // Prepare
    const dir = freshDataDir();
    const first = openRoomFile(dir, ROOM_ID);

    // Act
    const second = () => openRoomFile(dir, ROOM_ID);

    // Assess
    expect(second).toThrow(/another process is using it/);
    await first.close();
    const again = openRoomFile(dir, ROOM_ID);
    await again.close();
  });

  it('is refused when it holds another room, or was written by a newer version', async () => {
    // Prepare
    const other = freshDataDir();
    await openRoomFile(other, 'another-room').close();
    const newer = freshDataDir();
    mkdirSync(newer, { recursive: true });
    const db = new Database(join(newer, DATABASE_FILE));
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();

    // Act
    const otherRoom = () => openRoomFile(other, ROOM_ID);
    const newerVersion = () => openRoomFile(newer, ROOM_ID);

    // Assess
    expect(otherRoom).toThrow(/holds the room "another-room", not "test-room"/);
    expect(newerVersion).toThrow(/written by a newer version/);
  });

  it('keeps nothing it was not told to: an empty directory opens as a new room', async () => {
    // Prepare
    const dir = freshDataDir();
    const clock = new ManualClock();

    // Act
    const file = openRoomFile(dir, ROOM_ID);
    const room = openDurableRoom(file, clock);

    // Assess
    expect(file.created).toBe(true);
    expect(room.config).toBeNull();
    expect(await room.store.counts()).toEqual({
      waiting: 0,
      arriving: 0,
      admitted: 0,
      abandoned: 0,
    });
    await file.close();
  });
});

describe('npm start with a data directory', () => {
  it('keeps the key, the live settings and the line across a restart, and backs itself up live', async () => {
    // Prepare: a room on disk; the operator pauses admission; two visitors join.
    const dir = freshDataDir();
    const first = await startTestRoom({ WR_DATA_DIR: dir, WR_ADMIT_PER_MINUTE: '60' });
    const out: string[] = [];
    await runRoomCli(['rate', '0', '--url', first.url, '--data-dir', dir], {
      out: (t) => out.push(t),
    });
    const a = await WsVisitor.connect(first.wsUrl);
    a.send({ action: 'join' });
    await a.next('joined');
    const b = await WsVisitor.connect(first.wsUrl);
    b.send({ action: 'join' });
    await b.next('joined');
    const jwksBefore = await (await fetch(`${first.url}/.well-known/jwks.json`)).json();

    // Act: a live backup, then a restart with the environment asking for another rate.
    const backupCode = await runRoomCli(['backup', '--url', first.url, '--data-dir', dir], {
      out: (t) => out.push(t),
    });
    await a.close();
    await b.close();
    await first.close();
    const second = await startTestRoom({ WR_DATA_DIR: dir, WR_ADMIT_PER_MINUTE: '600' });
    const status = await (await adminFetch(second.url, 'status', {}, dir)).json();
    const jwksAfter = await (await fetch(`${second.url}/.well-known/jwks.json`)).json();
    await second.close();

    // Assess
    expect(backupCode).toBe(0);
    const backupPath = /Backed up to (\S+) \(/.exec(out.join(''))?.[1] as string;
    expect(backupPath.startsWith(join(dir, 'backups'))).toBe(true);
    const backup = new Database(backupPath, { readonly: true });
    const rows = backup.prepare('SELECT COUNT(*) AS n FROM sessions').get() as { n: number };
    backup.close();
    expect(rows.n).toBe(2);
    expect(status).toMatchObject({ admitPerMinute: 0, waiting: 2 });
    expect(jwksAfter).toEqual(jwksBefore);
    expect(statSync(join(dir, 'signing-keys.json')).mode & 0o777).toBe(0o600);
  });

  it('refuses to back up a room kept in memory', async () => {
    // Prepare
    const room = await startTestRoom({ WR_DATA_DIR: ':memory:' });
    const err: string[] = [];

    // Act
    const code = await runRoomCli(['backup', '--url', room.url], { err: (t) => err.push(t) });
    await room.close();

    // Assess
    expect(code).toBe(1);
    expect(err.join('')).toContain('keeps nothing on disk');
  });
});
