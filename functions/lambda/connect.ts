/** `$connect` entry point. */
import { createObservability } from './observability.ts';
import { createConnectHandler } from './websocket-handlers.ts';

export const handler = createConnectHandler({ observability: createObservability('connect') });
