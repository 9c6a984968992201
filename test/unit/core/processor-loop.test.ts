import { describe, expect, it } from 'vitest';
import type { Lease } from '../../../functions/core/lease.ts';
import type { TickReport } from '../../../functions/core/processor.ts';
import {
  type ProcessorLoopOptions,
  runProcessorLoop,
} from '../../../functions/core/processor-loop.ts';
import { ManualClock } from '../../helpers/room-harness.ts';

/** One lease record shared by processors, with the conditional write's semantics. */
class LeaseTable {
  owner: string | null = null;
  expiresAt = 0;
  asleep = false;
  asleepAt: number | null = null;

  leaseFor(owner: string): Lease & { acquisitions: number[] } {
    const acquisitions: number[] = [];
    return {
      acquisitions,
      acquire: async (now, durationMs) => {
        if (this.owner !== null && this.owner !== owner && this.expiresAt >= now) return false;
        const grant = this.owner === owner ? 'renewed' : 'taken';
        this.owner = owner;
        this.expiresAt = now + durationMs;
        acquisitions.push(now);
        return grant;
      },
      release: async () => {
        if (this.owner === owner) this.expiresAt = 0;
      },
      setAsleep: async (asleep, now) => {
        if (this.owner !== owner) return null;
        this.asleep = asleep;
        this.asleepAt = asleep ? (this.asleepAt ?? now) : null;
        return this.asleepAt;
      },
    };
  }
}

function report(at: number): TickReport {
  return {
    at,
    config: { enabled: true, admitPerMinute: 60 },
    lineRead: false,
    numbered: 0,
    late: 0,
    settling: 0,
    changes: 0,
    admitted: [],
    abandoned: [],
    admissionsDelivered: 0,
    positionsSent: 0,
    opensSent: 0,
    prequeuesSent: 0,
    closedSent: 0,
    noticesSent: 0,
    draw: null,
    waiting: 0,
    idleSince: null,
  };
}

function setup(overrides: Partial<ProcessorLoopOptions> = {}) {
  const clock = new ManualClock();
  const start = clock.now();
  const table = new LeaseTable();
  const lease = table.leaseFor('me');
  const ticks: number[] = [];
  const errors: { error: unknown; during: string }[] = [];
  const options: ProcessorLoopOptions = {
    lease,
    clock,
    sleep: async (ms) => clock.advance(ms),
    tick: async () => {
      ticks.push(clock.now() - start);
      return report(clock.now());
    },
    tickMs: 1000,
    leaseMs: 15_000,
    deadline: start + 5000,
    onError: (error, during) => errors.push({ error, during }),
    ...overrides,
  };
  return { clock, start, table, lease, ticks, errors, options };
}

