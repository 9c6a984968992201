/**
 * Socket benchmarks against the real local runtime, each beside its baseline in the same run:
 * - fan-out: the runtime pushing `position` to N waiting sockets, against a bare `ws` server
 *   broadcasting as many messages of the same size to N sockets;
 * - joins acknowledged per second with N already waiting;
 * - server resident memory per connected waiting visitor.
 * Servers and clients are separate processes (a process may hold at most 20,000 files here);
 * all traffic stays on 127.0.0.1.
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { adminFetch } from '../../local/admin-secret.ts';
import { freeLoopbackPort } from './ports.ts';
import type { ClientCommand, ClientReply } from './socket-clients.ts';
import { summarize } from './stats.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLIENT_SCRIPT = fileURLToPath(new URL('./socket-clients.ts', import.meta.url));
const BARE_SCRIPT = fileURLToPath(new URL('./bare-ws-server.ts', import.meta.url));
const SOCKETS_PER_CLIENT = 6000;
const ROUNDS = 5;

export interface FanoutFigures {
  /** Messages a second within one burst (first to last receipt), median over the rounds. */
  messagesPerSecond: number;
  rounds: number;
  messagesPerRound: number;
}

export interface SocketResult {
  waiting: number;
  /** Whether the room kept its state on disk (`WR_DATA_DIR`) rather than in memory only. */
  onDisk: boolean;
  runtime: FanoutFigures;
  bare: FanoutFigures;
  ratio: number;
  joins: { count: number; perSecond: number };
  memory: { baseMiB: number; withVisitorsMiB: number; bytesPerVisitor: number };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function rssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kib * 1024;
}

class ClientPool {
  readonly workers: ChildProcess[] = [];
  constructor(count: number) {
    for (let i = 0; i < count; i++) {
      this.workers.push(fork(CLIENT_SCRIPT, [], { execArgv: ['--import', 'tsx'], cwd: ROOT }));
    }
  }
  ask<K extends ClientReply['kind']>(worker: ChildProcess, command: ClientCommand, kind: K) {
    return new Promise<Extract<ClientReply, { kind: K }>>((resolve) => {
      const listen = (reply: ClientReply) => {
        if (reply.kind !== kind) return;
        worker.off('message', listen);
        resolve(reply as Extract<ClientReply, { kind: K }>);
      };
      worker.on('message', listen);
      worker.send(command);
    });
  }
  async open(url: string, total: number, join: boolean): Promise<number> {
    const share = Math.ceil(total / this.workers.length);
    const replies = await Promise.all(
      this.workers.map((w, i) =>
        this.ask(
          w,
          { cmd: 'open', url, count: Math.max(0, Math.min(share, total - i * share)), join },
          'opened',
        ),
      ),
    );
    return replies.reduce((sum, r) => sum + r.sockets, 0);
  }
  async receipts(): Promise<number[]> {
    const replies = await Promise.all(
      this.workers.map((w) => this.ask(w, { cmd: 'report' }, 'report')),
    );
    return replies.flatMap((r) => r.receipts).sort((a, b) => a - b);
  }
  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => this.ask(w, { cmd: 'close' }, 'closed')));
  }
}

/** Splits receipt times into bursts (gaps over 250 ms) and gives each burst's messages/s. */
export function burstRates(receipts: readonly number[], expected: number): FanoutFigures {
  const bursts: number[][] = [];
  for (const at of receipts) {
    const current = bursts.at(-1);
    if (current && at - (current.at(-1) as number) < 250) current.push(at);
    else bursts.push([at]);
  }
  const full = bursts.filter((b) => b.length >= expected * 0.9 && b.length > 1);
  const rates = full.map((b) => b.length / (((b.at(-1) as number) - (b[0] as number)) / 1000));
  return {
    messagesPerSecond: summarize(rates).median,
    rounds: full.length,
    messagesPerRound: Math.round(summarize(full.map((b) => b.length)).median),
  };
}

async function waitHealthy(base: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`${base}/__room/health`)).ok) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error('the local runtime did not start');
}

async function setRate(base: string, admitPerMinute: number): Promise<void> {
  await adminFetch(base, 'config', {
    method: 'POST',
    body: JSON.stringify({ admitPerMinute }),
  });
}

