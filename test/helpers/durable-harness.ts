/**
 * A room on the local runtime's disk store: the in-process harness with the store and queue
 * written through to SQLite in a temporary data directory, and a way to "restart" it (close,
 * open the same directory again) as a crashed process's successor would.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDurableRoom } from '../../functions/adapters/local/durable-room.ts';
import { openRoomFile, type RoomFile } from '../../functions/adapters/local/room-file.ts';
import type { Clock } from '../../functions/core/ports.ts';
import { createHarness, type HarnessData, type HarnessOptions, ROOM_ID } from './room-harness.ts';

const files: RoomFile[] = [];
const dirs: string[] = [];

/** A fresh data directory, removed by {@link closeDurableRooms}. */
export function freshDataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'wr-data-'));
  dirs.push(dir);
  return dir;
}

/** The store and queue kept in `dir` (opened now, as a process starting there would). */
export function durableData(dir: string): HarnessData {
  return (clock: Clock) => {
    const file = openRoomFile(dir, ROOM_ID);
    files.push(file);
    const room = openDurableRoom(file, clock);
    return { store: room.store, queue: room.queue };
  };
}

export function createDurableHarness(options: HarnessOptions = {}, dir = freshDataDir()) {
  return createHarness(options, durableData(dir));
}

/** Closes every room file opened here (as a process that stops): the directories stay. */
export async function closeDurableRooms(): Promise<void> {
  for (const file of files.splice(0)) await file.close();
}

/** Closes every room file and removes the directories (after each test). */
export async function removeDurableRooms(): Promise<void> {
  await closeDurableRooms();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}
