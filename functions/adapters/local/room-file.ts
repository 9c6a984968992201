/**
 * The local runtime's room on disk: one SQLite database (`room.db` in the data directory), in
 * WAL mode with `synchronous = FULL`, so a commit that returned survives a crash of the process
 * and of the machine. It holds the sessions (one row each, as JSON), the arrivals not yet
 * numbered, and small values: the room state (token bucket), the totals, the live config, the
 * highest arrival order given, and the room id the directory belongs to.
 *
 * Writes are group-committed ({@link Journal}): every write of one turn of the event loop goes
 * into one transaction, committed on the next turn; whoever wrote waits for that commit before
 * answering anyone. The process holds the database with an exclusive lock (released by the
 * operating system when the process dies, so a crash never leaves a stale lock), so a second
 * process on the same directory is refused at once.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { RoomConfig, RoomCounts, RoomState } from '../../core/ports.ts';
import type { Session } from '../../core/session.ts';
import type { QueuedArrival } from './memory-arrival-queue.ts';

/** The schema this code writes; a directory written by a newer one is refused. */
export const SCHEMA_VERSION = 1;
export const DATABASE_FILE = 'room.db';

/** The data directory cannot be used; the message says why (the runtime names `WR_DATA_DIR`). */
export class DataDirError extends Error {
  constructor(
    readonly dir: string,
    reason: string,
  ) {
    super(`${dir}: ${reason}`);
    this.name = 'DataDirError';
  }
}

/** What the previous process left. */
export interface RoomFileContents {
  sessions: Session[];
  arrivals: QueuedArrival[];
  /** The highest arrival order ever given (null: none). */
  lastOrder: string | null;
  roomState: RoomState | null;
  counts: RoomCounts | null;
  /** The operator's live settings (null: never set in this directory). */
  config: RoomConfig | null;
}

type Key = 'roomState' | 'counts' | 'config' | 'lastOrder' | 'roomId';

/**
 * Group commit: `write` runs statements inside the transaction of this turn of the event loop
 * (opening it if needed); `settled` resolves once that transaction is committed. A failed commit
 * (a full disk) fails every waiter and every later write: the process must stop, and a restart
 * takes up what was committed.
 */
export class Journal {
  readonly #db: Database.Database;
  #open = false;
  #waiters: { resolve: () => void; reject: (error: Error) => void }[] = [];
  #failure: Error | null = null;
  /** Told once when a commit fails. */
  onFailure: ((error: Error) => void) | undefined;

  constructor(db: Database.Database) {
    this.#db = db;
  }

