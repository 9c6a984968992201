/**
 * The waiting room's public documents, served on the main site's own origin by the main
 * distribution (see {@link ./main-site.ts}), next to the main site and never through the gate:
 *
 * - `/waiting-room/` the page (client/dist) and its `config.json`,
 * - `/.well-known/jwks.json` the room's public keys, for origins that verify passes themselves,
 * - `/__room/flag.json` the on/off flag the gate reads, answered live from SSM by a small
 *   function (cached by CloudFront for a few seconds). Reading SSM on demand leaves nothing to
 *   keep in sync with the `enabled` parameter, unlike a copy in S3 rewritten on every change.
 *
 * The page and the JWKS are in a private S3 bucket read through Origin Access Control; the flag
 * function's URL is also behind Origin Access Control, so nothing here is reachable but through
 * CloudFront.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Duration } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import { Construct } from 'constructs';
// The page's and the data documents' Content-Security-Policy are the local runtime's own, so
// that the two runtimes cannot drift; both modules are plain functions and constants.
import { DATA_SECURITY_POLICY } from '../../local/http-util.ts';
import { type PageConfig, pageSecurityPolicy } from '../../local/static-page.ts';
import { GLUE_ENTRIES } from '../paths.ts';
import { ROOM_PATHS } from '../settings.ts';
import type { RoomConfigParameters } from './room-config.ts';
import { WaitingRoomFunction } from './waiting-room-function.ts';

export interface RoomSiteProps {
  /** The built page (`npm run build` writes client/dist). */
  clientDist: string;
  /** The room config parameters; the flag function reads `enabled`. */
  config: RoomConfigParameters;
  /** Where S3 server access logs go. */
  accessLogs: s3.IBucket;
}

export interface PublishProps {
  /** The distribution that serves the documents (invalidated on each deploy). */
  distribution: cloudfront.IDistribution;
  /** What the page reads from `config.json` next to itself (client/src/lib/config.ts). */
  page: PageConfig;
}

export interface RoomBehaviorsProps {
  /**
   * The WebSocket API's origin, `wss://{apiId}.execute-api.{region}.amazonaws.com` (a deploy-time
   * value): the one socket the page's Content-Security-Policy lets it open besides its own
   * origin. A response headers policy holds literal strings, which CloudFormation resolves at
   * deploy; the API does not depend on the distribution, so this makes no cycle.
   */
  webSocketOrigin: string;
}

const PAGE_PREFIX = ROOM_PATHS.page.slice(1);

/** HSTS for a year; no includeSubDomains or preload: the main site's domain is not ours. */
const HSTS_MAX_AGE = Duration.days(365);

/**
 * The headers the local runtime sends with the room's responses (local/http-util.ts,
 * local/static-page.ts), with `csp` as the Content-Security-Policy, plus HSTS (the
 * distribution only answers https). Every header overrides one the origin may send.
 */
function roomHeadersPolicy(
  scope: Construct,
  id: string,
  comment: string,
  csp: string,
): cloudfront.ResponseHeadersPolicy {
  return new cloudfront.ResponseHeadersPolicy(scope, id, {
    comment,
    securityHeadersBehavior: {
      contentSecurityPolicy: { contentSecurityPolicy: csp, override: true },
      strictTransportSecurity: { accessControlMaxAge: HSTS_MAX_AGE, override: true },
      contentTypeOptions: { override: true },
      referrerPolicy: {
        referrerPolicy: cloudfront.HeadersReferrerPolicy.NO_REFERRER,
        override: true,
      },
      frameOptions: { frameOption: cloudfront.HeadersFrameOption.DENY, override: true },
    },
  });
}

export class RoomSite extends Construct {
  readonly bucket: s3.Bucket;
  readonly flagFunction: WaitingRoomFunction;
  private readonly clientDist: string;
  private readonly bucketOrigin: cloudfront.IOrigin;
  private readonly flagOrigin: cloudfront.IOrigin;

  constructor(scope: Construct, id: string, props: RoomSiteProps) {
    super(scope, id);
    if (!existsSync(join(props.clientDist, 'index.html'))) {
      throw new Error(
        `${props.clientDist}/index.html is missing: build the waiting-room page first (npm run build)`,
      );
    }
    this.clientDist = props.clientDist;

    this.bucket = new s3.Bucket(this, 'Bucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: props.accessLogs,
      serverAccessLogsPrefix: 's3/room-site/',
    });
    this.bucketOrigin = origins.S3BucketOrigin.withOriginAccessControl(this.bucket);

