/**
 * The other shapes a deploy takes: the very first one (cdk.json's context only, no GitHub
 * repository), and a site that is protected on its own domain in front of an existing origin.
 * Only the templates' shape matters here, so assets are not bundled.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseSettings } from '../../cdk/settings.ts';
import { Env } from '../../functions/env.ts';
import { type SynthesizedApp, synthApp, testPublicJwk } from './synth.ts';

describe('the first deploy, with nothing but the defaults in cdk.json', () => {
  let first: SynthesizedApp;
  let room: Template;

  beforeAll(() => {
    first = synthApp({}, { bundle: false });
    room = Template.fromStack(first.room);
  }, 120_000);

  it('attaches the gate to every viewer request of the main site, and makes its stack', () => {
    // Prepare
    const distribution = Object.values(room.findResources('AWS::CloudFront::Distribution'))[0];

    // Assess
    expect(distribution?.Properties.DistributionConfig.DefaultCacheBehavior).toMatchObject({
      LambdaFunctionAssociations: [
        { EventType: 'viewer-request', IncludeBody: false, LambdaFunctionARN: expect.anything() },
      ],
    });
    expect(first.gate?.region).toBe('us-east-1');
  });

  it('says nothing about the gate or the context: no value has to be carried to a second deploy', () => {
    const warnings = Annotations.fromStack(first.room).findWarning(
      '*',
      Match.stringLikeRegexp('[Gg]ate|context'),
    );

    expect(warnings).toEqual([]);
  });

  it('prints no context value for a next deploy, only where to point a custom domain', () => {
    const outputs = Object.keys(room.findOutputs('*'));
    expect(outputs).not.toContain('SigningPublicJwk');
    expect(outputs).not.toContain('GateAttached');
    room.hasOutput('MainSiteDomain', {
      Value: { 'Fn::GetAtt': [Match.stringLikeRegexp('^MainSiteDistribution'), 'DomainName'] },
    });
  });

  it('makes no OIDC stack without a GitHub repository', () => {
    expect(first.githubOidc).toBeUndefined();
  });

  it('passes the AwsSolutions checks too', () => {
    expect(new AwsSolutionsChecks().validateScope(first.app).violations).toEqual([]);
  });
});

describe('a deploy whose cdk.json still holds the old signingPublicJwk', () => {
  it('ignores it, attaches the gate all the same, and says it can go', () => {
    // Prepare
    const synthesized = synthApp(
      { signingPublicJwk: JSON.stringify(testPublicJwk()) },
      { bundle: false },
    );

    // Act
    const warnings = Annotations.fromStack(synthesized.room).findWarning(
      '/WaitingRoom',
      Match.stringLikeRegexp('signingPublicJwk is no longer used.*Remove it from cdk.json'),
    );

    // Assess
    expect(warnings).toHaveLength(1);
    expect(synthesized.gate).toBeDefined();
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

  it('tells the functions that sign passes the custom origin (the audience of passes)', () => {
    const functions = Object.values(room.findResources('AWS::Lambda::Function')).filter(
      (f) => f.Properties.Environment?.Variables?.[Env.mainOrigin],
    );
    // The message and processor functions sign; $connect checks the pages that connect.
    expect(functions).toHaveLength(3);
    for (const f of functions) {
      expect(f.Properties.Environment.Variables[Env.mainOrigin]).toBe('https://shop.example.com');
    }
  });

  it("lets $connect accept the page on the distribution's own domain too", () => {
    const connect = Object.values(room.findResources('AWS::Lambda::Function')).find(
      (f) => f.Properties.Environment?.Variables?.[Env.allowedOrigins] !== undefined,
    );
    expect(JSON.stringify(connect?.Properties.Environment.Variables[Env.allowedOrigins])).toMatch(
      /https:\/\/.*DomainName/,
    );
  });

  it('passes the AwsSolutions checks with the custom certificate', () => {
    expect(new AwsSolutionsChecks().validateScope(synthesized.app).violations).toEqual([]);
  });
});

describe('an account that already has the GitHub OIDC provider', () => {
  const providerArn = 'arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com';

  it('reuses it when deploy.yml passes the repository variable, and says which variable to set', () => {
    // Act
    const { githubOidc } = synthApp(
      { githubRepository: 'acme/waiting-room', githubOidcProviderArn: providerArn },
      { bundle: false },
    );
    if (!githubOidc) throw new Error('expected the OIDC stack');
    const oidc = Template.fromStack(githubOidc);

    // Assess
    oidc.resourceCountIs('AWS::IAM::OIDCProvider', 0);
    oidc.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: Match.objectLike({
        Statement: [Match.objectLike({ Principal: { Federated: providerArn } })],
      }),
    });
    oidc.hasOutput('ReusedOidcProviderArn', {
      Value: providerArn,
      Description: Match.stringLikeRegexp('AWS_GITHUB_OIDC_PROVIDER_ARN'),
    });
  });

  it('makes its own provider when the variable is unset (deploy.yml then passes an empty value)', () => {
    // Act
    const { githubOidc } = synthApp(
      { githubRepository: 'acme/waiting-room', githubOidcProviderArn: '' },
      { bundle: false },
    );
    if (!githubOidc) throw new Error('expected the OIDC stack');
    const oidc = Template.fromStack(githubOidc);

    // Assess
    oidc.resourceCountIs('AWS::IAM::OIDCProvider', 1);
    expect(Object.keys(oidc.findOutputs('ReusedOidcProviderArn'))).toEqual([]);
  });
});

describe('main-site paths the operator never gates', () => {
  let config: {
    DefaultCacheBehavior: Record<string, unknown>;
    CacheBehaviors: Array<Record<string, unknown>>;
  };

  beforeAll(() => {
    const { room } = synthApp({ ungatedMainSitePaths: '/assets/*, *.js' }, { bundle: false });
    config = Object.values(
      Template.fromStack(room).findResources('AWS::CloudFront::Distribution'),
    )[0]?.Properties.DistributionConfig;
  }, 120_000);

  it('serves them like the site, from the same origin and cache policy, without the gate', () => {
    const ungated = config.CacheBehaviors.filter((b) =>
      ['/assets/*', '*.js'].includes(b.PathPattern as string),
    );
    expect(ungated).toHaveLength(2);
    for (const behavior of ungated) {
      expect(behavior.LambdaFunctionAssociations).toBeUndefined();
      expect(behavior).toMatchObject({
        TargetOriginId: config.DefaultCacheBehavior.TargetOriginId,
        CachePolicyId: config.DefaultCacheBehavior.CachePolicyId,
        ViewerProtocolPolicy: 'redirect-to-https',
      });
    }
    expect(config.DefaultCacheBehavior.LambdaFunctionAssociations).toHaveLength(1);
  });

  it("puts them after the room's own behaviors, so *.js cannot take the waiting room's scripts", () => {
    expect(config.CacheBehaviors.map((b) => b.PathPattern)).toEqual([
      '/waiting-room/*',
      '/.well-known/jwks.json',
      '/__room/flag.json',
      '/assets/*',
      '*.js',
    ]);
  });
});

describe('the ungatedMainSitePaths setting', () => {
  it("is empty by default: every main-site path is gated but the room's own", () => {
    expect(parseSettings({}).ungatedMainSitePaths).toEqual([]);
  });

  it('takes an array (cdk.json), a JSON array or a comma-separated list (-c)', () => {
    expect(parseSettings({ ungatedMainSitePaths: ['/assets/*'] }).ungatedMainSitePaths).toEqual([
      '/assets/*',
    ]);
    expect(
      parseSettings({ ungatedMainSitePaths: '["/assets/*","*.css"]' }).ungatedMainSitePaths,
    ).toEqual(['/assets/*', '*.css']);
    expect(parseSettings({ ungatedMainSitePaths: '/img/*, *.js' }).ungatedMainSitePaths).toEqual([
      '/img/*',
      '*.js',
    ]);
  });

  it.each([
    ['*', /would ungate the whole site/],
    ['/*', /would ungate the whole site/],
    ['/waiting-room/*', /room's own paths/],
    ['/a b/*', /CloudFront path patterns/],
    ['/assets/*,/assets/*', /must not repeat a pattern/],
  ])('refuses %s, naming the key', (value, message) => {
    expect(() => parseSettings({ ungatedMainSitePaths: value })).toThrow(
      /invalid CDK context "ungatedMainSitePaths"/,
    );
    expect(() => parseSettings({ ungatedMainSitePaths: value })).toThrow(message);
  });
});

describe('the allowedOrigins setting', () => {
  it('is empty by default, and takes an array, a JSON array or a comma-separated list', () => {
    expect(parseSettings({}).allowedOrigins).toEqual([]);
    expect(parseSettings({ allowedOrigins: ['https://app.example.com'] }).allowedOrigins).toEqual([
      'https://app.example.com',
    ]);
    expect(
      parseSettings({ allowedOrigins: '["https://a.example","https://b.example:8443"]' })
        .allowedOrigins,
    ).toEqual(['https://a.example', 'https://b.example:8443']);
    expect(
      parseSettings({ allowedOrigins: 'https://A.example/ , https://b.example' }).allowedOrigins,
    ).toEqual(['https://a.example', 'https://b.example']);
  });

  it('refuses what is not an origin, naming the key', () => {
    expect(() => parseSettings({ allowedOrigins: 'https://a.example/path' })).toThrow(
      /invalid CDK context "allowedOrigins".*not an origin/,
    );
  });

  it('reaches $connect, and only it', () => {
    const { room } = synthApp({ allowedOrigins: 'https://app.example.com' }, { bundle: false });
    const holders = Object.values(
      Template.fromStack(room).findResources('AWS::Lambda::Function'),
    ).filter((f) => f.Properties.Environment?.Variables?.[Env.allowedOrigins] !== undefined);
    expect(holders).toHaveLength(1);
    expect(holders[0]?.Properties.Environment.Variables[Env.allowedOrigins]).toBe(
      'https://app.example.com',
    );
  });
});

describe('identity tokens (one place per person)', () => {
  const spki = (key: KeyObject) => key.export({ type: 'spki', format: 'pem' }) as string;
  const ecKey = spki(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey);
  const rsaKey = spki(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey);
  const JWKS_URL = 'https://shop.example.com/.well-known/jwks.json';

  /** The room functions holding any identity variable, by logical id. */
  function identityHolders(context: Record<string, unknown>) {
    const { room } = synthApp(context, { bundle: false });
    const functions = Template.fromStack(room).findResources('AWS::Lambda::Function');
    return Object.entries(functions)
      .map(([id, f]) => {
        const variables: Record<string, string> = f.Properties.Environment?.Variables ?? {};
        const held = Object.fromEntries(
          [Env.identityPublicKey, Env.identityJwksUrl, Env.identityRequired]
            .filter((name) => variables[name] !== undefined)
            .map((name) => [name, variables[name]]),
        );
        return [id, held] as const;
      })
      .filter(([, held]) => Object.keys(held).length > 0);
  }

  it('are off by default: no key, no key set, not required, and no function told of them', () => {
    const settings = parseSettings({});
    expect(settings.identityPublicKey).toBeUndefined();
    expect(settings.identityJwksUrl).toBeUndefined();
    expect(settings.identityRequired).toBe(false);
    expect(identityHolders({})).toEqual([]);
  });

  it('take an EC P-256 or RSA public key as PEM text, line breaks written as \\n or not', () => {
    expect(parseSettings({ identityPublicKey: ecKey }).identityPublicKey).toBe(ecKey.trim());
    expect(parseSettings({ identityPublicKey: rsaKey }).identityPublicKey).toBe(rsaKey.trim());
    expect(
      parseSettings({ identityPublicKey: ecKey.replaceAll('\n', '\\n') }).identityPublicKey,
    ).toBe(ecKey.trim());
  });

  it('reach the message function, and only it, when set', () => {
    const holders = identityHolders({ identityPublicKey: ecKey, identityRequired: true });
    expect(holders).toHaveLength(1);
    expect(holders[0]?.[0]).toMatch(/^Message/);
    expect(holders[0]?.[1]).toEqual({
      [Env.identityPublicKey]: ecKey.trim(),
      [Env.identityRequired]: 'true',
    });
    expect(identityHolders({ identityJwksUrl: JWKS_URL })).toEqual([
      [expect.stringMatching(/^Message/), { [Env.identityJwksUrl]: JWKS_URL }],
    ]);
  });

  it.each([
    ['identityPublicKey', 'not a key', 'must be a PEM public key'],
    [
      'identityPublicKey',
      generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
        type: 'pkcs8',
        format: 'pem',
      }),
      'must be a PEM public key',
    ],
    [
      'identityPublicKey',
      spki(generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey),
      '2048 bits or more',
    ],
    [
      'identityPublicKey',
      spki(generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey),
      'EC P-256 or an RSA',
    ],
    ['identityJwksUrl', 'http://shop.example.com/.well-known/jwks.json', 'https URL'],
    ['identityJwksUrl', 'shop.example.com/jwks.json', 'https URL'],
    ['identityRequired', 'maybe', 'but received "maybe"'],
  ])('refuse a bad %s, naming the key (%#)', (key, value, reason) => {
    expect(() => parseSettings({ [key]: value })).toThrow(
      new RegExp(`invalid CDK context "${key}".*${reason}`),
    );
  });

  it('refuse a key and a key set both, and tokens required with neither, naming the key', () => {
    expect(() => parseSettings({ identityPublicKey: ecKey, identityJwksUrl: JWKS_URL })).toThrow(
      /invalid CDK context "identityJwksUrl": set either it or identityPublicKey, not both/,
    );
    expect(() => parseSettings({ identityRequired: 'true' })).toThrow(
      /invalid CDK context "identityRequired": true needs identityPublicKey or identityJwksUrl/,
    );
  });
});

