/**
 * `npm start` with its room on disk (`WR_DATA_DIR`), SIGKILLed and started again on the same
 * directory: the line comes back as it was, from what the visitors saw. Five visitors keep
 * their positions exactly; the operator's live settings survive; and sixty visitors joining,
 * waiting, reloading and being admitted through three to five kills at random moments (seeded:
 * the seed is printed, `CRASH_SEED=<seed>` replays the same plan) find every invariant of the
 * load simulator holding: FIFO, positions that never rise, one pass each (the same one on a
 * resume), nobody who was told `joined` lost, and every pass verifying against the JWKS.
 */
import { randomInt } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalJWKSet, type JSONWebKeySet, jwtVerify } from 'jose';
import { afterEach, describe, expect, it, onTestFailed } from 'vitest';
import { adminFetch } from '../../local/admin-secret.ts';
import { JWKS_PATH, type RoomStatus } from '../../local/front.ts';
import { runRoomCli } from '../../tools/room.ts';
import type { TraceEvent } from '../../tools/simulate/events.ts';
import {
  checkInvariants,
  DEFAULT_SETTLE_MARGIN_MS,
  DEFAULT_STALE_AFTER_MS,
  summarize,
} from '../../tools/simulate/invariants.ts';
import { checkAllPasses, fetchJwks } from '../../tools/simulate/passes.ts';
import {
  CrashVisitor,
  now,
  RoomProcess,
  roomPort,
  seededRandom,
} from '../helpers/crash-visitors.ts';
import { neverRises, WsVisitor } from '../helpers/ws-visitor.ts';

let room: RoomProcess | undefined;
let dataDir: string | undefined;
const sockets: WsVisitor[] = [];
const crowd: CrashVisitor[] = [];
const timers: NodeJS.Timeout[] = [];

afterEach(async () => {
  for (const timer of timers.splice(0)) clearTimeout(timer);
  for (const visitor of crowd.splice(0)) visitor.stop();
  await Promise.all(sockets.splice(0).map((v) => v.close()));
  await room?.kill();
  room = undefined;
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
  dataDir = undefined;
});

const KILL_MOMENTS = ['any', 'join', 'admitted'] as const;
type KillMoment = (typeof KILL_MOMENTS)[number];

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** `npm start` on a fresh data directory, as every run of the test starts it. */
async function startRoom(env: Record<string, string>): Promise<RoomProcess> {
  dataDir = await mkdtemp(join(tmpdir(), 'crash-restart-'));
  const started = new RoomProcess(await roomPort(), dataDir, {
    WR_TICK_MS: '200',
    WR_ABANDON_AFTER_SECONDS: '600',
    ...env,
  });
  room = started;
  onTestFailed(() => {
    console.error(`[crash-restart] last lines of the room:\n${started.tail(60)}`);
  });
  await started.start();
  return started;
}

/** SIGKILL, then the same command on the same port and directory. */
async function killAndRestart(r: RoomProcess): Promise<void> {
  await r.kill();
  await r.start();
}

async function statusOf(r: RoomProcess): Promise<RoomStatus> {
  const response = await adminFetch(r.url, 'status', {}, r.dataDir);
  return (await response.json()) as RoomStatus;
}

/** `npm run room -- <words>` against the room. */
async function roomCli(r: RoomProcess, ...words: string[]) {
  let out = '';
  let err = '';
  const code = await runRoomCli([...words, '--url', r.url, '--data-dir', r.dataDir], {
    out: (text) => {
      out += text;
    },
    err: (text) => {
      err += text;
    },
  });
  return { code, out, err };
}

