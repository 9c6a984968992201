/**
 * How the AWS adapters tell errors apart. SDK v3 errors carry the service's error name and the
 * HTTP status in `$metadata`; both are checked, so a stand-in client in a test can throw a
 * plain object of the same shape.
 */

interface ServiceErrorShape {
  name?: unknown;
  $metadata?: { httpStatusCode?: unknown };
}

/** The error's service name (`GoneException`, ...), or undefined. */
export function errorName(error: unknown): string | undefined {
  const name = (error as ServiceErrorShape | null)?.name;
  return typeof name === 'string' ? name : undefined;
}

/** The HTTP status of a failed AWS call, or undefined. */
export function httpStatusOf(error: unknown): number | undefined {
  const status = (error as ServiceErrorShape | null)?.$metadata?.httpStatusCode;
  return typeof status === 'number' ? status : undefined;
}

/** A DynamoDB write refused by its condition: the expected "already done" or "not yours". */
export function isConditionFailed(error: unknown): boolean {
  return errorName(error) === 'ConditionalCheckFailedException';
}

const THROTTLING_NAMES = new Set([
  'ThrottlingException',
  'Throttling',
  'TooManyRequestsException',
  'LimitExceededException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
]);

/** A call refused because of a rate limit: worth retrying after a pause. */
export function isThrottling(error: unknown): boolean {
  const name = errorName(error);
  return (name !== undefined && THROTTLING_NAMES.has(name)) || httpStatusOf(error) === 429;
}

/** Full-jitter exponential backoff: a random pause in [0, min(cap, base * 2^attempt)). */
export function backoffDelay(
  attempt: number,
  baseMs: number,
  capMs: number,
  random: () => number = Math.random,
): number {
  return Math.floor(random() * Math.min(capMs, baseMs * 2 ** attempt));
}

export const realSleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));
