/**
 * The config the Lambda@Edge gate runs with.
 *
 * In the repository this module reads `gate-config.example.json`, so the entry point type-checks
 * and runs in tests. The deploy never edits this file: `buildViewerRequest` in `./build.ts` (which
 * the CDK app calls) swaps that JSON import for the deploy's own config while bundling, so the
 * bundle carries the deploy's config and the source tree stays clean. The config is validated at
 * build time and once more here, at cold start.
 *
 * The example has the same-origin form the CDK app bakes: no origin and no key in it, the
 * waiting-room page, the flag and the key set as paths on the main site (see ./edge-config.ts).
 */

import { type EdgeConfig, parseEdgeConfig } from './edge-config.ts';
import example from './gate-config.example.json' with { type: 'json' };

/** The specifier that `./build.ts` replaces with the deploy's config; keep it in sync with the import above. */
export const BAKED_CONFIG_SPECIFIER = './gate-config.example.json';

export const bakedConfig: EdgeConfig = parseEdgeConfig(example);
