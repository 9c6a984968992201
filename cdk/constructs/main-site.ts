/**
 * The main site's CloudFront distribution: the site itself (an existing origin, or a small demo
 * site in S3) behind the gate, which runs on every viewer request of the default behavior, plus
 * the waiting room's own paths ({@link ./room-site.ts}), which never run the gate.
 *
 * One distribution, so the page, the JWKS and the flag share the main site's origin: the gate
 * needs one host name and no other, an origin server finds the JWKS on its own domain, and the
 * pass cookie, the return path and the page all stay on one origin (as the local runtime does).
 */
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import type { IVersion } from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import { Construct } from 'constructs';
import { acknowledge } from './nag.ts';

export interface MainSiteProps {
  /** Domain name of an existing site to protect; undefined: the S3 demo site. */
  originDomain: string | undefined;
  /** A custom host name and its ACM certificate (us-east-1); undefined: the distribution's own. */
  customDomain: { name: string; certificateArn: string } | undefined;
  /** The gate's published version, run on every viewer request of the default behavior. */
  gate: IVersion;
  /** Behaviors for the waiting room's own paths. */
  roomBehaviors: Record<string, cloudfront.BehaviorOptions>;
  /**
   * Path patterns of the main site that never run the gate: behaviors like the default one,
   * without the edge function. They come after the room's behaviors, which CloudFront matches
   * first, so that a pattern such as `*.js` cannot take the waiting room's own scripts.
   */
  ungatedPaths: readonly string[];
  /** Where the demo site's S3 access logs go (CloudFront's: the access-logs stack). */
  accessLogs: s3.IBucket;
}

export class MainSite extends Construct {
  readonly distribution: cloudfront.Distribution;
  /** The demo site's bucket, when there is no existing site to protect. */
  demoBucket: s3.Bucket | undefined;

  constructor(scope: Construct, id: string, props: MainSiteProps) {
    super(scope, id);

    const site = props.originDomain
      ? existingSite(props.originDomain)
      : this.demoSite(props.accessLogs);

    const siteBehavior: cloudfront.BehaviorOptions = {
      ...site,
      viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
      compress: true,
    };
    // Lambda@Edge runs in the regional edge cache's region and shares the account's Lambda
    // concurrency there (1,000 by default): paths the operator lists skip it (docs/DEPLOY.md).
    const ungated = Object.fromEntries(props.ungatedPaths.map((path) => [path, siteBehavior]));
    this.distribution = new cloudfront.Distribution(this, 'Distribution', {
      comment: 'Main site behind the waiting room gate',
      defaultBehavior: {
        ...siteBehavior,
        edgeLambdas: [
          {
            functionVersion: props.gate,
            eventType: cloudfront.LambdaEdgeEventType.VIEWER_REQUEST,
            includeBody: false,
          },
        ],
      },
      // In this order: CloudFront takes the first behavior whose pattern matches.
      additionalBehaviors: { ...props.roomBehaviors, ...ungated },
      ...(props.originDomain ? {} : { defaultRootObject: 'index.html' }),
      ...(props.customDomain
        ? {
            domainNames: [props.customDomain.name],
            certificate: acm.Certificate.fromCertificateArn(
              this,
              'Certificate',
              props.customDomain.certificateArn,
            ),
            minimumProtocolVersion: cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
          }
        : {}),
      httpVersion: cloudfront.HttpVersion.HTTP2_AND_3,
      // No standard logging (legacy): it writes every query string, and a pass arrives in one.
      // The access-logs stack delivers the logs (v2) without it (cloudfront-access-logs.ts).
    });

    if (!props.customDomain) {
      acknowledge(
        this.distribution,
        'AwsSolutions-CFR4',
        'No custom domain yet: with the default *.cloudfront.net certificate CloudFront fixes the viewer TLS policy itself. Set mainSiteDomain and mainSiteCertificateArn to serve the site on its own name with TLSv1.2_2021 as the minimum.',
      );
    }
    acknowledge(
      this.distribution,
      'AwsSolutions-CFR3',
      'Access logs are on, as CloudFront standard logging (v2) from the WaitingRoomAccessLogs stack into the access-log bucket, which cdk-nag cannot see on the distribution; the legacy logging it looks for is off because it cannot leave out the query string, where a pass arrives once (wr_pass).',
    );
    acknowledge(
      this.distribution,
      'AwsSolutions-CFR1',
      'A waiting room is for everyone who can reach the site; restricting countries is a business decision for the protected site, not a default of the room.',
    );
    acknowledge(
      this.distribution,
      'AwsSolutions-CFR2',
      'No WAF web ACL by default: a web ACL is per-account policy (and cost) that the protected site chooses; the gate already refuses unpassed non-GET requests and the WebSocket stage is throttled. Attach one with webAclId when the site has one.',
    );
  }

  /** A tiny site in a private bucket read through Origin Access Control. */
  private demoSite(
    accessLogs: s3.IBucket,
  ): Pick<cloudfront.BehaviorOptions, 'origin' | 'cachePolicy'> {
    const bucket = new s3.Bucket(this, 'DemoSite', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: accessLogs,
      serverAccessLogsPrefix: 's3/demo-site/',
    });
    this.demoBucket = bucket;
    new s3deploy.BucketDeployment(this, 'DemoPages', {
      destinationBucket: bucket,
      // Extension-less keys, so that /tickets?show=evening shows that the visitor came back to
      // the very page (and query) first asked for.
      sources: [
        s3deploy.Source.data('index.html', demoPage('Aurora Live: tickets on sale now', DEMO_HOME)),
        s3deploy.Source.data('tickets', demoPage('Choose your seats', DEMO_TICKETS)),
      ],
      contentType: 'text/html; charset=utf-8',
      cacheControl: [s3deploy.CacheControl.fromString('public, max-age=60')],
    });
    return {
      origin: origins.S3BucketOrigin.withOriginAccessControl(bucket),
      cachePolicy: cloudfront.CachePolicy.CACHING_OPTIMIZED,
    };
  }
}

/** An existing site: HTTPS to its origin, nothing cached, everything the viewer sent forwarded. */
function existingSite(
  domain: string,
): Pick<
  cloudfront.BehaviorOptions,
  'origin' | 'cachePolicy' | 'originRequestPolicy' | 'allowedMethods'
> {
  return {
    origin: new origins.HttpOrigin(domain, {
      protocolPolicy: cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
      originSslProtocols: [cloudfront.OriginSslPolicy.TLS_V1_2],
    }),
    // A starting point that is right for any site; tune caching for the site once it runs.
    cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
    originRequestPolicy: cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
    allowedMethods: cloudfront.AllowedMethods.ALLOW_ALL,
  };
}

const DEMO_HOME = `<p>The Aurora world tour comes to town. Tickets are on sale now.</p>
<p><a href="/tickets?show=evening">Buy tickets for the evening show</a></p>`;
const DEMO_TICKETS = `<p>Pick a section. Seats are held for you for 10 minutes.</p>
<p><a href="/">Back to the tour</a></p>`;

function demoPage(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>${title}</title></head>
<body style="font:16px/1.5 system-ui,sans-serif;max-width:720px;margin:32px auto;padding:0 20px">
<h1>${title}</h1>${body}
<p style="color:#4a5563;font-size:14px">Demo main site behind the waiting room.</p></body></html>
`;
}
