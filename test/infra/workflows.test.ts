/**
 * The GitHub Actions workflows: valid for GitHub (schema-checked by action-validator), and
 * deploying only with OIDC credentials, one deploy at a time, after the same checks as CI.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { validateWorkflow } from '@action-validator/core';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../cdk/paths.ts';
import { OIDC_PROVIDER_VARIABLE } from '../../cdk/stacks/github-oidc-stack.ts';

const workflow = (name: string) => readFileSync(join(REPO_ROOT, '.github/workflows', name), 'utf8');

describe.each(['ci.yml', 'deploy.yml'])('%s', (name) => {
  it('is a valid GitHub Actions workflow', () => {
    expect(validateWorkflow(workflow(name)).errors).toEqual([]);
  });

  it('stores no AWS keys', () => {
    expect(workflow(name)).not.toMatch(/aws-access-key-id|aws-secret-access-key|secrets\.AWS_/i);
  });
});

describe('ci.yml', () => {
  const ci = workflow('ci.yml');

  it('runs on pull requests, on pushes, and when deploy.yml calls it', () => {
    expect(ci).toMatch(/^on:\n {2}push:[\s\S]*\n {2}pull_request:\n {2}workflow_call:\n/m);
  });

  it('installs with npm ci on Node 22, then lints, tests and synthesizes', () => {
    const steps = [
      'npm ci',
      'apt-get install -y --no-install-recommends chromium',
      'npm run lint',
      'npm test',
      'npx cdk synth',
    ];
    const at = steps.map((step) => ci.indexOf(step));
    expect(at.every((i) => i >= 0)).toBe(true);
    expect([...at].sort((a, b) => a - b)).toEqual(at);
    expect(ci).toMatch(/node-version: 22\n\s+cache: npm/);
    expect(ci).toMatch(/^ {4}container: node:22-bookworm$/m);
  });
});

describe('deploy.yml', () => {
  const deploy = workflow('deploy.yml');

  it('deploys pushes to main only, after the CI checks', () => {
    expect(deploy).toMatch(/^on:\n {2}push:\n {4}branches: \[main\]\n\n/m);
    expect(deploy).toContain('uses: ./.github/workflows/ci.yml');
    expect(deploy).toMatch(/deploy:\n[\s\S]*needs: checks/);
  });

  it('assumes the deploy role through OIDC with an id-token for that job only', () => {
    expect(deploy).toMatch(/^permissions:\n {2}contents: read\n/m);
    expect(deploy).toMatch(/ {4}permissions:\n {6}id-token: write\n {6}contents: read\n/);
    expect(deploy).toContain('uses: aws-actions/configure-aws-credentials@');
    expect(deploy).toMatch(/role-to-assume: \$\{\{ vars\.AWS_DEPLOY_ROLE_ARN \}\}\n/);
    expect(deploy).not.toMatch(/^\s+environment:/m);
  });

  it('never runs two deploys at once, and never cancels one in progress', () => {
    expect(deploy).toMatch(
      /^concurrency:\n(?: +#.*\n)* {2}group: deploy-waiting-room\n {2}cancel-in-progress: false\n/m,
    );
  });

  it('deploys with Node 22, the version CI tests on', () => {
    expect(deploy).toMatch(/node-version: 22\n\s+cache: npm/);
  });

  it('deploys every stack without prompting', () => {
    expect(deploy).toContain('npx cdk deploy --all --require-approval never');
  });

  it('deploys the OIDC stack with the provider ARN from a repository variable, so an account that had a provider keeps reusing it', () => {
    // Prepare
    const step = deploy.slice(deploy.indexOf('- name: Deploy every stack'));

    // Act
    const envName = new RegExp(
      `\\n {10}(\\w+): \\$\\{\\{ vars\\.${OIDC_PROVIDER_VARIABLE} \\}\\}\\n`,
    ).exec(step)?.[1];

    // Assess
    expect(envName).toBeDefined();
    expect(step).toContain(`-c "githubOidcProviderArn=$${envName}"`);
    expect(step).toContain('-c "githubRepository=$GITHUB_REPOSITORY"');
    expect(step.slice(step.indexOf('run:'))).not.toContain('${{');
  });
});
