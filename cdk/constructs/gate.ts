/**
 * The gate: edge/viewer-request.ts as a Lambda@Edge function in us-east-1 (its own stack, made by
 * `cloudfront.experimental.EdgeFunction`), bundled at synth time by edge/build.ts with this
 * deploy's config baked in, because Lambda@Edge has no environment variables. The stack bakes the
 * same-origin config (edge/edge-config.ts), which holds nothing a deploy makes, so the bundle
 * can be built before the distribution and the key exist.
 *
 * The bundle is made by CDK's local asset bundling calling edge/build.ts's command line (which
 * runs `buildViewerRequest`): the bundler is synchronous there, and CDK skips it for stacks that
 * a command does not touch.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AssetHashType, DockerImage, Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { VIEWER_REQUEST_HANDLER } from '../../edge/build.ts';
import { type EdgeConfig, parseEdgeConfig } from '../../edge/edge-config.ts';
import { REPO_ROOT } from '../paths.ts';
import { acknowledge } from './nag.ts';
import { FUNCTION_RUNTIME } from './waiting-room-function.ts';

export interface GateProps {
  /** The config to bake in (validated here, at synth). */
  config: EdgeConfig;
  /** Id (and name) of the us-east-1 stack that holds the function. */
  stackId: string;
}

export class Gate extends Construct {
  readonly edgeFunction: cloudfront.experimental.EdgeFunction;
  /** The config baked into the bundle, as validated. */
  readonly config: EdgeConfig;

  constructor(scope: Construct, id: string, props: GateProps) {
    super(scope, id);
    const config = parseEdgeConfig(props.config);
    this.config = config;

    this.edgeFunction = new cloudfront.experimental.EdgeFunction(this, 'ViewerRequest', {
      stackId: props.stackId,
      description: `Waiting room gate (viewer request) for room ${config.gate.roomId} on ${
        config.gate.mainOrigin ?? 'the origin of each request'
      }`,
      runtime: FUNCTION_RUNTIME,
      // Lambda@Edge runs x86_64 only; viewer-request functions get 128 MB and 5 s at most.
      architecture: lambda.Architecture.X86_64,
      memorySize: 128,
      timeout: Duration.seconds(5),
      // A version that CloudFront has replicated cannot be deleted until the replicas are gone,
      // hours after the distribution stopped using it; a deploy that publishes a new gate would
      // fail to delete the old version. Old versions stay (Lambda keeps them at no cost).
      currentVersionOptions: { removalPolicy: RemovalPolicy.RETAIN },
      handler: VIEWER_REQUEST_HANDLER,
      code: lambda.Code.fromAsset(join(REPO_ROOT, 'edge'), {
        assetHashType: AssetHashType.OUTPUT,
        bundling: {
          // Required by the type, never pulled: local bundling always succeeds or throws.
          image: DockerImage.fromRegistry('local-bundling-only'),
          local: {
            tryBundle(outputDir) {
              buildGateBundle(config, outputDir);
              return true;
            },
          },
        },
      }),
    });

    const edgeStackFunction = this.edgeFunction.lambda;
    acknowledge(
      edgeStackFunction,
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      'Lambda@Edge writes its logs to a log group named /aws/lambda/us-east-1.<function> in every region that serves viewers, which no single log group ARN can name; the AWS managed basic execution policy is the documented way to allow that, and it grants logging only.',
    );
    acknowledge(
      edgeStackFunction,
      'AwsSolutions-L1',
      'Pinned to nodejs22.x like every function of the room: edge/build.ts targets node22, and the code base is built and tested on Node 22 (CI runs Node 22, engines >=22.12), so the runtime matches CI; nodejs24.x goes with moving CI.',
    );
  }
}

/**
 * Runs `tsx edge/build.ts --config <file> --outdir <dir>` and waits for it. Throws with the
 * builder's own message (an invalid config, a bundle over 1 MB) when it fails.
 */
export function buildGateBundle(config: EdgeConfig, outdir: string): void {
  const work = mkdtempSync(join(tmpdir(), 'wr-gate-'));
  try {
    const configFile = join(work, 'gate-config.json');
    writeFileSync(configFile, JSON.stringify(config));
    execFileSync(
      process.execPath,
      [
        '--import',
        'tsx',
        join(REPO_ROOT, 'edge/build.ts'),
        '--config',
        configFile,
        '--outdir',
        outdir,
      ],
      { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`edge/build.ts failed: ${stderr || (error as Error).message}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
