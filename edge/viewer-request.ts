/**
 * Lambda@Edge viewer-request entry point for the main site's CloudFront distribution (handler
 * `viewer-request.handler` in the bundle that `./build.ts` makes). Everything is wired once per
 * container, at module load: the flag and key-set caches and the pass checks then serve every
 * request it gets. With the same-origin config the CDK app bakes, the flag and the key set are
 * read from the distribution itself (`https://<host>/__room/flag.json`,
 * `https://<host>/.well-known/jwks.json`).
 */
import { bakedConfig } from './baked-config.ts';
import { createEdgeGateHandler } from './cloudfront.ts';
import { readFlagDocument } from './flag-document.ts';
import { readJwksDocument } from './jwks-document.ts';

export const handler = createEdgeGateHandler({
  config: bakedConfig,
  readFlag: (url) => readFlagDocument(url),
  readJwks: (url) => readJwksDocument(url),
  // One structured line per failed read (at most one per TTL or retry interval per container and
  // URL), in the CloudWatch log group of the region that served the viewer.
  onFlagError: (error, flagUrl) =>
    warn('flag read failed; keeping the last known value', { flagUrl, error }),
  onJwksError: (error, jwksUrl) =>
    warn('key set read failed; keeping the last key set read (with none yet, no pass verifies)', {
      jwksUrl,
      error,
    }),
});

function warn(message: string, fields: { error: unknown } & Record<string, unknown>): void {
  const { error, ...rest } = fields;
  console.warn(
    JSON.stringify({
      level: 'WARN',
      message,
      ...rest,
      error: error instanceof Error ? error.message : String(error),
    }),
  );
}