  write(statements: () => void): void {
    if (this.#failure) throw this.#failure;
    try {
      if (!this.#open) {
        this.#db.exec('BEGIN IMMEDIATE');
        this.#open = true;
        setImmediate(() => this.#commit());
      }
      statements();
    } catch (error) {
      // The change is in memory but not on disk: nothing more may be answered.
      this.#fail(error);
      throw this.#failure;
    }
  }

  /** Resolves when everything written so far is committed. */
  settled(): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (!this.#open) return Promise.resolve();
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  #commit(): void {
    if (this.#failure || !this.#open) return;
    try {
      this.#db.exec('COMMIT');
    } catch (error) {
      this.#fail(error);
      return;
    }
    this.#open = false;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter.resolve();
  }

  /** Rolls the open transaction back, fails its waiters and every later write, says so once. */
  #fail(error: unknown): void {
    if (this.#failure) return;
    this.#failure = new Error(`could not save to disk: ${(error as Error).message}`);
    if (this.#open) {
      try {
        this.#db.exec('ROLLBACK');
      } catch {
        // Nothing left to roll back.
      }
    }
    this.#open = false;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter.reject(this.#failure);
    this.onFailure?.(this.#failure);
  }
}

export interface RoomFile {
  readonly dir: string;
  readonly journal: Journal;
  /** Whether the directory was new (the environment seeds its settings). */
  readonly created: boolean;
  read(): RoomFileContents;
  putSessions(sessions: readonly Session[]): void;
  deleteSessions(ids: readonly string[]): void;
  putArrival(arrival: QueuedArrival): void;
  deleteArrivals(orders: readonly string[]): void;
  put(key: Key, value: unknown): void;
  /**
   * Copies the database, as committed, to `destination` while the room runs (SQLite's online
   * backup); resolves with its size in bytes.
   */
  backup(destination: string): Promise<number>;
  /** Commits what is pending and closes the database (and its lock). */
  close(): Promise<void>;
}

/**
 * Opens (creating if needed) the room's database in `dir`. Throws {@link DataDirError} when the
 * directory cannot be created or written, holds another room, was written by a newer version,
 * or is in use by another process.
 */
export function openRoomFile(
  dir: string,
  roomId: string,
  options: {
    /** A quota: the database refuses to grow past this many bytes, as a full disk does. */
    maxBytes?: number;
  } = {},
): RoomFile {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new DataDirError(dir, `cannot create the directory (${(error as Error).message})`);
  }
  let db: Database.Database;
  try {
    // No busy wait: a database another process holds is refused at once.
    db = new Database(join(dir, DATABASE_FILE), { timeout: 0 });
  } catch (error) {
    throw new DataDirError(dir, `cannot open ${DATABASE_FILE} (${(error as Error).message})`);
  }
  try {
    const file = prepare(db, dir, roomId);
    if (options.maxBytes !== undefined) {
      const pageSize = db.pragma('page_size', { simple: true }) as number;
      db.pragma(`max_page_count = ${Math.max(1, Math.floor(options.maxBytes / pageSize))}`);
    }
    return file;
  } catch (error) {
    db.close();
    if (error instanceof DataDirError) throw error;
    const message = (error as Error).message;
    if (/locked|busy/i.test(message)) {
      throw new DataDirError(dir, 'another process is using it (one room process per directory)');
    }
    throw new DataDirError(dir, `cannot use ${DATABASE_FILE} (${message})`);
  }
}

function prepare(db: Database.Database, dir: string, roomId: string): RoomFile {
  // Held until the process closes it or dies: a second process is refused.
  db.pragma('locking_mode = EXCLUSIVE');
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > SCHEMA_VERSION) {
    throw new DataDirError(
      dir,
      `written by a newer version of the waiting room (schema ${version}; this one reads up to ${SCHEMA_VERSION})`,
    );
  }
  const created = version === 0;
  db.exec(`
    CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, data TEXT NOT NULL) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS arrivals (ord TEXT PRIMARY KEY, data TEXT NOT NULL) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
  `);
  if (created) db.pragma(`user_version = ${SCHEMA_VERSION}`);
  const getKv = db.prepare<[string], { value: string }>('SELECT value FROM kv WHERE key = ?');
  const putKv = db.prepare('INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)');
  const owner = getKv.get('roomId');
  if (owner && JSON.parse(owner.value) !== roomId) {
    throw new DataDirError(
      dir,
      `holds the room "${JSON.parse(owner.value)}", not "${roomId}" (WR_ROOM_ID): use another directory`,
    );
  }
  if (!owner) putKv.run('roomId', JSON.stringify(roomId));

  const putSession = db.prepare('INSERT OR REPLACE INTO sessions (id, data) VALUES (?, ?)');
  const deleteSession = db.prepare('DELETE FROM sessions WHERE id = ?');
  const putArrival = db.prepare('INSERT OR REPLACE INTO arrivals (ord, data) VALUES (?, ?)');
  const deleteArrival = db.prepare('DELETE FROM arrivals WHERE ord = ?');
  const journal = new Journal(db);
  const kv = <T>(key: Key): T | null => {
    const row = getKv.get(key);
    return row ? (JSON.parse(row.value) as T) : null;
  };

  return {
    dir,
    journal,
    created,
    read() {
      const sessions = db
        .prepare<[], { data: string }>('SELECT data FROM sessions')
        .all()
        .map((row) => JSON.parse(row.data) as Session);
      const arrivals = db
        .prepare<[], { data: string }>('SELECT data FROM arrivals ORDER BY ord')
        .all()
        .map((row) => JSON.parse(row.data) as QueuedArrival);
      return {
        sessions,
        arrivals,
        lastOrder: kv<string>('lastOrder'),
        roomState: kv<RoomState>('roomState'),
        counts: kv<RoomCounts>('counts'),
        config: kv<RoomConfig>('config'),
      };
    },
    putSessions: (sessions) => {
      for (const session of sessions) putSession.run(session.id, JSON.stringify(session));
    },
    deleteSessions: (ids) => {
      for (const id of ids) deleteSession.run(id);
    },
    putArrival: (arrival) => {
      putArrival.run(arrival.order, JSON.stringify(arrival));
    },
    deleteArrivals: (orders) => {
      for (const order of orders) deleteArrival.run(order);
    },
    put: (key, value) => {
      putKv.run(key, JSON.stringify(value));
    },
    async backup(destination) {
      await journal.settled();
      const { totalPages } = await db.backup(destination);
      return totalPages * (db.pragma('page_size', { simple: true }) as number);
    },
    async close() {
      await journal.settled().catch(() => {});
      db.close();
    },
  };
}
