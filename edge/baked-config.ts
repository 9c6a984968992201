/**
 * The config the Lambda@Edge gate runs with.
 *
 * In the repository this module reads `gate-config.example.json`, so the entry point type-checks
 * and runs in tests. The deploy never edits this file: `buildViewerRequest` in `./build.ts` (which
 * the CDK app calls) swaps that JSON import for the deploy's own config while bundling, so the
 * bundle carries the real room id, origins, public keys and flag URL, and the source tree stays
 * clean. The config is validated at build time and once more here, at cold start.
 */

import { type EdgeConfig, parseEdgeConfig } from './edge-config.ts';
import example from './gate-config.example.json' with { type: 'json' };

/** The specifier that `./build.ts` replaces with the deploy's config; keep it in sync with the import above. */
export const BAKED_CONFIG_SPECIFIER = './gate-config.example.json';

export const bakedConfig: EdgeConfig = parseEdgeConfig(example);