    this.flagFunction = new WaitingRoomFunction(this, 'Flag', {
      entry: GLUE_ENTRIES.flagDocument,
      description: 'Waiting room: the gate flag document, read live from SSM',
      timeout: Duration.seconds(5),
      memorySize: 256,
    }).bindConfig(props.config);
    const flagUrl = this.flagFunction.lambda.addFunctionUrl({
      authType: lambda.FunctionUrlAuthType.AWS_IAM,
    });
    this.flagOrigin = origins.FunctionUrlOrigin.withOriginAccessControl(flagUrl);
  }

  /**
   * The main distribution's behaviors for the room's paths; none of them runs the gate. Each
   * answers with the security headers the local runtime sends on the same path: the page's
   * Content-Security-Policy (its own scripts and styles, its own socket) on the page, and a
   * policy that lets nothing run on the data documents.
   */
  behaviors(props: RoomBehaviorsProps): Record<string, cloudfront.BehaviorOptions> {
    const pageIndex = new cloudfront.Function(this, 'PageIndex', {
      comment: 'Serves index.html for directory paths of the waiting-room page',
      runtime: cloudfront.FunctionRuntime.JS_2_0,
      code: cloudfront.FunctionCode.fromInline(
        "function handler(event) { var r = event.request; if (r.uri.endsWith('/')) { r.uri += 'index.html'; } return r; }",
      ),
    });
    const flagCache = new cloudfront.CachePolicy(this, 'FlagCache', {
      comment: 'Waiting room flag: a few seconds, one entry',
      minTtl: Duration.seconds(0),
      defaultTtl: Duration.seconds(5),
      maxTtl: Duration.seconds(5),
    });
    const pageHeaders = roomHeadersPolicy(
      this,
      'PageHeaders',
      'Waiting room page: its own CSP (scripts, styles, its WebSocket), HSTS, nosniff, no referrer, no framing',
      pageSecurityPolicy(props.webSocketOrigin),
    );
    const dataHeaders = roomHeadersPolicy(
      this,
      'DataHeaders',
      'Waiting room documents (JWKS, flag): nothing may run, HSTS, nosniff, no referrer, no framing',
      DATA_SECURITY_POLICY,
    );
    const common = {
      viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
      allowedMethods: cloudfront.AllowedMethods.ALLOW_GET_HEAD,
      compress: true,
    };
    return {
      [`${ROOM_PATHS.page}*`]: {
        ...common,
        origin: this.bucketOrigin,
        cachePolicy: cloudfront.CachePolicy.CACHING_OPTIMIZED,
        responseHeadersPolicy: pageHeaders,
        functionAssociations: [
          { function: pageIndex, eventType: cloudfront.FunctionEventType.VIEWER_REQUEST },
        ],
      },
      [ROOM_PATHS.jwks]: {
        ...common,
        origin: this.bucketOrigin,
        cachePolicy: cloudfront.CachePolicy.CACHING_OPTIMIZED,
        responseHeadersPolicy: dataHeaders,
      },
      // The exact path, so that one cache entry per edge location is all that can reach the
      // function (no query string, header or cookie is in the cache key either).
      [ROOM_PATHS.flag]: {
        ...common,
        origin: this.flagOrigin,
        cachePolicy: flagCache,
        responseHeadersPolicy: dataHeaders,
      },
    };
  }

  /**
   * Uploads the page with its `config.json`, then invalidates it on the distribution. The JWKS
   * is not deployed from here: the signing key's custom resource and the key rotation function
   * write it from the key ring in SSM (cdk/constructs/signing-key.ts), so that a deploy never
   * puts back a JWKS older than a rotation's. Hashed assets go first and are never pruned, so a page loaded just before a
   * deploy can still fetch its scripts.
   */
  publish(props: PublishProps): void {
    const assets = new s3deploy.BucketDeployment(this, 'PageAssets', {
      destinationBucket: this.bucket,
      destinationKeyPrefix: `${PAGE_PREFIX}assets/`,
      sources: [s3deploy.Source.asset(join(this.clientDist, 'assets'))],
      cacheControl: [s3deploy.CacheControl.fromString('public, max-age=31536000, immutable')],
      prune: false,
    });
    const page = new s3deploy.BucketDeployment(this, 'Page', {
      destinationBucket: this.bucket,
      destinationKeyPrefix: PAGE_PREFIX,
      sources: [
        s3deploy.Source.asset(this.clientDist, { exclude: ['assets', 'assets/**'] }),
        s3deploy.Source.jsonData('config.json', props.page),
      ],
      cacheControl: [s3deploy.CacheControl.fromString('public, max-age=0, must-revalidate')],
      prune: false,
      distribution: props.distribution,
      distributionPaths: [`${ROOM_PATHS.page}*`],
    });
    page.node.addDependency(assets);
  }
}
