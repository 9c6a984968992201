/**
 * The key rotation function's handler: rotates the key ring in SSM and publishes the JWKS to
 * the room's bucket (`rotateKeyRingInSsm`: the JWKS first, then the ring). Invoked by
 * `npm run room -- rotate-key --aws [--force]` with `{"force": boolean}`; answers the
 * {@link KeyRotationResult} (a refusal is an answer, not an error).
 */
import type { SSMClient } from '@aws-sdk/client-ssm';
import type { JSONWebKeySet } from 'jose';
import * as v from 'valibot';
import { rotateKeyRingInSsm } from '../adapters/aws/ssm-signing-key.ts';
import type { KeyRotationResult } from '../core/key-ring.ts';

const EventSchema = v.object({ force: v.optional(v.boolean()) });

export interface KeyRotationHandlerOptions {
  parameterName: string;
  keepSeconds: number;
  publish: (jwks: JSONWebKeySet) => Promise<void>;
  ssm?: Pick<SSMClient, 'send'>;
  now?: () => number;
}

export function createKeyRotationHandler(options: KeyRotationHandlerOptions) {
  return async (event: unknown): Promise<KeyRotationResult> => {
    const parsed = v.safeParse(EventSchema, event ?? {});
    if (!parsed.success) throw new Error('the key rotation takes {"force"?: boolean}');
    return rotateKeyRingInSsm({
      name: options.parameterName,
      keepSeconds: options.keepSeconds,
      publish: options.publish,
      force: parsed.output.force === true,
      ...(options.ssm ? { client: options.ssm } : {}),
      ...(options.now ? { now: options.now } : {}),
    });
  };
}
