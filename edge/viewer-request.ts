/**
 * Lambda@Edge viewer-request entry point for the main site's CloudFront distribution (handler
 * `viewer-request.handler` in the bundle that `./build.ts` makes). Everything is wired once per
 * container, at module load: the key set and the flag cache then serve every request it gets.
 */
import { bakedConfig } from './baked-config.ts';
import { createViewerRequestHandler } from './cloudfront.ts';
import { readFlagDocument } from './flag-document.ts';

export const handler = createViewerRequestHandler({
  config: bakedConfig.gate,
  jwks: bakedConfig.jwks,
  readFlag: () => readFlagDocument(bakedConfig.flagUrl),
  onFlagError: (error) => {
    // One structured line per failed read (at most one per TTL per container), in the
    // CloudWatch log group of the region that served the viewer.
    console.warn(
      JSON.stringify({
        level: 'WARN',
        message: 'flag read failed; keeping the last known value',
        flagUrl: bakedConfig.flagUrl,
        error: error instanceof Error ? error.message : String(error),
      }),
    );
  },
});
