/** Entry point of the `$default` route and the join / resume / status / ping routes. */
import { systemClock } from '../adapters/local/system-clock.ts';
import { createObservability } from './observability.ts';
import { readSettings } from './settings.ts';
import { createMessageHandler } from './websocket-handlers.ts';
import {
  arrivalQueueFrom,
  frameLimiter,
  identityVerifierFrom,
  notifierFrom,
  sessionStoreFrom,
  signerAndProofsFrom,
  sourceLimitsFrom,
  visitorConfigFrom,
  wakerFrom,
} from './wiring.ts';

const settings = readSettings([
  'tableName',
  'roomId',
  'mainOrigin',
  'configPrefix',
  'signingKeyParameter',
  'arrivalQueueUrl',
  'managementEndpoint',
  'passTtlSeconds',
  'processorFunctionName',
  'maxPlacesPerSource',
  'sourceLimits',
  'identityPublicKey',
  'identityJwksUrl',
  'identityRequired',
]);
const observability = createObservability('message');
const store = sessionStoreFrom(settings);
const replies = notifierFrom(settings);
const limits = sourceLimitsFrom(settings, observability);
const identities = identityVerifierFrom(settings, observability);
const { signer, proofs } = signerAndProofsFrom(settings, observability);

export const handler = createMessageHandler({
  router: {
    store,
    queue: arrivalQueueFrom(settings, observability),
    config: visitorConfigFrom(settings, observability),
    signer,
    proofs,
    clock: systemClock,
    mainOrigin: settings.mainOrigin,
    waker: wakerFrom(settings, observability),
    limiter: frameLimiter(),
    connections: replies,
    ...(limits ? { sources: limits.places } : {}),
    ...(identities ? { identities } : {}),
  },
  store,
  replies,
  clock: systemClock,
  observability,
});
