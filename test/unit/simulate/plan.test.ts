/** The plan of a run: reproducible from its seed, with exact shares. */
import { describe, expect, it } from 'vitest';
import { planVisitors } from '../../../tools/simulate/plan.ts';

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
});
