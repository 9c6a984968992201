/** `$connect` entry point. */
import { createObservability } from './observability.ts';
import { readSettings } from './settings.ts';
import { createConnectHandler } from './websocket-handlers.ts';
import { sourceLimitsFrom } from './wiring.ts';

const settings = readSettings([
  'mainOrigin',
  'allowedOrigins',
  'tableName',
  'roomId',
  'maxPlacesPerSource',
  'sourceLimits',
]);
const observability = createObservability('connect');
const limits = sourceLimitsFrom(settings, observability);

export const handler = createConnectHandler({
  observability,
  allowedOrigins: [settings.mainOrigin, ...settings.allowedOrigins],
  ...(limits ? { takeSocket: limits.takeSocket } : {}),
});
