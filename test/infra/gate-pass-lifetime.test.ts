/**
 * The pass lifetime the gate enforces comes from the same CDK setting the functions sign passes
 * with: a deploy with `-c passTtlSeconds=300` bakes 300 into the Lambda@Edge bundle and gives 300
 * to the message and processor functions. Only the gate's stack is bundled.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { STACK_IDS } from '../../cdk/compose.ts';
import { Env } from '../../functions/env.ts';
import { type SynthesizedApp, synthApp } from './synth.ts';

let synthesized: SynthesizedApp;

beforeAll(() => {
  // A string, as `cdk deploy -c passTtlSeconds=300` gives it.
  synthesized = synthApp({
    passTtlSeconds: '300',
    'aws:cdk:bundling-stacks': [STACK_IDS.gate],
  });
}, 180_000);

/** Contents of the gate bundles among the synthesized assets. */
function gateBundles(): string[] {
  const outdir = synthesized.app.outdir;
  return readdirSync(outdir)
    .filter((entry) => entry.startsWith('asset.') && statSync(join(outdir, entry)).isDirectory())
    .flatMap((entry) =>
      readdirSync(join(outdir, entry))
        .filter((file) => file === 'viewer-request.mjs')
        .map((file) => readFileSync(join(outdir, entry, file), 'utf8')),
    );
}

/** `WR_PASS_TTL_SECONDS` of every function of the room stack that has it, by logical id. */
function functionLifetimes(): Record<string, unknown> {
  const functions = Template.fromStack(synthesized.room).findResources('AWS::Lambda::Function');
  return Object.fromEntries(
    Object.entries(functions)
      .map(([id, f]) => [
        id.replace(/Function[0-9A-F]{8}$/, ''),
        f.Properties.Environment?.Variables,
      ])
      .filter(([, variables]) => variables?.[Env.passTtlSeconds] !== undefined)
      .map(([id, variables]) => [id, variables[Env.passTtlSeconds]]),
  );
}

describe('a deploy with passTtlSeconds=300', () => {
  it('bakes 300 into the gate bundle', () => {
    const bundles = gateBundles();

    expect(bundles).toHaveLength(1);
    expect(bundles[0]).toMatch(/passTtlSeconds:300[,}]/);
    expect(bundles[0]).not.toMatch(/passTtlSeconds:1200/);
  });

  it('validates it into the config the gate construct bakes', () => {
    expect(synthesized.room.gate.config.gate.passTtlSeconds).toBe(300);
  });

  it('has the message and processor functions sign passes for the same 300 seconds, and the key rotation keep retired keys for them', () => {
    expect(functionLifetimes()).toEqual({
      Message: '300',
      Processor: '300',
      SigningKeyRotation: '300',
    });
  });
});