async function benchRuntime(waiting: number, joinBurst: number, onDisk: boolean) {
  const port = await freeLoopbackPort();
  const dataDir = onDisk ? await mkdtemp(join(tmpdir(), 'wr-bench-')) : null;
  const base = `http://127.0.0.1:${port}`;
  const server = spawn(process.execPath, ['--import', 'tsx', 'local/main.ts'], {
    cwd: ROOT,
    stdio: 'ignore',
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      WR_PUBLIC_URL: base,
      WR_ADMIT_PER_MINUTE: '0',
      WR_TICK_MS: '1000',
      WR_ABANDON_AFTER_SECONDS: '3600',
      WR_POSITION_BUDGET_PER_SECOND: '1000000',
      WR_DATA_DIR: dataDir ?? ':memory:',
      // Every simulated visitor speaks from 127.0.0.1.
      WR_SOURCE_LIMITS: 'off',
    },
  });
  const pool = new ClientPool(Math.max(1, Math.ceil(waiting / SOCKETS_PER_CLIENT)));
  try {
    await waitHealthy(base);
    await sleep(500);
    const base0 = await rssBytes(server.pid as number);
    const opened = await pool.open(`ws://127.0.0.1:${port}/ws`, waiting, true);
    if (opened < waiting) throw new Error(`only ${opened} of ${waiting} visitors joined`);
    await sleep(2000);
    const withVisitors = await rssBytes(server.pid as number);
    await pool.receipts();
    // A rate of `waiting` a minute makes the whole line its front (the next minute's
    // admissions), where every move is told at once: each tick admits a sixtieth and moves
    // everyone behind them, a full fan-out every tick.
    await setRate(base, waiting);
    await sleep(ROUNDS * 1000 + 600);
    await setRate(base, 0);
    const runtime = burstRates(
      await pool.receipts(),
      Math.round(waiting * (1 - (ROUNDS + 1) / 60)),
    );
    const joined = await pool.ask(
      pool.workers[0] as ChildProcess,
      { cmd: 'join-burst', count: joinBurst },
      'joined',
    );
    return {
      runtime,
      joins: {
        count: joined.count,
        perSecond: joined.count / ((joined.lastJoinedAt - joined.firstSentAt) / 1000),
      },
      memory: {
        baseMiB: base0 / 2 ** 20,
        withVisitorsMiB: withVisitors / 2 ** 20,
        bytesPerVisitor: (withVisitors - base0) / waiting,
      },
    };
  } finally {
    await pool.close().catch(() => {});
    const exited = server.exitCode === null ? once(server, 'exit') : Promise.resolve();
    server.kill('SIGTERM');
    await exited;
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  }
}

async function benchBare(waiting: number, messageBytes: number): Promise<FanoutFigures> {
  const server = fork(BARE_SCRIPT, [], { execArgv: ['--import', 'tsx'], cwd: ROOT });
  const port = await new Promise<number>((resolve) =>
    server.once('message', (m: { kind: string; port: number }) => resolve(m.port)),
  );
  const pool = new ClientPool(Math.max(1, Math.ceil(waiting / SOCKETS_PER_CLIENT)));
  try {
    await pool.open(`ws://127.0.0.1:${port}`, waiting, false);
    await pool.receipts();
    for (let round = 0; round < ROUNDS; round++) {
      server.send({ cmd: 'broadcast', bytes: messageBytes, round });
      await sleep(1000);
    }
    await sleep(600);
    return burstRates(await pool.receipts(), waiting);
  } finally {
    await pool.close().catch(() => {});
    server.kill('SIGTERM');
  }
}

/** Runs the socket benchmarks for one line length. */
export async function benchSockets(waiting: number, onDisk = false): Promise<SocketResult> {
  // The size of the runtime's position message for a visitor in the middle of this line.
  const messageBytes = JSON.stringify({
    type: 'position',
    position: Math.floor(waiting / 2),
    waiting,
    etaSeconds: Math.floor(waiting / 2),
  }).length;
  // Stay under the server's 20,000 open files: the line plus the join burst.
  const joinBurst = Math.min(5000, 19_500 - waiting);
  const runtime = await benchRuntime(waiting, joinBurst, onDisk);
  const bare = await benchBare(waiting, messageBytes);
  return {
    waiting,
    onDisk,
    runtime: runtime.runtime,
    bare,
    ratio: runtime.runtime.messagesPerSecond / bare.messagesPerSecond,
    joins: runtime.joins,
    memory: runtime.memory,
  };
}