describe('processor loop', () => {
  it('ticks every tickMs while it holds the lease until the next tick would pass the deadline', async () => {
    // Prepare
    const { options, ticks } = setup();

    // Act
    const outcome = await runProcessorLoop(options);

    // Assess
    expect(ticks).toEqual([0, 1000, 2000, 3000, 4000]);
    expect(outcome).toEqual({
      ticks: 5,
      failedTicks: 0,
      held: true,
      ended: 'deadline',
      handedOff: false,
    });
  });

  it('records a clean stop before it releases the lease, after a tick that completed', async () => {
    // Prepare
    const stops: (string | null)[] = [];
    const { options, table } = setup({
      onCleanStop: async () => {
        stops.push(table.owner);
      },
    });

    // Act
    await runProcessorLoop(options);

    // Assess: once, while the lease was still this run's.
    expect(stops).toEqual(['me']);
  });

  it('records no clean stop when its last tick failed (arrivals may be in flight)', async () => {
    // Prepare
    const stops: number[] = [];
    const { options, clock, start } = setup({
      onCleanStop: async () => {
        stops.push(1);
      },
    });
    options.tick = async () => {
      if (clock.now() - start >= 4000) throw new Error('tick failed');
      return report(clock.now());
    };

    // Act
    const outcome = await runProcessorLoop(options);

    // Assess
    expect(outcome.failedTicks).toBe(1);
    expect(stops).toEqual([]);
  });

  it('renews the lease before every tick', async () => {
    // Prepare
    const { options, lease, start } = setup();

    // Act
    await runProcessorLoop(options);

    // Assess
    expect(lease.acquisitions.map((at) => at - start)).toEqual([0, 1000, 2000, 3000, 4000]);
  });

  it('releases the lease at the end, so the next run takes it at once', async () => {
    // Prepare
    const { options, table, clock } = setup();

    // Act
    await runProcessorLoop(options);
    const next = await table.leaseFor('next run').acquire(clock.now(), 15_000);

    // Assess
    expect(table.owner).toBe('next run');
    expect(next).toBe('taken');
  });

  it('keeps its pace when a tick takes part of the interval', async () => {
    // Prepare
    const setupResult = setup();
    const { clock, start, ticks } = setupResult;
    const options = {
      ...setupResult.options,
      tick: async () => {
        ticks.push(clock.now() - start);
        clock.advance(300);
        return report(clock.now());
      },
    };

    // Act
    await runProcessorLoop(options);

    // Assess
    expect(ticks).toEqual([0, 1000, 2000, 3000, 4000]);
  });

  it('stops at once, without releasing, when another processor took the lease over', async () => {
    // Prepare: a tick so slow that the lease lapses and another processor takes it.
    const setupResult = setup({ leaseMs: 1500 });
    const { table, clock, start, ticks } = setupResult;
    const options = {
      ...setupResult.options,
      tick: async () => {
        ticks.push(clock.now() - start);
        if (ticks.length === 2) {
          clock.advance(2000);
          await table.leaseFor('other').acquire(clock.now(), 15_000);
        }
        return report(clock.now());
      },
      deadline: start + 60_000,
    };

    // Act
    const outcome = await runProcessorLoop(options);

    // Assess
    expect(outcome).toEqual({
      ticks: 2,
      failedTicks: 0,
      held: true,
      ended: 'lease-lost',
      handedOff: false,
    });
    expect(table.owner).toBe('other');
  });

  it('waits for a lease held by another processor and takes it once that one lets go', async () => {
    // Prepare
    const { options, table, start, ticks } = setup();
    await table.leaseFor('previous run').acquire(start, 2500);

    // Act
    const outcome = await runProcessorLoop(options);

    // Assess
    expect(ticks).toEqual([3000, 4000]);
    expect(outcome).toMatchObject({ ticks: 2, held: true, ended: 'deadline', handedOff: false });
  });

  it('never ticks while another processor holds the lease to the end', async () => {
    // Prepare
    const { options, table, start, ticks } = setup();
    await table.leaseFor('other').acquire(start, 60_000);

    // Act
    const outcome = await runProcessorLoop(options);

    // Assess
    expect(ticks).toEqual([]);
    expect(outcome).toEqual({
      ticks: 0,
      failedTicks: 0,
      held: false,
      ended: 'deadline',
      handedOff: false,
    });
    expect(table.owner).toBe('other');
  });

  it('carries on after a failed tick and reports it', async () => {
    // Prepare
    const setupResult = setup();
    const { clock, start, ticks, errors } = setupResult;
    const options = {
      ...setupResult.options,
      tick: async () => {
        ticks.push(clock.now() - start);
        if (ticks.length === 2) throw new Error('store down');
        return report(clock.now());
      },
    };

    // Act
    const outcome = await runProcessorLoop(options);

    // Assess
    expect(outcome).toMatchObject({ ticks: 4, failedTicks: 1, ended: 'deadline' });
    expect(errors).toEqual([{ error: new Error('store down'), during: 'tick' }]);
  });

  it('skips a tick when renewing the lease fails, then goes on', async () => {
    // Prepare
    const setupResult = setup();
    const { lease, errors } = setupResult;
    let calls = 0;
    const flaky: Lease = {
      acquire: async (now, ms) => {
        calls += 1;
        if (calls === 2) throw new Error('throttled');
        return lease.acquire(now, ms);
      },
      release: () => lease.release(),
      setAsleep: (asleep, now) => lease.setAsleep(asleep, now),
    };

    // Act
    const outcome = await runProcessorLoop({ ...setupResult.options, lease: flaky });

    // Assess
    expect(setupResult.ticks).toEqual([0, 2000, 3000, 4000]);
    expect(outcome).toMatchObject({ ticks: 4, held: true, ended: 'deadline', handedOff: false });
    expect(errors).toEqual([{ error: new Error('throttled'), during: 'lease' }]);
  });

  it('does not even take the lease when the deadline has already passed', async () => {
    // Prepare
    const { options, start, table } = setup();

    // Act
    const outcome = await runProcessorLoop({ ...options, deadline: start - 1 });

    // Assess
    expect(outcome).toEqual({
      ticks: 0,
      failedTicks: 0,
      held: false,
      ended: 'deadline',
      handedOff: false,
    });
    expect(table.owner).toBeNull();
  });

  describe('sleeping with nobody in line', () => {
    /** A room idle since `idleSince` until `busyAt` (a visitor arrives then), if ever. */
    function idleRoom(clock: ManualClock, idleSince: number, busyAt = Number.POSITIVE_INFINITY) {
      return async () => ({
        ...report(clock.now()),
        idleSince: clock.now() >= busyAt ? null : idleSince,
        waiting: clock.now() >= busyAt ? 1 : 0,
      });
    }

    it('marks the processor asleep, confirms with one more tick, then lets the lease go', async () => {
      // Prepare: idle for 59 s when the run starts.
      const { options, table, clock, start } = setup({ deadline: Number.POSITIVE_INFINITY });
      const tick = idleRoom(clock, start - 59_000);
      const ticks: number[] = [];

      // Act
      const outcome = await runProcessorLoop({
        ...options,
        sleepAfterIdleMs: 60_000,
        tick: async () => {
          ticks.push(clock.now() - start);
          return tick();
        },
      });

      // Assess: awake at the first tick, asleep at the second (60 s idle), confirmed at once.
      expect(ticks).toEqual([0, 1000, 1000]);
      expect(outcome).toMatchObject({ ticks: 3, held: true, ended: 'asleep' });
      expect(table.asleep).toBe(true);
      expect(table.expiresAt).toBe(0);
    });

    it('runs the confirming tick only once an arrival queued before the mark can be read', async () => {
      // Prepare: idle for 59 s when the run starts; arrivals are read once 1 s old.
      const { options, clock, start } = setup({ deadline: Number.POSITIVE_INFINITY });
      const tick = idleRoom(clock, start - 59_000);
      const ticks: number[] = [];

      // Act
      const outcome = await runProcessorLoop({
        ...options,
        sleepAfterIdleMs: 60_000,
        confirmSleepAfterMs: 1000,
        tick: async () => {
          ticks.push(clock.now() - start);
          return tick();
        },
      });

      // Assess: marked asleep after the tick at 1 s, confirmed a settle time later.
      expect(ticks).toEqual([0, 1000, 2000]);
      expect(outcome).toMatchObject({ ticks: 3, ended: 'asleep' });
    });

    it('ends after one tick when the room was asleep long enough before it looked (the watchdog)', async () => {
      // Prepare: marked asleep 5 s before this run; arrivals are read once they are 1 s old and
      // a join trusts a read of the mark for 1 s, so the first tick saw everything.
      const { options, table, clock, start } = setup({ deadline: Number.POSITIVE_INFINITY });
      table.asleep = true;
      table.asleepAt = start - 5000;
      const ticks: number[] = [];

      // Act
      const outcome = await runProcessorLoop({
        ...options,
        sleepAfterIdleMs: 60_000,
        confirmSleepAfterMs: 2000,
        tick: async () => {
          ticks.push(clock.now() - start);
          return { ...report(clock.now()), idleSince: start - 3_600_000 };
        },
      });

      // Assess
      expect(ticks).toEqual([0]);
      expect(outcome).toMatchObject({ ticks: 1, ended: 'asleep' });
      expect(table).toMatchObject({ asleep: true, asleepAt: start - 5000, expiresAt: 0 });
    });

    it('confirms with a second tick when the room went to sleep too shortly before it looked', async () => {
      // Prepare: marked asleep 1.5 s before this run: a join may have logged its arrival after
      // the first tick's horizon without waking anyone.
      const { options, table, clock, start } = setup({ deadline: Number.POSITIVE_INFINITY });
      table.asleep = true;
      table.asleepAt = start - 1500;
      const ticks: number[] = [];

      // Act
      const outcome = await runProcessorLoop({
        ...options,
        sleepAfterIdleMs: 60_000,
        confirmSleepAfterMs: 2000,
        tick: async () => {
          ticks.push(clock.now() - start);
          return { ...report(clock.now()), idleSince: start - 3_600_000 };
        },
      });

      // Assess
      expect(ticks).toEqual([0, 2000]);
      expect(outcome).toMatchObject({ ticks: 2, ended: 'asleep' });
    });

    it('stays awake, and says so, when the confirming tick finds a visitor', async () => {
      // Prepare: long idle; the first visitor arrives just as the processor marks itself asleep.
      const { options, table, clock, start } = setup({ deadline: 0 });
      const marks: boolean[] = [];
      const lease = table.leaseFor('me');
      const watched: Lease = {
        ...lease,
        setAsleep: async (asleep, now) => {
          marks.push(asleep);
          if (asleep) clock.advance(1);
          return lease.setAsleep(asleep, now);
        },
      };

      // Act
      const outcome = await runProcessorLoop({
        ...options,
        lease: watched,
        deadline: start + 3000,
        sleepAfterIdleMs: 60_000,
        tick: idleRoom(clock, start - 3_600_000, start + 1),
      });

      // Assess
      expect(marks).toEqual([true, false]);
      expect(outcome).toMatchObject({ ended: 'deadline' });
      expect(table.asleep).toBe(false);
    });

    it('marks a room found busy awake once, whatever an earlier run left', async () => {
      // Prepare: an earlier run went to sleep; a visitor woke this one.
      const { options, table, start } = setup();
      table.asleep = true;

      // Act
      await runProcessorLoop({
        ...options,
        sleepAfterIdleMs: 60_000,
        tick: async () => ({ ...report(start), waiting: 3 }),
      });

      // Assess
      expect(table.asleep).toBe(false);
    });

    it('keeps its pace when the awake mark cannot be written, and tries again next tick', async () => {
      // Prepare: marked asleep, then the confirming tick finds a visitor; marking awake fails
      // twice.
      const { options, table, clock, start } = setup({ deadline: 0 });
      const lease = table.leaseFor('me');
      let failures = 2;
      const flaky: Lease = {
        ...lease,
        setAsleep: async (asleep, now) => {
          if (!asleep && failures-- > 0) throw new Error('throttled');
          if (asleep) clock.advance(1);
          return lease.setAsleep(asleep, now);
        },
      };
      const ticks: number[] = [];
      const busy = idleRoom(clock, start - 3_600_000, start + 1);

      // Act
      const outcome = await runProcessorLoop({
        ...options,
        lease: flaky,
        deadline: start + 5000,
        sleepAfterIdleMs: 60_000,
        tick: async () => {
          ticks.push(clock.now() - start);
          return busy();
        },
      });

      // Assess: one tick a second after the confirming one; awake in the end.
      expect(ticks).toEqual([0, 1, 1000, 2000, 3000, 4000]);
      expect(outcome).toMatchObject({ ended: 'deadline' });
      expect(table.asleep).toBe(false);
    });

    it('does not sleep right after a failed tick (it may have taken an arrival it lost)', async () => {
      // Prepare: long idle; the first tick fails.
      const { options, clock, start } = setup({ deadline: 0 });
      const idle = idleRoom(clock, start - 3_600_000);
      let calls = 0;

      // Act
      const outcome = await runProcessorLoop({
        ...options,
        deadline: start + 5000,
        sleepAfterIdleMs: 60_000,
        tick: async () => {
          calls += 1;
          if (calls === 1) throw new Error('queue down');
          return idle();
        },
      });

      // Assess: still awake a minute's grace later (the deadline came first).
      expect(outcome).toMatchObject({ ended: 'deadline', failedTicks: 1 });
    });

    it('never sleeps without sleepAfterIdleMs (the local runtime)', async () => {
      // Prepare
      const { options, clock, start } = setup();

      // Act
      const outcome = await runProcessorLoop({
        ...options,
        tick: idleRoom(clock, start - 3_600_000),
      });

      // Assess
      expect(outcome).toMatchObject({ ticks: 5, ended: 'deadline' });
    });
  });

  it('gives up on a lease held by another processor once waitForLeaseMs has passed', async () => {
    // Prepare: a scheduled run while another runs for minutes.
    const { options, table, start, ticks } = setup({ deadline: start0() + 900_000 });
    await table.leaseFor('other').acquire(start, 600_000);

    // Act
    const outcome = await runProcessorLoop({ ...options, waitForLeaseMs: 0 });

    // Assess
    expect(ticks).toEqual([]);
    expect(outcome).toMatchObject({ ticks: 0, held: false, ended: 'lease-held' });
    expect(table.owner).toBe('other');
  });

  it('tries to start its successor again at the next tick when starting it failed', async () => {
    // Prepare
    const { options, clock, start } = setup({ deadline: start0() + 10_000 });
    const attempts: number[] = [];

    // Act
    const outcome = await runProcessorLoop({
      ...options,
      handoff: {
        leadMs: 3000,
        start: async () => {
          attempts.push(clock.now() - start);
          if (attempts.length === 1) throw new Error('throttled');
        },
      },
    });

    // Assess
    expect(attempts).toEqual([7000, 8000]);
    expect(outcome).toMatchObject({ handedOff: true });
  });

  it('marks itself asleep when it ends without a successor, so that the next join wakes one', async () => {
    // Prepare
    const { options, table } = setup({ deadline: start0() + 5000 });

    // Act
    const outcome = await runProcessorLoop({
      ...options,
      handoff: {
        leadMs: 3000,
        start: async () => {
          throw new Error('Lambda is down');
        },
      },
    });

    // Assess
    expect(outcome).toMatchObject({ ended: 'deadline', handedOff: false });
    expect(table.asleep).toBe(true);
  });

  it('starts its successor once, leadMs before the deadline, which takes over when it lets go', async () => {
    // Prepare
    const { options, table, clock, start } = setup({ deadline: start0() + 10_000 });
    const successorStarted: number[] = [];

    // Act
    const outcome = await runProcessorLoop({
      ...options,
      handoff: {
        leadMs: 3000,
        start: async () => {
          successorStarted.push(clock.now() - start);
        },
      },
    });
    const successor = await runProcessorLoop({
      ...options,
      lease: table.leaseFor('successor'),
      deadline: clock.now() + 2000,
    });

    // Assess
    expect(successorStarted).toEqual([7000]);
    expect(outcome).toMatchObject({ ticks: 10, ended: 'deadline', handedOff: true });
    expect(successor).toMatchObject({ held: true, ticks: 2 });
  });
});

/** The manual clock's starting time (every ManualClock starts there). */
function start0(): number {
  return new ManualClock().now();
}