describe('the limits per source address', () => {
  it('default to 100 places and on, and refuse what is not a count or on/off, naming the key', () => {
    expect(parseSettings({})).toMatchObject({ maxPlacesPerSource: 100, sourceLimits: true });
    expect(parseSettings({ maxPlacesPerSource: '20', sourceLimits: 'off' })).toMatchObject({
      maxPlacesPerSource: 20,
      sourceLimits: false,
    });
    expect(() => parseSettings({ maxPlacesPerSource: '0' })).toThrow(
      /invalid CDK context "maxPlacesPerSource"/,
    );
    expect(() => parseSettings({ sourceLimits: 'maybe' })).toThrow(
      /invalid CDK context "sourceLimits"/,
    );
  });

  it('reach $connect, the message function and the processor as set', () => {
    const { room } = synthApp({ maxPlacesPerSource: 20, sourceLimits: false }, { bundle: false });
    const holders = Object.values(
      Template.fromStack(room).findResources('AWS::Lambda::Function'),
    ).filter((f) => f.Properties.Environment?.Variables?.[Env.sourceLimits] !== undefined);
    expect(holders).toHaveLength(3);
    for (const f of holders) {
      expect(f.Properties.Environment.Variables).toMatchObject({
        [Env.sourceLimits]: 'off',
        [Env.maxPlacesPerSource]: '20',
      });
    }
  });
});

