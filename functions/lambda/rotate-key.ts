/** Entry point of the key rotation function (`npm run room -- rotate-key --aws`). */
import * as v from 'valibot';
import { createS3JwksPublisher } from '../adapters/aws/s3-jwks.ts';
import { retiredKeepSeconds } from '../core/key-ring.ts';
import { TICKET_TTL_SECONDS } from '../core/tokens.ts';
import { Env } from '../env.ts';
import { createKeyRotationHandler } from './key-rotation.ts';
import { readSettings, SettingsError } from './settings.ts';

const settings = readSettings(['signingKeyParameter', 'passTtlSeconds']);
const bucket = v.safeParse(
  v.pipe(v.string(), v.trim(), v.minLength(3)),
  process.env[Env.jwksBucket],
);
if (!bucket.success) throw new SettingsError(Env.jwksBucket, 'must name the room site bucket');

export const handler = createKeyRotationHandler({
  parameterName: settings.signingKeyParameter,
  keepSeconds: retiredKeepSeconds({
    passTtlSeconds: settings.passTtlSeconds,
    ticketTtlSeconds: TICKET_TTL_SECONDS,
  }),
  publish: createS3JwksPublisher({ bucket: bucket.output }),
});
