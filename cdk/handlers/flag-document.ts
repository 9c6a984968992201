/**
 * Serves the gate's flag document, `{ "enabled": true|false }`, straight from the SSM parameter
 * `${WR_CONFIG_PREFIX}enabled`, behind the main distribution at `/__room/flag.json` (a Lambda
 * function URL with Origin Access Control, cached by CloudFront for a few seconds).
 *
 * Reading the parameter on demand, instead of copying it into S3 whenever it changes, leaves
 * nothing to keep in sync: `npm run room -- off --aws` is seen by every gate within
 * {@link FLAG_MAX_AGE_SECONDS} plus the gate's own cache TTL, and a deploy can never write an
 * outdated copy.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { GetParametersCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { APIGatewayProxyResultV2 } from 'aws-lambda';

/** How long CloudFront (and any cache on the way) may serve one answer. */
export const FLAG_MAX_AGE_SECONDS = 5;

export interface FlagDocumentHandlerOptions {
  ssm?: Pick<SSMClient, 'send'>;
  /** The room's SSM prefix, e.g. `/waiting-room/config/`. */
  configPrefix: string;
  /** Told about each failed read; default: one structured log line. */
  onError?: (error: unknown, parameter: string) => void;
}

const logger = new Logger({ serviceName: 'waiting-room', persistentKeys: { handler: 'flag' } });

function logFailure(error: unknown, parameter: string): void {
  logger.error('flag read failed', { parameter, error: error as Error });
}

/** Builds the handler; a test hands in another SSM client. */
export function createFlagDocumentHandler(options: FlagDocumentHandlerOptions) {
  const ssm = options.ssm ?? new SSMClient({});
  const name = `${options.configPrefix}enabled`;
  const onError = options.onError ?? logFailure;

  return async (): Promise<APIGatewayProxyResultV2> => {
    try {
      const result = await ssm.send(new GetParametersCommand({ Names: [name] }));
      const value = result.Parameters?.find((p) => p.Name === name)?.Value;
      if (value !== 'true' && value !== 'false') {
        throw new Error(`${name} is ${value === undefined ? 'missing' : `"${value}"`}`);
      }
      return {
        statusCode: 200,
        headers: {
          'content-type': 'application/json',
          'cache-control': `public, max-age=${FLAG_MAX_AGE_SECONDS}`,
        },
        body: JSON.stringify({ enabled: value === 'true' }),
      };
    } catch (error) {
      // The gate keeps its last known value on any non-2xx answer; never cache a failure.
      onError(error, name);
      return {
        statusCode: 503,
        headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
        body: JSON.stringify({ error: 'flag unavailable' }),
      };
    }
  };
}