describe("the organiser's branding of the waiting-room page", () => {
  const LOGO = 'data:image/svg+xml;base64,PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciLz4=';

  it('is empty by default: a generic page in the visitor language', () => {
    expect(parseSettings({})).toMatchObject({
      roomName: '',
      eventText: '',
      eventLogo: '',
      brandColor: '',
    });
  });

  it('refuses a colour that is not hex, a logo on another origin and HTML in the text, naming the key', () => {
    expect(() => parseSettings({ brandColor: 'teal' })).toThrow(
      'invalid CDK context "brandColor": must be a hex colour',
    );
    expect(() => parseSettings({ eventLogo: 'https://cdn.example.com/logo.png' })).toThrow(
      /invalid CDK context "eventLogo": must be a path on the waiting room's own origin/,
    );
    expect(() => parseSettings({ eventText: 'Sale <b>now</b>' })).toThrow(
      'invalid CDK context "eventText": must be plain text (no HTML tags)',
    );
    expect(() => parseSettings({ eventText: 'x'.repeat(281) })).toThrow(
      'invalid CDK context "eventText": must be at most 280 characters',
    );
  });

  it('writes the settings into config.json next to the page, the colour as #rrggbb', () => {
    // Prepare
    const branded = synthApp(
      {
        roomName: 'Aurora Live',
        eventText: 'Tickets go on sale at 10:00.',
        eventLogo: LOGO,
        brandColor: '#0B7',
      },
      { bundle: false },
    );

    // Act
    const outdir = branded.app.outdir;
    const configs = readdirSync(outdir)
      .filter((entry) => entry.startsWith('asset.'))
      .map((entry) => join(outdir, entry, 'config.json'))
      .filter((file) => existsSync(file))
      .map((file) => JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>);

    // Assess
    expect(configs).toHaveLength(1);
    expect(configs[0]).toMatchObject({
      roomName: 'Aurora Live',
      eventText: 'Tickets go on sale at 10:00.',
      eventLogo: LOGO,
      brandColor: '#00bb77',
    });
  }, 120_000);

  it("lets the page show an inline logo: its CSP allows images from 'self' and data: only", () => {
    // Prepare
    const room = Template.fromStack(synthApp({}, { bundle: false }).room);

    // Act
    const policies = Object.values(room.findResources('AWS::CloudFront::ResponseHeadersPolicy'));
    const csp = policies
      .map(
        (p) =>
          p.Properties.ResponseHeadersPolicyConfig.SecurityHeadersConfig?.ContentSecurityPolicy
            ?.ContentSecurityPolicy as unknown,
      )
      .map((value) => JSON.stringify(value))
      .find((value) => value.includes('script-src'));

    // Assess
    expect(csp).toContain("img-src 'self' data:;");
  }, 120_000);
});
