/** `$disconnect` entry point. */
import { systemClock } from '../adapters/local/system-clock.ts';
import { createObservability } from './observability.ts';
import { readSettings } from './settings.ts';
import { createDisconnectHandler } from './websocket-handlers.ts';
import { sessionStoreFrom } from './wiring.ts';

const settings = readSettings(['tableName', 'roomId']);

export const handler = createDisconnectHandler({
  router: { store: sessionStoreFrom(settings), clock: systemClock },
  observability: createObservability('disconnect'),
});
