/** `$connect` entry point. */
import { createObservability } from './observability.ts';
import { readSettings } from './settings.ts';
import { createConnectHandler } from './websocket-handlers.ts';

const settings = readSettings(['mainOrigin', 'allowedOrigins']);

export const handler = createConnectHandler({
  observability: createObservability('connect'),
  allowedOrigins: [settings.mainOrigin, ...settings.allowedOrigins],
});
