/**
 * The other shapes a deploy takes: the very first one (gate facts not known yet, no GitHub
 * repository), and a site that is protected on its own domain in front of an existing origin.
 * Only the templates' shape matters here, so assets are not bundled.
 */
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { Env } from '../../functions/env.ts';
import { type SynthesizedApp, synthApp, testPublicJwk } from './synth.ts';

describe('the first deploy, before the gate facts are known', () => {
  let first: SynthesizedApp;
  let room: Template;

  beforeAll(() => {
    first = synthApp({}, { bundle: false });
    room = Template.fromStack(first.room);
  }, 120_000);

  it('deploys the main site without a gate, and makes no gate stack', () => {
    const distribution = Object.values(room.findResources('AWS::CloudFront::Distribution'))[0];
    expect(distribution?.Properties.DistributionConfig.DefaultCacheBehavior).not.toHaveProperty(
      'LambdaFunctionAssociations',
    );
    expect(first.gate).toBeUndefined();
  });

  it('says so at synth, naming the context values to set', () => {
    const warnings = Annotations.fromStack(first.room).findWarning(
      '/WaitingRoom',
      Match.stringLikeRegexp('gate is NOT attached.*mainSiteDomain and signingPublicJwk'),
    );
    expect(warnings).toHaveLength(1);
  });

  it('prints what the next deploy needs as outputs', () => {
    room.hasOutput('MainSiteDomain', {
      Value: { 'Fn::GetAtt': [Match.stringLikeRegexp('^MainSiteDistribution'), 'DomainName'] },
    });
    room.hasOutput('SigningPublicJwk', {
      Value: { 'Fn::GetAtt': [Match.stringLikeRegexp('^SigningKey'), 'PublicJwk'] },
    });
    room.hasOutput('GateAttached', { Value: 'false' });
  });

  it('makes no OIDC stack without a GitHub repository', () => {
    expect(first.githubOidc).toBeUndefined();
  });

  it('passes the AwsSolutions checks too', () => {
    expect(new AwsSolutionsChecks().validateScope(first.app).violations).toEqual([]);
  });
});

describe('an existing site on its own domain', () => {
  const certificateArn =
    'arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555';
  let room: Template;
  let synthesized: SynthesizedApp;

  beforeAll(() => {
    synthesized = synthApp(
      {
        mainSiteOrigin: 'origin.shop.example.com',
        mainSiteDomain: 'shop.example.com',
        mainSiteCertificateArn: certificateArn,
        signingPublicJwk: JSON.stringify(testPublicJwk()),
      },
      { bundle: false },
    );
    room = Template.fromStack(synthesized.room);
  }, 120_000);

  it('serves the site on its domain with the certificate and TLS 1.2 at least', () => {
    room.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: Match.objectLike({
        Aliases: ['shop.example.com'],
        ViewerCertificate: {
          AcmCertificateArn: certificateArn,
          MinimumProtocolVersion: 'TLSv1.2_2021',
          SslSupportMethod: 'sni-only',
        },
      }),
    });
  });

  it('forwards to the existing origin over HTTPS only, caching nothing, with the gate in front', () => {
    const config = Object.values(room.findResources('AWS::CloudFront::Distribution'))[0]?.Properties
      .DistributionConfig;
    const origin = config.Origins.find(
      (o: { DomainName: unknown }) => o.DomainName === 'origin.shop.example.com',
    );
    expect(origin.CustomOriginConfig).toMatchObject({
      OriginProtocolPolicy: 'https-only',
      OriginSSLProtocols: ['TLSv1.2'],
    });
    expect(config.DefaultCacheBehavior.TargetOriginId).toBe(origin.Id);
    expect(config.DefaultCacheBehavior.LambdaFunctionAssociations).toHaveLength(1);
    room.resourceCountIs('AWS::S3::Bucket', 2);
  });

  it('tells the functions the custom origin (the audience of passes)', () => {
    const functions = Object.values(room.findResources('AWS::Lambda::Function')).filter(
      (f) => f.Properties.Environment?.Variables?.[Env.roomId],
    );
    expect(functions).toHaveLength(4);
    for (const f of functions) {
      expect(f.Properties.Environment.Variables[Env.mainOrigin]).toBe('https://shop.example.com');
    }
  });

  it('passes the AwsSolutions checks with the custom certificate', () => {
    expect(new AwsSolutionsChecks().validateScope(synthesized.app).violations).toEqual([]);
  });
});
