/**
 * Puts the app together: the waiting room (with its us-east-1 gate stack), the main site's
 * access logs (us-east-1), the GitHub OIDC stack when a repository is given, and the cdk-nag
 * AwsSolutions checks over all of it. `cdk/app.ts` calls this; the infra tests call it too, so
 * they check exactly what `cdk synth` makes.
 */
import { type App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { RoomFunctionName } from './paths.ts';
import { readSettings } from './settings.ts';
import { AccessLogsStack } from './stacks/access-logs-stack.ts';
import { GitHubOidcStack } from './stacks/github-oidc-stack.ts';
import { WaitingRoomStack } from './stacks/waiting-room-stack.ts';

export const STACK_IDS = {
  room: 'WaitingRoom',
  gate: 'WaitingRoomGate',
  accessLogs: 'WaitingRoomAccessLogs',
  githubOidc: 'WaitingRoomGitHubOidc',
} as const;

/** Lambda@Edge functions live in us-east-1, whatever the room's region. */
export const EDGE_REGION = 'us-east-1';

export interface ComposeOptions {
  /** Other Lambda entry points (tests). */
  entries?: Record<RoomFunctionName, string>;
  /** Another built page (tests). */
  clientDist?: string;
}

export interface WaitingRoomApp {
  room: WaitingRoomStack;
  accessLogs: AccessLogsStack;
  githubOidc: GitHubOidcStack | undefined;
}

export function composeApp(app: App, options: ComposeOptions = {}): WaitingRoomApp {
  const settings = readSettings(app.node);
  const account = process.env.CDK_DEFAULT_ACCOUNT;

  const room = new WaitingRoomStack(app, STACK_IDS.room, {
    env: { account, region: settings.region },
    description: 'Waiting room: WebSocket API, functions, line, config, key, main site and gate',
    settings,
    gateStackId: STACK_IDS.gate,
    ...(options.entries ? { entries: options.entries } : {}),
    ...(options.clientDist ? { clientDist: options.clientDist } : {}),
  });

  // CloudFront's log delivery must be made in us-east-1; it needs the room's distribution.
  const accessLogs = new AccessLogsStack(app, STACK_IDS.accessLogs, {
    env: { account, region: EDGE_REGION },
    description: "Waiting room: the main site's CloudFront access logs (no query strings)",
    distribution: room.mainSite.distribution,
    bucket: room.accessLogs,
    sourceName: room.mainSiteLogSource,
  });

  const githubOidc = settings.githubRepository
    ? new GitHubOidcStack(app, STACK_IDS.githubOidc, {
        env: { account, region: settings.region },
        description: 'Waiting room: GitHub Actions OIDC deploy role',
        repository: settings.githubRepository,
        existingProviderArn: settings.githubOidcProviderArn,
        regions: [...new Set([settings.region, EDGE_REGION])],
        bootstrapQualifier: settings.bootstrapQualifier,
      })
    : undefined;

  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { room, accessLogs, githubOidc };
}
