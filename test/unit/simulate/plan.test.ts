/** The plan of a run: reproducible from its seed, with exact shares. */
import { describe, expect, it } from 'vitest';
import { arrivalMs, planVisitors } from '../../../tools/simulate/plan.ts';

const OPTIONS = { users: 1000, rampSeconds: 10, churn: 0.2, abandon: 0.05, recheck: 0.1, seed: 42 };

describe('the plan of a run', () => {
  it('spreads arrivals uniformly over the ramp, each with its own return path', () => {
    // Act
    const plans = planVisitors(OPTIONS);

    // Assess
    expect(plans[0]?.startMs).toBe(0);
    expect(plans[500]?.startMs).toBe(5000);
    expect(plans[999]?.startMs).toBeLessThan(10_000);
    expect(new Set(plans.map((p) => p.returnPath)).size).toBe(1000);
    expect(plans[17]?.returnPath).toBe('/sim/17');
  });

  it('picks exactly the planned shares, abandoning and churning visitors apart', () => {
    // Act
    const plans = planVisitors(OPTIONS);

    // Assess
    expect(plans.filter((p) => p.churn).length).toBe(200);
    expect(plans.filter((p) => p.abandon).length).toBe(50);
    expect(plans.filter((p) => p.churn && p.abandon)).toEqual([]);
    expect(plans.filter((p) => p.recheck && p.abandon)).toEqual([]);
    for (const p of plans) {
      if (p.churn) {
        expect(p.churn.pauseMs).toBeGreaterThanOrEqual(200);
        expect(p.churn.pauseMs).toBeLessThanOrEqual(3000);
      }
    }
  });

  it('plans the same run from the same seed, and another from another', () => {
    expect(planVisitors(OPTIONS)).toEqual(planVisitors(OPTIONS));
    expect(planVisitors({ ...OPTIONS, seed: 43 })).not.toEqual(planVisitors(OPTIONS));
  });

  it('hands out source addresses in turn', () => {
    // Act
    const plans = planVisitors({ ...OPTIONS, users: 4 }, ['127.0.0.2', '127.0.0.3']);

    // Assess
    expect(plans.map((p) => p.localAddress)).toEqual([
      '127.0.0.2',
      '127.0.0.3',
      '127.0.0.2',
      '127.0.0.3',
    ]);
  });

  it('plays a burst: the first B visitors all at the start, the rest evenly over the ramp after them', () => {
    // Act: 1,000 visitors, 200 at once, the other 800 over 8 s.
    const plans = planVisitors({ ...OPTIONS, rampSeconds: 8, burst: 200 });

    // Assess
    const starts = plans.map((p) => p.startMs);
    expect(starts.slice(0, 200).every((t) => t === 0)).toBe(true);
    expect(starts[200]).toBe(10);
    expect(starts[599]).toBe(4000);
    expect(starts[999]).toBe(8000);
    // One after another after the burst, evenly spaced.
    const gaps = starts.slice(201).map((t, i) => t - (starts[200 + i] as number));
    expect(Math.min(...gaps)).toBeCloseTo(10, 9);
    expect(Math.max(...gaps)).toBeCloseTo(10, 9);
  });

  it('plans everyone at once for a burst of all the visitors, whatever the ramp', () => {
    // Act
    const plans = planVisitors({ ...OPTIONS, users: 50, burst: 50 });

    // Assess
    expect(plans.map((p) => p.startMs)).toEqual(new Array(50).fill(0));
  });

  it('draws who churns, abandons and rechecks the same with or without a burst', () => {
    // Act
    const plain = planVisitors(OPTIONS);
    const burst = planVisitors({ ...OPTIONS, burst: 300 });
    const none = planVisitors({ ...OPTIONS, burst: 0 });

    // Assess: only the arrivals differ, and a burst of 0 is no burst at all.
    const withoutStart = (plans: typeof plain) => plans.map(({ startMs: _, ...rest }) => rest);
    expect(withoutStart(burst)).toEqual(withoutStart(plain));
    expect(none).toEqual(plain);
  });

  it('spaces arrivals as before without a burst', () => {
    expect([0, 1, 999].map((i) => arrivalMs(i, 1000, 0, 10))).toEqual([0, 10, 9990]);
    expect(arrivalMs(0, 1, 0, 10)).toBe(0);
    expect([0, 4, 5, 9].map((i) => arrivalMs(i, 10, 5, 5))).toEqual([0, 0, 1000, 5000]);
  });
});
