/**
 * Synthesizes the CDK app for the infra tests exactly as `cdk/app.ts` does (same composition,
 * same cdk.json context), with a few context values of the test's own and the built page
 * replaced by a small fixture, so the tests need no `npm run build`.
 */
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, type Stack } from 'aws-cdk-lib';
import { composeApp, STACK_IDS, type WaitingRoomApp } from '../../cdk/compose.ts';
import { type PublicJwk, publicJwkOf } from '../../cdk/custom-resources/public-jwk.ts';
import { REPO_ROOT, ROOM_FUNCTION_ENTRIES, type RoomFunctionName } from '../../cdk/paths.ts';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

export interface SynthesizedApp extends WaitingRoomApp {
  app: App;
  /** The us-east-1 stack of the gate, when the gate is built. */
  gate: Stack | undefined;
}

/** A fresh public JWK, as the first deploy would print it. */
export function testPublicJwk(): PublicJwk {
  return publicJwkOf(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
}

/** The real entry points; a stub for any that does not exist yet. */
function entries(): Record<RoomFunctionName, string> {
  const stub = join(FIXTURES, 'stub-handler.ts');
  return Object.fromEntries(
    Object.entries(ROOM_FUNCTION_ENTRIES).map(([name, entry]) => [
      name,
      existsSync(entry) ? entry : stub,
    ]),
  ) as Record<RoomFunctionName, string>;
}

/**
 * Builds the app with cdk.json's context plus `context`. `bundle: false` skips asset bundling
 * (esbuild and the gate build), for tests that only read the templates' shape.
 */
export function synthApp(
  context: Record<string, unknown>,
  options: { bundle?: boolean } = {},
): SynthesizedApp {
  const cdkJson = JSON.parse(readFileSync(join(REPO_ROOT, 'cdk.json'), 'utf8')) as {
    context: Record<string, unknown>;
  };
  const app = new App({
    outdir: mkdtempSync(join(tmpdir(), 'wr-cdk-test-')),
    context: {
      ...cdkJson.context,
      ...context,
      ...(options.bundle === false ? { 'aws:cdk:bundling-stacks': [] } : {}),
    },
  });
  const composed = composeApp(app, {
    entries: entries(),
    clientDist: join(FIXTURES, 'client-dist'),
  });
  const gate = app.node.tryFindChild(STACK_IDS.gate) as Stack | undefined;
  return { ...composed, app, gate };
}