/** Resolves with `promise`, or with `fallback` after `ms`. */
async function within<T, F>(ms: number, promise: Promise<T>, fallback: F): Promise<T | F> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<F>((resolve) => {
    timer = setTimeout(() => resolve(fallback), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

describe('npm start with the room on disk, across SIGKILLs', () => {
  it('tells five waiting visitors the same positions 1 to 5, in the same order, after a SIGKILL and a restart', async () => {
    // Prepare: admission paused, five visitors in line, one after another.
    const r = await startRoom({ WR_ADMIT_PER_MINUTE: '0' });
    const line: { visitor: WsVisitor; ticket: string; sessionId: string }[] = [];
    for (let i = 0; i < 5; i++) {
      const visitor = await WsVisitor.connect(r.wsUrl);
      sockets.push(visitor);
      visitor.send({ action: 'join' });
      const { ticket, sessionId } = await visitor.next('joined');
      line.push({ visitor, ticket, sessionId });
    }
    await Promise.all(
      line.map(({ visitor }, i) =>
        visitor.next('position', { since: 0, where: (m) => m.position === i + 1 }),
      ),
    );
    const toldBefore = line.map(({ visitor }) => visitor.positions().at(-1));

    // Act: the process dies without a word; the same command on the same directory; everyone
    // comes back with the ticket, the last in line first.
    await killAndRestart(r);
    const toldAfter: { sessionId: string; position: number; waiting: number }[] = [];
    for (const i of [4, 3, 2, 1, 0]) {
      const visitor = await WsVisitor.connect(r.wsUrl);
      sockets.push(visitor);
      visitor.send({ action: 'resume', ticket: line[i]?.ticket });
      const { sessionId } = await visitor.next('joined');
      const { position, waiting } = await visitor.next('position');
      toldAfter[i] = { sessionId, position, waiting };
    }
    const status = await statusOf(r);

    // Assess
    expect(toldBefore).toEqual([1, 2, 3, 4, 5]);
    expect(toldAfter).toEqual(
      line.map(({ sessionId }, i) => ({ sessionId, position: i + 1, waiting: 5 })),
    );
    expect(sockets.every((visitor) => neverRises(visitor.positions()))).toBe(true);
    expect(status).toMatchObject({ admitPerMinute: 0, waiting: 5, arriving: 0, admittedTotal: 0 });
  });

  it('keeps the settings changed with npm run room across SIGKILLs, whatever the environment of the restart says', async () => {
    // Prepare: every start says 600 a minute and on.
    const r = await startRoom({ WR_ADMIT_PER_MINUTE: '600', WR_ENABLED: 'true' });

    // Act: pause admission, kill, restart; then a visitor joins.
    const paused = await roomCli(r, 'rate', '0');
    await killAndRestart(r);
    const afterPause = await statusOf(r);
    const visitor = await WsVisitor.connect(r.wsUrl);
    sockets.push(visitor);
    visitor.send({ action: 'join' });
    await visitor.next('joined');
    const waitingPosition = await visitor.next('position');
    // Another rate and the room off, kill, restart.
    const changed = [await roomCli(r, 'rate', '120'), await roomCli(r, 'off')];
    await killAndRestart(r);
    const afterChange = await roomCli(r, 'status');

    // Assess
    expect(paused).toMatchObject({ code: 0, err: '' });
    expect(paused.out).toContain('rate         0 per minute (admission paused)');
    expect(afterPause).toMatchObject({ enabled: true, admitPerMinute: 0 });
    // Paused, as the visitor sees it: in line with no estimate.
    expect(waitingPosition).toMatchObject({ position: 1, etaSeconds: null });
    expect(changed.map((c) => c.code)).toEqual([0, 0]);
    expect(afterChange.code).toBe(0);
    expect(afterChange.out).toContain('room         OFF (everyone goes straight in)');
    expect(afterChange.out).toContain('rate         120 per minute');
  });

  it('admits 60 visitors in FIFO order through 3 to 5 SIGKILLs at random moments: positions never rise, one pass each, nobody told joined is lost, every pass verifies', async () => {
    // Prepare: the plan, all drawn from the seed before anything runs.
    const seed = Number(process.env.CRASH_SEED) || randomInt(1, 2 ** 31 - 1);
    console.info(
      `[crash-restart] seed ${seed} (replay: CRASH_SEED=${seed} npx vitest run test/integration/crash-restart.test.ts)`,
    );
    const random = seededRandom(seed);
    const between = (low: number, high: number) => low + Math.floor(random() * (high - low + 1));
    const VISITORS = 60;
    // A few arrive every 100 ms.
    const arrivals: number[] = [];
    for (let at = 0; arrivals.length < VISITORS; at += 100) {
      for (let n = between(1, 3); n > 0 && arrivals.length < VISITORS; n--) arrivals.push(at);
    }
    const reloading = new Set<number>();
    while (reloading.size < 12) reloading.add(between(0, VISITORS - 1));
    // Each kill comes after a while up, at any moment or right as a visitor sends `join` or is
    // told `admitted` (the windows where a commit and a message race), then a while down.
    const kills = Array.from({ length: between(3, 5) }, () => ({
      upMs: between(300, 1500),
      moment: KILL_MOMENTS[between(0, KILL_MOMENTS.length - 1)] as KillMoment,
      downMs: between(0, 400),
    }));
    let armed: { moment: KillMoment; fire: () => void } | null = null;
    const onEvent = (_: CrashVisitor, event: TraceEvent) => {
      if (
        armed &&
        ((armed.moment === 'join' && event.k === 'send' && event.action === 'join') ||
          (armed.moment === 'admitted' && event.k === 'admitted'))
      ) {
        const { fire } = armed;
        armed = null;
        fire();
      }
    };
    const r = await startRoom({ WR_ADMIT_PER_MINUTE: '600' });
    const keysAtStart = await fetchJwks(`${r.url}${JWKS_PATH}`);
    const visitors = arrivals.map(
      (_, index) =>
        new CrashVisitor({
          url: r.wsUrl,
          index,
          reconnectMs: 200,
          answerTimeoutMs: 5000,
          reload: reloading.has(index)
            ? { afterJoinedMs: between(100, 800), pauseMs: between(100, 400) }
            : null,
          onEvent,
        }),
    );
    crowd.push(...visitors);

    // Act: the crowd streams in while the room is killed and restarted again and again.
    const startedAt = now();
    arrivals.forEach((at, i) => {
      timers.push(setTimeout(() => visitors[i]?.start(), at));
    });
    const killLog: {
      at: number;
      moment: KillMoment | 'any (no such moment came)';
      waiting: number;
      admitted: number;
      downMs: number;
    }[] = [];
    for (const kill of kills) {
      await sleep(kill.upMs);
      let killed!: { at: number; waiting: number; admitted: number; gone: Promise<void> };
      // The SIGKILL goes out synchronously, inside the visitor's event.
      const killNow = () => {
        killed = {
          at: now(),
          waiting: visitors.filter((v) => v.phase === 'waiting').length,
          admitted: visitors.filter((v) => v.pass !== null).length,
          gone: r.kill(),
        };
      };
      let moment: (typeof killLog)[number]['moment'] = kill.moment;
      if (kill.moment === 'any') {
        killNow();
      } else {
        const fired = await within(
          1500,
          new Promise<true>((resolve) => {
            armed = {
              moment: kill.moment,
              fire: () => {
                killNow();
                resolve(true);
              },
            };
          }),
          false,
        );
        armed = null;
        if (!fired) {
          moment = 'any (no such moment came)';
          killNow();
        }
      }
      await killed.gone;
      await sleep(kill.downMs);
      await r.start();
      const { at, waiting, admitted } = killed;
      killLog.push({ at, moment, waiting, admitted, downMs: Math.round(now() - at) });
    }
    const lastKillAt = killLog.at(-1)?.at ?? startedAt;
    // After the last restart, everyone gets in (60 at 10 a second: 6 s, and far less left).
    await within(45_000, Promise.all(visitors.map((v) => v.settled)), null);
    const admittedAt = now();
    // Ten admitted visitors come back with their ticket: those admitted before the last kill
    // first, so the pass they get back is one the killed process issued.
    const admitted = visitors.filter((v) => v.phase === 'admitted');
    const earlyFirst = [
      ...admitted.filter((v) => (v.admittedAt as number) < lastKillAt),
      ...admitted.filter((v) => (v.admittedAt as number) >= lastKillAt),
    ];
    const rechecked = await Promise.all(
      earlyFirst.slice(0, 10).map(async (visitor) => ({
        visitor,
        pass: await within(10_000, visitor.recheck(), 'no answer'),
      })),
    );
    const stopAt = now();
    for (const visitor of visitors) visitor.stop();
    const jwks = await fetchJwks(`${r.url}${JWKS_PATH}`);

    // Assess: the simulator's invariant checks over what the visitors saw.
    const summaries = visitors.map((v) =>
      summarize(v.trace, { stopAt, graceMs: 600_000, staleAfterMs: DEFAULT_STALE_AFTER_MS }),
    );
    const passChecks = await checkAllPasses(summaries, jwks);
    const report = checkInvariants(summaries, {
      stopAt,
      passChecks,
      settleMarginMs: DEFAULT_SETTLE_MARGIN_MS,
      maxExamples: 10,
    });
    const passesBeforeLastKill = admitted.filter((v) => (v.admittedAt as number) < lastKillAt);
    const resumedAfterKill = summaries.filter((s) => s.disconnectedWhileWaiting).length;
    console.info(
      [
        `[crash-restart] seed ${seed}: ${kills.length} SIGKILLs in ${((lastKillAt - startedAt) / 1000).toFixed(1)} s, all admitted ${((admittedAt - startedAt) / 1000).toFixed(1)} s after the start`,
        ...killLog.map(
          (k, i) =>
            `  kill ${i + 1} at ${((k.at - startedAt) / 1000).toFixed(2)} s (${k.moment}): ${k.waiting} waiting, ${k.admitted} admitted; back after ${k.downMs} ms`,
        ),
        `  ${admitted.length}/${VISITORS} admitted, ${passesBeforeLastKill.length} before the last kill; ${resumedAfterKill} resumed after losing their socket in line; ${visitors.reduce((n, v) => n + v.reloads, 0)} reloads on purpose`,
        `  joins sent but never confirmed (socket killed before joined; joined again): ${visitors.reduce((n, v) => n + v.unconfirmedJoins, 0)}`,
        `  admitted received out of join order (warning only): ${report.receiptOrderWarnings} (max ${report.receiptOrderMaxMs} ms)`,
        ...r.output.filter((line) => line.includes('restored')).map((line) => `  ${line}`),
      ].join('\n'),
    );
    expect(report.results.filter((result) => !result.ok)).toEqual([]);
    // Invariant 4, strictly: every visitor got its place and nobody lost it, so all got in.
    expect(
      summaries
        .filter((s) => s.outcome !== 'admitted')
        .map((s) => `${s.name}: ${s.outcome} ${s.lostReason ?? ''}`),
    ).toEqual([]);
    // Invariant 3: the same pass back on a resume after admission, for ten of them.
    expect(rechecked).toHaveLength(10);
    expect(
      rechecked
        .filter(({ visitor, pass }) => pass !== visitor.pass)
        .map(({ visitor }) => visitor.index),
    ).toEqual([]);
    expect(summaries.filter((s) => s.recheck === 'same')).toHaveLength(10);
    // Invariant 5: the key came back from the directory, so passes issued by a killed process
    // verify against the JWKS the last one serves (also with jose alone).
    expect(jwks.keys.map((k) => k.kid)).toEqual(keysAtStart.keys.map((k) => k.kid));
    expect(passesBeforeLastKill.length).toBeGreaterThan(0);
    const keySet = createLocalJWKSet(jwks as JSONWebKeySet);
    const verified = await Promise.all(
      passesBeforeLastKill.map((v) =>
        jwtVerify(v.pass as string, keySet, { issuer: 'waiting-room', audience: r.url }).then(
          ({ payload }) => payload.sub === v.sessionId,
          () => false,
        ),
      ),
    );
    expect(verified.every(Boolean)).toBe(true);
    // The scenario did what it says: kills hit visitors in line, and some reloaded on purpose.
    expect(killLog).toHaveLength(kills.length);
    expect(killLog.some((k) => k.waiting > 0)).toBe(true);
    expect(visitors.some((v) => v.reloads > 0)).toBe(true);
  }, 120_000);
});
